#!/usr/bin/python3
"""Pickling vs shared memory vs framering in Python: the same workload three ways in one run.

Workload: N frames of H x W x 3 uint8 (default 200 x 1080p) that exist in the producer's memory,
summed by 4 worker processes (`frame.sum()`), each frame exactly once.

  one process      the producer sums every frame itself (the compute-only reference)
  pickling         multiprocessing Pool(4).map over the frames: each frame is pickled, sent
                   through a pipe and unpickled (the "naive design")
  shared_memory    the producer copies the frames into one multiprocessing.shared_memory block
                   and hands out each index as soon as its frame is in (Pool(4).imap); workers
                   sum views of the block
  framering        the producer publishes the frames into a framering ring with the Python
                   Writer; 4 worker processes read them in place as consumer-group members
                   (frame_no % 4 == I), following the cursor while it is written
  framering ingest (when `framering ingest` is available) `framering ingest` decodes
                   testsrc2 at the same size straight into the ring; the same 4 readers; its time
                   includes decoding, so it is not a transport-only number

Timing covers "frames in the producer's hands -> every sum returned"; pools and readers are
started (spawn, so no worker inherits the producer's frames) and the shared memory is touched
once (first-touch page faults) before the clock starts.
Bytes copied = bytes that crossed a pipe/socket (rchar + wchar from /proc/<pid>/io of the
producer and every worker) + payload copies made in user space: pickling counts pickle.dumps in
the producer and pickle.loads in the worker (2 x pickled size per frame); shared_memory and
framering count the producer's copy into shared memory (1 x frame bytes per frame); ingest counts
its scaler writing each frame once into its slot (1 x frame bytes per frame).
Peak RSS is VmHWM of each worker; it includes shared-memory pages the worker touched. Private
is the worker's RssAnon at the end (its own heap, no shared pages).

    /usr/bin/python3 bench/python_copy_vs_shared.py            # full run, writes docs/benchmarks.md
    /usr/bin/python3 bench/python_copy_vs_shared.py --quick    # a few seconds, prints only
"""
import argparse
import multiprocessing as mp
import os
import pathlib
import pickle
import queue
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from multiprocessing import shared_memory

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
import framering  # noqa: E402  (after the path set-up, like the tests)
import provenance  # noqa: E402  (bench/, this script's own directory)

SECTION = "## Python: pickling vs shared memory vs framering"
WORKERS = 4


# -- measurements ---------------------------------------------------------------------------
def proc_io(pid):
    """Bytes this process moved through read()/write() syscalls (pipes included)."""
    fields = dict(line.split(": ") for line in pathlib.Path(f"/proc/{pid}/io").read_text().splitlines())
    return int(fields["rchar"]) + int(fields["wchar"])


def proc_mem(pid):
    """(peak RSS, private anonymous RSS) of a process, in bytes."""
    status = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        status[key] = value.strip()
    kib = lambda key: int(status.get(key, "0 kB").split()[0]) * 1024  # noqa: E731
    return kib("VmHWM"), kib("RssAnon")


def make_frames(n, height, width):
    """n distinct frames of a cheap moving pattern (content does not matter to any transport)."""
    base = np.add.outer(np.arange(height, dtype=np.uint16), np.arange(width, dtype=np.uint16))
    base = np.repeat((base % 256).astype(np.uint8)[:, :, None], 3, axis=2)
    return [base + np.uint8(i % 256) for i in range(n)]


def frame_sum(frame):
    return int(frame.sum())


# -- pickling -------------------------------------------------------------------------------
def pool_stats(pool):
    pids = [p.pid for p in pool._pool]  # the Pool's worker processes
    return pids, [proc_mem(pid) for pid in pids], sum(proc_io(pid) for pid in pids)


def warm(pool):
    pool.map(frame_sum, [np.zeros(4, np.uint8)] * (WORKERS * 2), chunksize=1)


def run_pickling(ctx, frames):
    with ctx.Pool(WORKERS) as pool:
        warm(pool)
        pids, _, io_before = pool_stats(pool)
        me_before = proc_io(os.getpid())
        t0 = time.perf_counter()
        sums = pool.map(frame_sum, frames, chunksize=1)
        elapsed = time.perf_counter() - t0
        _, mems, io_after = pool_stats(pool)
        io = io_after - io_before + proc_io(os.getpid()) - me_before
    pickled = len(pickle.dumps(frames[0], protocol=pickle.HIGHEST_PROTOCOL))
    return dict(sums=sums, elapsed=elapsed, copied=io + 2 * pickled * len(frames), mems=mems)


