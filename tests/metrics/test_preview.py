"""/preview of a live ingest, opt-in on its own --preview-addr: the JPEG has the ring geometry
(read from its SOF header; pixel decoding is checked with cv::imdecode in preview_test.cpp), the
HTML page refreshes it, /preview.json carries the newest boxes of each worker from
--preview-events; the metrics port never serves a picture, and a request whose Host header is
not this machine's (DNS rebinding) gets 403."""
import http.client
import json
import os
import struct
import subprocess

from metrics_helpers import free_port, http_get, wait_for

VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"


def jpeg_size(data):
    """(width, height, components) from the first SOFn marker of a JPEG."""
    assert data[:2] == b"\xff\xd8", "not a JPEG (no SOI marker)"
    i = 2
    while i < len(data):
        assert data[i] == 0xFF, f"bad marker at {i}"
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height, data[i + 9]
        i += 2 + length
    raise AssertionError("no SOF marker")


def test_preview_serves_newest_frame_and_boxes(framering_bin, ring_name, procs, tmp_path):
    port = free_port()
    metrics_port = free_port()
    events = tmp_path / "events.jsonl"
    events.write_text(
        json.dumps({"ring": ring_name, "worker": "people", "kind": "people", "frame_no": 1,
                    "boxes": [[10, 20, 30, 60]], "scores": [0.9]}) + "\n" +
        json.dumps({"ring": "elsewhere", "worker": "people", "kind": "people", "frame_no": 2,
                    "boxes": [[1, 1, 1, 1]]}) + "\n")
    procs.start([framering_bin, "ingest", "--ring", ring_name, "--source", VTEST, "--realtime", "--loop",
                 "--metrics-addr", f"127.0.0.1:{metrics_port}", "--preview-addr", f"127.0.0.1:{port}",
                 "--preview-events", str(events), "--log-level", "warn"])
    status, jpeg = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
        http_get(f"http://127.0.0.1:{port}/preview.jpg")), what="/preview.jpg to serve a frame")
    assert jpeg_size(jpeg) == (768, 576, 3)

    status, page = http_get(f"http://127.0.0.1:{port}/preview")
    assert status == 200 and b"/preview.jpg" in page and b"/preview.json" in page

    status, body = http_get(f"http://127.0.0.1:{port}/preview.json")
    assert status == 200
    info = json.loads(body)
    assert (info["ring"], info["width"], info["height"]) == (ring_name, 768, 576)
    assert [b["box"] for b in info["boxes"]] == [[10, 20, 30, 60]]
    # A newer event of the same worker replaces its boxes.
    with events.open("a") as f:
        f.write(json.dumps({"ring": ring_name, "worker": "people", "kind": "people", "frame_no": 9,
                            "boxes": [[5, 6, 7, 8], [100, 110, 20, 40]]}) + "\n")
    info = json.loads(http_get(f"http://127.0.0.1:{port}/preview.json")[1])
    assert [b["box"] for b in info["boxes"]] == [[5, 6, 7, 8], [100, 110, 20, 40]]
    assert {b["frame_no"] for b in info["boxes"]} == {9}
    # The scrape port shows no picture, whatever the preview does.
    for path in ("/preview", "/preview.jpg", "/preview.json"):
        assert http_get(f"http://127.0.0.1:{metrics_port}{path}")[0] == 404, path
    assert http_get(f"http://127.0.0.1:{metrics_port}/metrics")[0] == 200


def test_preview_waits_for_the_ring(framering_bin, ring_name, procs, tmp_path):
    """Before the first frame, /preview.jpg says so (503 naming the ring) instead of failing."""
    port = free_port()
    fifo = tmp_path / "never.y4m"
    os.mkfifo(fifo)  # nobody writes: the ingest waits for its source, the ring has no frame
    procs.start([framering_bin, "ingest", "--ring", ring_name, "--source", str(fifo), "--width", "64",
                 "--height", "48", "--metrics-addr", "0", "--preview-addr", str(port),
                 "--log-level", "warn"])
    status, body = wait_for(lambda: (lambda r: r if r[0] else None)(http_get(f"http://127.0.0.1:{port}/preview.jpg")),
                            what="ingest metrics port")
    assert status == 503 and ring_name.encode() in body, body
    try:  # let the ingest's open() of the FIFO return so it can stop
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


def get_with_host(port, path, host):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.putrequest("GET", path, skip_host=True)
    conn.putheader("Host", host)
    conn.endheaders()
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, body


