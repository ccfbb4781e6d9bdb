"""What libav may open: a "video file" that is really a playlist or list (HLS, concat) is refused
before it fetches a URL or reads another local file; a `testsrc:` graph cannot use filters that
open files or sockets; a file source cannot be a network URL; and the --timeout deadline holds
for files too (a FIFO trickling a byte at a time is given up). Each case runs the real binary and
checks its exit code and message; a TCP listener records whether anything was fetched."""
import os
import socket
import threading
import time

import pytest

from rel_helpers import assert_no_crash, make_clip, run, shm_leftovers


class Listener:
    """A TCP port that records every connection made to it (nothing should ever connect)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def listener():
    s = Listener()
    yield s
    s.close()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("policy") / "clip.mp4", seconds=1, size="64x48")


def ingest(framering_bin, ring, source, *args, timeout=60):
    p = run([framering_bin, "ingest", "--ring", ring, "--source", source, "--metrics-addr", "0",
             *args], timeout=timeout)
    assert_no_crash(p)
    return p


def test_the_clip_itself_plays(framering_bin, ring_name, clip):
    """The control: the media the lists below point at is fine when given directly."""
    p = ingest(framering_bin, ring_name, clip)
    assert p.returncode == 0, p.stderr


def test_hls_playlist_pointing_at_a_url_is_refused(framering_bin, ring_name, tmp_path, listener):
    playlist = tmp_path / "cam.m3u8"
    playlist.write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:2.0,\nhttp://127.0.0.1:{listener.port}/seg0.ts\n"
        f"#EXTINF:2.0,\nhttp://127.0.0.1:{listener.port}/seg1.ts\n#EXT-X-ENDLIST\n")
    p = ingest(framering_bin, ring_name, playlist)
    assert p.returncode == 3, p.stderr
    assert str(playlist) in p.stderr and "'hls'" in p.stderr, p.stderr
    assert "self-contained video files" in p.stderr, p.stderr
    assert listener.connections == 0, "the ingest fetched a URL named by the playlist"
    assert shm_leftovers(ring_name) == []


def test_hls_playlist_pointing_at_local_files_is_refused(framering_bin, ring_name, tmp_path, clip):
    playlist = tmp_path / "local.m3u8"
    playlist.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:2\n"
                        f"#EXTINF:1.0,\n{clip}\n#EXT-X-ENDLIST\n")
    p = ingest(framering_bin, ring_name, playlist)
    assert p.returncode == 3 and "'hls'" in p.stderr, p.stderr
    assert shm_leftovers(ring_name) == []


@pytest.mark.parametrize("target", ["local", "url"])
def test_concat_list_is_refused(framering_bin, ring_name, tmp_path, clip, listener, target):
    entry = clip if target == "local" else f"http://127.0.0.1:{listener.port}/clip.mp4"
    listing = tmp_path / "list.ffconcat"
    listing.write_text(f"ffconcat version 1.0\nfile '{entry}'\nfile '{entry}'\n")
    p = ingest(framering_bin, ring_name, listing)
    assert p.returncode == 3, p.stderr
    assert str(listing) in p.stderr and "'concat'" in p.stderr, p.stderr
    assert listener.connections == 0
    assert shm_leftovers(ring_name) == []


@pytest.mark.parametrize("scheme", ["http", "https", "ftp", "tcp", "udp", "hls+http"])
def test_a_file_source_cannot_be_a_network_url(framering_bin, ring_name, listener, scheme):
    url = f"{scheme}://127.0.0.1:{listener.port}/clip.mp4"
    p = ingest(framering_bin, ring_name, url)
    assert p.returncode == 2, p.stderr
    assert f"'{scheme}://' URLs" in p.stderr, p.stderr
    assert listener.connections == 0


@pytest.mark.parametrize("graph,refused", [
    ("movie=/etc/hostname", "movie"),
    ("testsrc2=size=64x48,drawtext=textfile=/etc/hostname", "drawtext"),
    ("testsrc2;amovie=/etc/hostname", "amovie"),
    ("testsrc2,sendcmd=f=/etc/hostname", "sendcmd"),
    ("testsrc2,zmq", "zmq"),
    ("[in]testsrc2[a];[a]subtitles=/etc/hostname", "subtitles"),
])
def test_testsrc_graph_cannot_open_files_or_sockets(framering_bin, ring_name, graph, refused):
    for extra in ([], ["--check-config"]):
        p = ingest(framering_bin, ring_name, f"testsrc:{graph}", *extra)
        assert p.returncode == 2, p.stderr
        assert f"filter '{refused}' is not allowed" in p.stderr, p.stderr


@pytest.mark.parametrize("graph", [
    "testsrc2=size=64x48:rate=5",
    "smptebars=size=64x48,format=gray",
    "testsrc2=size=64x48,drawbox=x=1:y=1:w=8:h=8:color=red,hflip",
    "color=c='red':s=64x48,scale=32:24",
])
def test_testsrc_graphs_of_generators_and_in_memory_filters_are_accepted(framering_bin, ring_name,
                                                                        graph):
    p = ingest(framering_bin, ring_name, f"testsrc:{graph}", "--check-config")
    assert p.returncode == 0, p.stderr
    p = ingest(framering_bin, ring_name, f"testsrc:{graph}", "--max-frames", "2")
    assert p.returncode == 0, p.stderr


def test_the_io_deadline_applies_to_a_file(framering_bin, ring_name, tmp_path):
    """A FIFO that delivers a byte every 20 ms never completes a probe (it needs kilobytes);
    with --timeout 1 the ingest gives up instead of waiting on it for minutes."""
    fifo = tmp_path / "trickle.y4m"
    os.mkfifo(fifo)
    stop = threading.Event()

    def trickle():
        try:
            fd = os.open(fifo, os.O_WRONLY)
        except OSError:
            return
        data = b"YUV4MPEG2 W64 H48 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(64 * 48 * 3 // 2) * 100
        try:
            for i in range(len(data)):
                if stop.is_set():
                    break
                os.write(fd, data[i:i + 1])
                time.sleep(0.02)
        except OSError:
            pass
        finally:
            os.close(fd)

    writer = threading.Thread(target=trickle, daemon=True)
    writer.start()
    start = time.monotonic()
    try:
        p = ingest(framering_bin, ring_name, fifo, "--timeout", "1", timeout=120)
    finally:
        stop.set()
    took = time.monotonic() - start
    assert p.returncode == 3, p.stderr
    assert str(fifo) in p.stderr, p.stderr
    # Measured: about 1 s. The bound leaves room for a loaded machine; without the deadline the
    # probe alone would take minutes at this rate.
    assert took < 20, f"gave up after {took:.1f} s"