# -- multiprocessing.shared_memory ----------------------------------------------------------
_block = None
_block_array = None


def attach_block(name, shape):
    global _block, _block_array
    # Python 3.11 registers even attached segments with the resource tracker; Pool workers share
    # the producer's tracker (a set of names), so this is harmless here and the producer unlinks.
    _block = shared_memory.SharedMemory(name=name)
    _block_array = np.ndarray(shape, np.uint8, buffer=_block.buf)


def block_sum(index):
    return int(_block_array[index].sum())


def publish(view, frames):
    """The producer copies frame i into the block, then hands out its index."""
    for i, frame in enumerate(frames):
        view[i] = frame
        yield i


def run_shared_memory(ctx, frames):
    shape = (len(frames),) + frames[0].shape
    block = shared_memory.SharedMemory(create=True, size=int(np.prod(shape)))
    try:
        view = np.ndarray(shape, np.uint8, buffer=block.buf)
        view.fill(0)  # first-touch page faults before the clock, as Writer.prefault() does
        with ctx.Pool(WORKERS, initializer=attach_block, initargs=(block.name, shape)) as pool:
            pool.map(block_sum, range(WORKERS * 2), chunksize=1)  # warm: every worker attached
            pids, _, io_before = pool_stats(pool)
            me_before = proc_io(os.getpid())
            t0 = time.perf_counter()
            sums = list(pool.imap(block_sum, publish(view, frames), chunksize=1))
            elapsed = time.perf_counter() - t0
            _, mems, io_after = pool_stats(pool)
            io = io_after - io_before + proc_io(os.getpid()) - me_before
        del view
    finally:
        block.close()
        block.unlink()
    return dict(sums=sums, elapsed=elapsed, copied=io + len(frames) * frames[0].nbytes, mems=mems)


# -- framering ------------------------------------------------------------------------------
def ring_reader(ring_name, member, ready, results):
    """A consumer-group member: sums frames in place until the writer is gone."""
    io_before = proc_io(os.getpid())
    ready.put(os.getpid())
    ring = wait_ring(ring_name)  # started before the ring exists when ingest writes it
    sums, invalid = {}, 0
    for frame in ring.frames(member=(member, WORKERS)):
        s = frame_sum(frame.array)
        if frame.valid():
            sums[frame.frame_no] = s
        else:
            invalid += 1
    c = ring.counters
    results.put(dict(member=member, sums=sums, invalid=invalid, lapped=c.lapped, torn=c.torn,
                     done=time.perf_counter(), io=proc_io(os.getpid()) - io_before,
                     mem=proc_mem(os.getpid())))


def wait_ring(name):
    """Attaches to ring `name` as soon as it exists. No deadline of its own: only the parent knows
    whether the producer is still coming (a loaded machine may start it late), and collect()
    ends the readers when the producer dies or the run overruns."""
    while True:
        try:
            return framering.Ring(name, start=0)
        except framering.NotFoundError:
            time.sleep(0.002)


def start_readers(ctx, name):
    ready, results = ctx.Queue(), ctx.Queue()
    readers = [ctx.Process(target=ring_reader, args=(name, i, ready, results)) for i in range(WORKERS)]
    for p in readers:
        p.start()
    for _ in readers:
        ready.get(timeout=60)
    return readers, results