def test_preview_is_off_unless_asked_and_the_metrics_port_never_shows_frames(
        framering_bin, ring_name, procs):
    metrics_port = free_port()
    p = procs.start([framering_bin, "ingest", "--ring", ring_name, "--source",
                     "testsrc:testsrc2=size=64x48:rate=25", "--metrics-addr",
                     f"127.0.0.1:{metrics_port}"], text=True)
    wait_for(lambda: "framering_frames_published_total" in
             http_get(f"http://127.0.0.1:{metrics_port}/metrics")[1].decode(), what="a scrape")
    for path in ("/preview", "/preview.jpg", "/preview.json"):
        status, body = http_get(f"http://127.0.0.1:{metrics_port}{path}")
        assert status == 404 and b"\xff\xd8" not in body, (path, status)
    p.terminate()
    _, err = p.communicate(timeout=15)
    assert "/preview" not in err, "no preview was asked for, none is announced"


def test_preview_refuses_requests_for_other_host_names(framering_bin, ring_name, procs):
    port = free_port()
    p = procs.start([framering_bin, "ingest", "--ring", ring_name, "--source",
                     "testsrc:testsrc2=size=64x48:rate=25", "--metrics-addr", "0",
                     "--preview-addr", f"127.0.0.1:{port}", "--preview-host", "nvr.lan"], text=True)
    wait_for(lambda: http_get(f"http://127.0.0.1:{port}/preview.jpg")[0] == 200,
             what="a preview frame")
    for host in (f"localhost:{port}", f"nvr.lan:{port}", "NVR.LAN", f"[::1]:{port}"):
        assert get_with_host(port, "/preview.jpg", host)[0] == 200, host
    # A page on evil.example whose name was rebound to 127.0.0.1 sends its own name.
    for host in (f"evil.example:{port}", "localhost.evil.example", f"nvr.lan.evil.example:{port}"):
        for path in ("/preview", "/preview.jpg", "/preview.json"):
            status, body = get_with_host(port, path, host)
            assert status == 403 and b"\xff\xd8" not in body, (host, path, status)
    p.terminate()
    p.communicate(timeout=15)


def test_preview_needs_a_port_of_its_own(framering_bin, ring_name):
    base = [framering_bin, "ingest", "--ring", ring_name, "--source", "testsrc:testsrc2",
            "--check-config"]
    same = subprocess.run(base + ["--metrics-addr", "127.0.0.1:9464", "--preview-addr",
                                  "127.0.0.1:9464"], capture_output=True, text=True, timeout=30)
    assert same.returncode == 2 and "--preview-addr" in same.stderr, same.stderr
    bad = subprocess.run(base + ["--preview-addr", "nowhere"], capture_output=True, text=True,
                         timeout=30)
    assert bad.returncode == 2 and "--preview-addr 'nowhere'" in bad.stderr, bad.stderr
    host_alone = subprocess.run(base + ["--preview-host", "nvr.lan"], capture_output=True,
                                text=True, timeout=30)
    assert host_alone.returncode == 2 and "--preview-host" in host_alone.stderr
    snapshots_alone = subprocess.run(base + ["--preview-snapshots", "/tmp"], capture_output=True,
                                     text=True, timeout=30)
    assert snapshots_alone.returncode == 2 and "--preview-snapshots" in snapshots_alone.stderr


def test_preview_of_a_yuv_ring_is_a_colour_picture(framering_bin, ring_name, procs):
    """A yuv420p ring holds planes, not pixels: the preview converts the frame to BGR and
    encodes a colour JPEG of the picture's size (768x576), not of the (864, 768) array."""
    port = free_port()
    metrics_port = free_port()
    procs.start([framering_bin, "ingest", "--ring", ring_name, "--source", VTEST, "--realtime",
                 "--loop", "--pix-fmt", "yuv420p", "--metrics-addr", f"127.0.0.1:{metrics_port}",
                 "--preview-addr", f"127.0.0.1:{port}", "--log-level", "warn"])
    status, jpeg = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
        http_get(f"http://127.0.0.1:{port}/preview.jpg")), what="/preview.jpg to serve a frame")
    assert jpeg_size(jpeg) == (768, 576, 3)
    info = json.loads(http_get(f"http://127.0.0.1:{port}/preview.json")[1])
    assert (info["width"], info["height"]) == (768, 576)
    # The conversion is a whole BGR picture written into the preview's own buffer: counted.
    _, body = http_get(f"http://127.0.0.1:{metrics_port}/metrics")
    copied = [float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
              if line.startswith("framering_bytes_copied_total{") and 'component="ingest"' in line]
    assert copied and copied[0] >= 768 * 576 * 3, copied