def collect(readers, results, n, t0, me_before, producer=None):
    """The readers' reports; fails fast (instead of waiting forever) if a reader or the
    producer process died."""
    reports = []
    deadline = time.monotonic() + 600
    try:
        while len(reports) < len(readers):
            try:
                reports.append(results.get(timeout=0.5))
                continue
            except queue.Empty:
                pass
            dead = [p.exitcode for p in readers if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"a reader process died (exit {dead[0]}); see its traceback above")
            if producer is not None and producer.poll() not in (None, 0):
                raise RuntimeError(f"{' '.join(producer.args)} exited {producer.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("readers did not finish within 600 s")
    except BaseException:
        for p in readers:
            p.terminate()
        raise
    # Before reaping: the kernel adds a reaped child's I/O counters to its parent's.
    producer_io = proc_io(os.getpid()) - me_before
    for p in readers:
        p.join()
    sums = {}
    for r in reports:
        sums.update(r["sums"])
    elapsed = max(r["done"] for r in reports) - t0
    return dict(sums=[sums.get(i) for i in range(n)], elapsed=elapsed,
                io=producer_io + sum(r["io"] for r in reports), mems=[r["mem"] for r in reports],
                dropped=sum(r["lapped"] + r["torn"] + r["invalid"] for r in reports))


def run_framering(ctx, frames):
    name = "bench" + uuid.uuid4().hex[:8]
    # Ring sized to the whole workload: the writer never waits, so with fewer slots than frames
    # readers slower than the writer would be lapped (and told so) instead of summing every frame.
    with framering.Writer(name, shape=frames[0].shape, slots=max(2, len(frames)), pix_fmt="bgr24") as w:
        w.prefault()
        readers, results = start_readers(ctx, name)
        me_before = proc_io(os.getpid())
        t0 = time.perf_counter()
        for frame in frames:
            w.write(frame)
    out = collect(readers, results, len(frames), t0, me_before)
    out["copied"] = out.pop("io") + len(frames) * frames[0].nbytes
    return out


def run_ingest(ctx, framering_bin, n, height, width):
    name = "bench" + uuid.uuid4().hex[:8]
    cmd = [framering_bin, "ingest", "--ring", name, "--source",
           f"testsrc:testsrc2=size={width}x{height}:rate=30", "--pix-fmt", "bgr24",
           "--max-frames", str(n), "--slots", str(max(2, n)), "--metrics-addr", "0", "--keep"]
    readers, results = start_readers(ctx, name)  # they wait for the ring to appear
    me_before = proc_io(os.getpid())
    t0 = time.perf_counter()
    log = tempfile.TemporaryFile("w+")  # not a pipe: a full pipe would stall the ingest
    ingest = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, text=True)
    try:
        try:
            out = collect(readers, results, n, t0, me_before, producer=ingest)
            ingest.wait(timeout=120)
        finally:
            log.seek(0)
            err = log.read().strip()
        if ingest.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {ingest.returncode}: {err}")
    except RuntimeError as e:
        raise RuntimeError(f"{e}\ningest log:\n{err}") from None
    finally:
        if ingest.poll() is None:
            ingest.kill()
            ingest.wait()
        try:
            os.unlink(framering.segment_path(name))
        except OSError:
            pass
    # The scaler's output is written once, into the slot: the same one copy the producers of the
    # other designs make into shared memory (ingest's own process does no pipe I/O here).
    out["copied"] = out.pop("io") + n * height * width * 3
    return out


def find_ingest(explicit):
    """The framering binary if its `ingest` subcommand works (it can run a --check-config)."""
    candidates = [explicit, os.environ.get("FRAMERING_BIN"), str(ROOT / "build/release/bin/framering"),
                  shutil.which("framering")]
    for cand in filter(None, candidates):
        if not os.access(cand, os.X_OK):
            continue
        probe = subprocess.run([cand, "ingest", "--ring", "probe", "--source", "testsrc:testsrc2",
                                "--check-config"], capture_output=True, text=True, timeout=30)
        if probe.returncode == 0:
            return cand
    return None


# -- report ---------------------------------------------------------------------------------
def mib(n):
    return f"{n / 2**20:,.0f} MiB"


def table(rows, n, frame_bytes):
    lines = ["| design | frames/s | speed-up vs pickling | bytes copied (per frame) | "
             "peak RSS per worker | private RSS per worker | frames lost |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    base = next((r["fps"] for r in rows if r["design"].startswith("pickling")), None)
    for r in rows:
        mems = r.get("mems") or []
        peak = f"{mib(max(m[0] for m in mems))}" if mems else "-"
        private = f"{mib(max(m[1] for m in mems))}" if mems else "-"
        copied = (f"{mib(r['copied'])} ({r['copied'] / n / frame_bytes:.2f} x frame)"
                  if "copied" in r else "-")
        speed = f"{r['fps'] / base:.1f}x" if base else "-"
        lines.append(f"| {r['design']} | {r['fps']:.0f} | {speed} | {copied} | {peak} | {private} | "
                     f"{r.get('dropped', 0)} |")
    return "\n".join(lines)


def write_section(doc, text):
    doc = pathlib.Path(doc)
    old = doc.read_text() if doc.exists() else "# Benchmarks\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == SECTION), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        new = "".join(lines[:start]) + text + ("\n" + "".join(lines[end:]) if end < len(lines) else "")
    doc.write_text(new)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="20 frames of 640x360 (a few seconds; does not touch docs/ unless --doc)")
    ap.add_argument("--frames", type=int, help="frames in the workload (default 200)")
    ap.add_argument("--size", help="WIDTHxHEIGHT (default 1920x1080)")
    ap.add_argument("--doc", help="markdown file to write the section into "
                                  "(default docs/benchmarks.md, none with --quick)")
    ap.add_argument("--framering-bin", help="framering binary for the ingest row "
                                            "(default $FRAMERING_BIN or build/release/bin/framering)")
    ap.add_argument("--no-ingest", action="store_true", help="skip the `framering ingest` row")
    args = ap.parse_args()
    n = args.frames or (20 if args.quick else 200)
    width, height = map(int, (args.size or ("640x360" if args.quick else "1920x1080")).split("x"))
    doc = args.doc or (None if args.quick else str(ROOT / "docs" / "benchmarks.md"))
    ctx = mp.get_context("spawn")

    frames = make_frames(n, height, width)
    frame_bytes = frames[0].nbytes
    expected = [frame_sum(f) for f in frames[:2]]
    rows = []

    t0 = time.perf_counter()
    local = [frame_sum(f) for f in frames]
    rows.append(dict(design="one process (no transport)", fps=n / (time.perf_counter() - t0)))
    for design, run in ((f"pickling: Pool({WORKERS}).map(frames)", run_pickling),
                        (f"multiprocessing.shared_memory + Pool({WORKERS})", run_shared_memory),
                        (f"framering: Python Writer -> {WORKERS} readers", run_framering)):
        r = run(ctx, frames)
        assert r["sums"] == local, f"{design}: sums differ from the one-process sums"
        rows.append(dict(r, design=design, fps=n / r["elapsed"]))
        print(f"{design}: {rows[-1]['fps']:.0f} frames/s", file=sys.stderr)
    del frames
    ingest_note = "not run (--no-ingest)"
    if not args.no_ingest:
        binary = find_ingest(args.framering_bin)
        if binary is None:
            ingest_note = "not run: no `framering ingest` in this build"
        else:
            r = run_ingest(ctx, binary, n, height, width)
            got = sum(s is not None for s in r["sums"])
            design = f"framering ingest (testsrc2 decode) -> {WORKERS} readers"
            rows.append(dict(r, design=design, fps=got / r["elapsed"], dropped=n - got))
            ingest_note = f"run with `{os.path.relpath(binary, ROOT)} ingest`"
    assert expected == local[:2]

    load = os.getloadavg()[0]
    cmd = "/usr/bin/python3 bench/python_copy_vs_shared.py" + (" --quick" if args.quick else "") + \
        (f" --frames {n}" if args.frames else "") + (f" --size {args.size}" if args.size else "")
    text = "\n".join([
        SECTION, "",
        f"`{cmd}` on {os.cpu_count()} cores (load average {load:.1f} at the end of the run), "
        f"{provenance.now_utc()}, commit {provenance.commit()}, Python {sys.version.split()[0]}, NumPy {np.__version__}.",
        f"Workload: {n} frames of {width}x{height}x3 uint8 ({frame_bytes / 2**20:.1f} MiB each), "
        f"`frame.sum()` on each by {WORKERS} worker processes (spawned), every frame exactly once "
        "(sums checked against one process).", "",
        table(rows, n, frame_bytes), "",
        "How it was measured (see the script's docstring): frames/s = frames / wall time from "
        "\"frames in the producer's memory\" to \"last sum returned\"; bytes copied = bytes through "
        "pipes (`/proc/<pid>/io` rchar+wchar of producer and workers) + user-space payload copies "
        "(pickling: dumps + loads; shared_memory and framering Writer: the producer's copy into "
        "shared memory; ingest: the scaler's one write of each frame into its slot); peak RSS "
        "is VmHWM and includes the shared pages a worker touched, private RSS is RssAnon. "
        "The framering ring holds the whole workload (slots = frames) so no frame is lapped.",
        f"Ingest row: {ingest_note}.",
        *([f"The machine was shared while this ran (load average {load:.1f} on {os.cpu_count()} "
           "cores), so absolute rates are below an idle machine's; compare the rows with each "
           "other (all ran in one run, one after the other)."] if load > os.cpu_count() else []),
        ""])
    print(text)
    if doc:
        write_section(doc, text)
        print(f"wrote the section into {doc}", file=sys.stderr)


if __name__ == "__main__":
    main()
