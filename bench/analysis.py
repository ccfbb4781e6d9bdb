"""The "What the numbers say" part of docs/benchmarks.md, and the README's performance paragraph.

Every figure in this prose is computed from the same results.json as the tables above it, and the
arguments are too: whether a goal is met, the per-frame CPU costs that explain a ratio (the
producing write, each reader's pass over the bytes, the transport's own work, all measured by
bench_fanout in the fan-out runs), and what the ratio could at most be on that floor. A
measurement a section needs and the run lacks is said to be missing, never filled in.
"""
from figures import fmt, med, met, ok_runs

GOALS = {4: 7, 8: 10}  # fan-out: ring ÷ best copying transport, frames/s per reader
COPIERS = ["unix4m", "unix", "pipe1m", "pipe", "zmq"]
NAMES = {"unix4m": "the Unix socket with a 4 MiB buffer", "unix": "the Unix socket",
         "pipe1m": "the 1 MiB vmsplice pipe", "pipe": "the 64 KiB vmsplice pipe", "zmq": "ZeroMQ"}
SINGLE_THREADED = ["checksum", "motion", "tamper"]


def _by(runs, *keys):
    table = {}
    for r in ok_runs(runs):
        table.setdefault(tuple(r[k] for k in keys), []).append(r)
    return table


def _pct(x, digits=0):
    return f"{x * 100:.{digits}f} %"


# -- per-frame costs of the fan-out runs ------------------------------------------------------
def frame_costs(runs):
    """CPU ms per produced frame, medians over repetitions, for each (transport, readers):
    produce (the writer's one memcpy), pass (one reader's pass over one frame), transport
    (everything else: syscalls, kernel copies, waiting), as bench_fanout splits them."""
    costs = {}
    for key, rs in _by(runs, "transport", "readers").items():
        if not all("cpu_produce_s" in r and "produced" in r for r in rs):
            continue
        costs[key] = {
            "produce": med([r["cpu_produce_s"] * 1e3 / max(r["produced"], 1) for r in rs]),
            "pass": med([r["touch_ms_per_frame"] for r in rs]),
            "transport": med([r["transport_cpu_ms_per_frame"] for r in rs]),
            "fps": med([r["fps_per_reader_median"] for r in rs]),
            "per_cpu": med([r.get("reader_frames_per_cpu_s") for r in rs]),
        }
    return costs


def fanout_argument(runs, n, ring="ringwait"):
    """The ratio argument at n readers, or None when the run lacks a piece of it.

    Every design pays a floor per frame: the producing write plus n passes over the bytes. On
    top, the ring pays its own transport cost and the best copying transport its copies. If the
    processes are CPU-bound, frames/s goes as 1 / (cost per frame), so the ratio is about
    (floor + copies) / (floor + ring's own cost), and with a ring that cost nothing it could not
    exceed 1 + copies / floor."""
    costs = frame_costs(runs)
    r = costs.get((ring, n))
    copiers = [(costs[(t, n)]["fps"], t) for t in COPIERS if (t, n) in costs]
    if not r or not copiers:
        return None
    best = max(copiers)[1]
    c = costs[(best, n)]
    floor = r["produce"] + n * r["pass"]
    a = {"n": n, "best": best, "produce": r["produce"], "pass": r["pass"], "floor": floor,
         "ring_transport": r["transport"], "copies": c["transport"], "copies_per_reader": c["transport"] / n,
         "measured": r["fps"] / c["fps"] if c["fps"] else None,
         "per_cpu": (r["per_cpu"] / c["per_cpu"]) if r["per_cpu"] and c["per_cpu"] else None,
         "predicted": (floor + c["transport"]) / (floor + r["transport"]),
         "bound": 1 + c["transport"] / floor if floor else None}
    goal = GOALS.get(n)
    if goal:
        a["goal"] = goal
        # floor F with (F + C) / (F + R) = goal, i.e. F = (C - goal R) / (goal - 1)
        a["floor_for_goal"] = (c["transport"] - goal * r["transport"]) / (goal - 1)
    return a


# -- the sections of the prose ------------------------------------------------------------------
def machine(res, loads):
    m = res["machine"]
    return [f"**The machine.** {m['cores']} cores; 1-minute load average between {min(loads):.1f} "
            f"and {max(loads):.1f} while this ran (header). Ratios measured within one run, and the "
            "CPU-normalised figures (frames per CPU second, CPU ms per frame), are the numbers to "
            "read: the other load on a shared machine moves them far less than the absolute rates."]


def publish(res):
    runs = res.get("publish", {}).get("runs_us")
    if not runs:
        return []
    out = []
    for label, key in (("1080p", "w:1920/h:1080"), ("4K", "w:3840/h:2160")):
        m, r, c = (runs.get(f"{b}/{key}", []) for b in ("BM_Memcpy", "BM_RingPublish", "BM_RingClaimPublish"))
        if m and c:
            out.append((label, med(m), med(c), r, m))
    if not out:
        return []
    worst = max(c / m for _, m, c, _, _ in out)
    parts = [f"{label}: {fmt(c, 2)} µs against {fmt(m / 1000, 2)} ms, {fmt(c / m * 100, 3)} %"
             for label, m, c, _, _ in out]
    text = (f"**1. Publish overhead — {met(worst * 100 <= 2).strip('*')}.** `claim()` + `publish()` "
            "(two clock reads, seqlock and cursor stores, one FUTEX_WAKE syscall) against the memcpy "
            f"of the frame: {'; '.join(parts)}.")
    label, _, _, r, m = out[0]
    if r and m:
        lo = (min(r) - max(m)) / max(m)
        hi = (max(r) - min(m)) / min(m)
        text += (f" The column that subtracts two memcpy timings lies, for any two {label} "
                 f"repetitions of this run, between {lo * 100:+.1f} % and {hi * 100:+.1f} %: the "
                 "noise of two whole-frame copies, not a measure of the ring.")
    return [text]


def fanout(res):
    f, fixed = res.get("fanout", {}), res.get("fixed", {})
    if "runs" not in f:
        return []
    args = {n: fanout_argument(f["runs"], n) for n in GOALS}
    flat = {n: fanout_argument(f["runs"], n, ring="ring") for n in GOALS}
    if not all(args.values()):
        return ["**2. Fan-out.** This run lacks the per-frame CPU split of the fan-out runs "
                "(bench_fanout's cpu_produce_s, touch_ms_per_frame, transport_cpu_ms_per_frame), so "
                "the ratios above stand without the argument that explains them."]
    ok = all(a["measured"] is not None and a["measured"] >= a["goal"] for a in args.values())
    a4, a8 = args[4], args[8]
    out = [f"**2. Fan-out — {'met' if ok else 'not met'}: {fmt(a4['measured'], 1)}× at 4 readers, "
           f"{fmt(a8['measured'], 1)}× at 8 (lossless ring; goals {a4['goal']}× and {a8['goal']}×).** "
           "The like-for-like row is the lossless ring: every reader gets every frame in order, as "
           "from the copying transports, because the writer holds back for the slowest reader (the "
           "same `ReaderGate` as `framering ingest --wait-for-readers`; readers wake the writer "
           "through a futex in their stats file)."]
    if flat[4] and flat[8] and flat[4]["measured"] and flat[8]["measured"]:
        better = a4["measured"] > flat[4]["measured"] and a8["measured"] > flat[8]["measured"]
        out[0] += (f" The flat-out ring, whose writer never waits, measured {fmt(flat[4]['measured'], 1)}× / "
                   f"{fmt(flat[8]['measured'], 1)}×" +
                   (": a writer running flat out spends CPU on frames no reader takes." if better else "."))
    rows = ["", "Where the CPU of one frame goes, in the same runs (bench_fanout's own accounting, "
            "CPU ms per produced frame, medians over the repetitions):", "",
            "| readers | producing write | one reader's pass | floor = write + N passes | ring's own transport | "
            "best copying transport's copies (per reader) | (floor + copies) ÷ (floor + ring's) | "
            "1 + copies ÷ floor | measured, wall / per CPU s |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n, a in args.items():
        rows.append(f"| {n} | {fmt(a['produce'], 2)} | {fmt(a['pass'], 2)} | {fmt(a['floor'], 2)} | "
                    f"{fmt(a['ring_transport'], 2)} | {fmt(a['copies'], 2)} ({NAMES[a['best']]}, "
                    f"{fmt(a['copies_per_reader'], 2)}) | {fmt(a['predicted'], 1)}× | {fmt(a['bound'], 1)}× | "
                    f"{fmt(a['measured'], 1)}× / {fmt(a['per_cpu'], 1)}× |")
    out += rows
    paras = []
    short = [a for a in args.values() if a["measured"] is not None and a["measured"] < a["goal"]]
    if short:
        capped = [a for a in short if a["bound"] is not None and a["bound"] < a["goal"]]
        text = ("Every process here is CPU-bound on the machine's cores, so frames/s goes as 1 ÷ the "
                "CPU cost of a frame, and the ratio as the copying transport's cost per frame over the "
                "ring's. Both pay the same floor: the producing write and N passes over the bytes. ")
        if capped:
            text += ("On this run's floor even a ring that cost nothing could reach at most "
                     + " and ".join(f"{fmt(a['bound'], 1)}× at N = {a['n']}" for a in capped)
                     + ", short of the goal"
                     + ("s" if len(capped) > 1 else "")
                     + "; " + "; ".join(
                         f"at N = {a['n']} the goal would need the floor to shrink from "
                         f"{fmt(a['floor'], 2)} to {fmt(a['floor_for_goal'], 2)} ms"
                         if a["floor_for_goal"] > 0 else
                         f"at N = {a['n']} no floor would do: {a['goal']}× the ring's own transport "
                         f"cost ({fmt(a['ring_transport'], 2)} ms) already exceeds the copies"
                         for a in capped)
                     + ". A smaller floor means a cheaper reader pass, i.e. a different experiment, "
                     "not a faster ring.")
        else:
            text += ("On this run's floor a ring that cost nothing could reach "
                     + " and ".join(f"{fmt(a['bound'], 1)}× at N = {a['n']}" for a in short)
                     + ", so the floor does not explain the whole shortfall: the ring's own transport "
                     "cost and the scheduling of the processes on the cores do the rest.")
        paras.append(text)
    fr = fixed_ratio(fixed)
    if fr:
        paras.append(f"At a fixed load (section 2b) the ring's own transport cost per frame is "
                   f"{fmt(fr['ring'], 3)} ms against {fmt(fr['best_ms'], 2)} ms for {NAMES[fr['best']]}.")
    if a4["per_cpu"] and a4["measured"] and a8["per_cpu"] and a8["measured"]:
        lower = a4["per_cpu"] < a4["measured"] and a8["per_cpu"] < a8["measured"]
        paras.append(f"The frames-per-CPU-second ratios ({fmt(a4['per_cpu'], 1)}× / {fmt(a8['per_cpu'], 1)}×) "
                   + ("are lower than the wall-clock ones: the copying transports spend part of each run "
                      "blocked, not on the CPU." if lower else "differ from the wall-clock ones by how much "
                      "of each run the processes spent blocked rather than on the CPU."))
    paras.append("The copying transports are given their best settings: vmsplice so that pipes copy once "
               "per reader, not twice; a 4 MiB socket buffer; ZeroMQ's zero-copy send.")
    for p in paras:
        out += ["", p]
    return out


def fixed_ratio(fixed):
    by = _by(fixed.get("runs", []), "transport")
    ms = {t: med([r["window_transport_ms_per_frame"] for r in rs]) for (t,), rs in by.items()}
    cands = [(v, t) for t, v in ms.items() if t in COPIERS and v]
    if "ring" not in ms or not cands:
        return None
    best_ms, best = min(cands)
    whole = {t: med([r["transport_cpu_ms_per_frame"] for r in rs]) for (t,), rs in by.items()}
    return {"ring": ms["ring"], "best": best, "best_ms": best_ms, "ratio": ms["ring"] / best_ms,
            "ring_whole": whole.get("ring")}


def fixed(res):
    fr = fixed_ratio(res.get("fixed", {}))
    if not fr:
        return []
    text = (f"**2b. Transport cost at 30 fps — {met(fr['ratio'] <= 0.1).strip('*')}.** At a fixed load "
            "the ring's cost of moving a frame to 4 readers is the futex wake-ups and a few cache lines "
            "of slot metadata; the copying transports pay 2 copies per reader (1 with vmsplice pipes) "
            f"plus syscalls. Over the steady-state window the ring's transport cost is "
            f"{_pct(fr['ratio'], 1)} of {NAMES[fr['best']]}'s.")
    if fr["ring_whole"] is not None and fr["ring_whole"] > fr["ring"]:
        text += (f" The whole-run column ({fmt(fr['ring_whole'], 2)} ms for the ring) also holds the "
                 "readers' first-touch page faults of the ring mapping, a one-time cost per reader, which "
                 "is why it is higher than the window's.")
    return [text]


def memory(res):
    runs = {(r["mode"], r["readers"]): r for r in ok_runs(res.get("memory", {}).get("runs", []))}
    ring = [runs[k] for k in sorted(runs) if k[0] == "ring"]
    if not ring or ("ring", 1) not in runs or ("ring", 8) not in runs:
        return []
    private = [r["reader"][0]["private"] / 1024 for r in ring]
    added = (runs[("ring", 8)]["total_pss"] - runs[("ring", 1)]["total_pss"]) / 7
    frac = added / runs[("ring", 8)]["ring_bytes"]
    return [f"**3. Memory — {met(frac < 0.01).strip('*')}.** A ring reader's private memory is its own "
            f"stack and heap ({min(private):.0f}–{max(private):.0f} KiB across 1–8 readers in this run); "
            "the frames are the ring's pages, shared. Its RSS shows the whole ring only because it "
            "touched every slot."]


def wake(res):
    by = _by(res.get("wake", {}).get("runs", []), "transport")
    if ("ring",) not in by or ("pipe",) not in by:
        return []
    qs = (("p50_us", "p50"), ("p99_us", "p99"), ("p999_us", "p99.9"))
    parts, apart = [], []
    for q, name in qs:
        ring = [r[q] for r in by[("ring",)]]
        pipe = [r[q] for r in by[("pipe",)]]
        parts.append(f"{name} {fmt(med(ring))} vs {fmt(med(pipe))} µs")
        overlap = min(ring) <= max(pipe) and min(pipe) <= max(ring)
        if not overlap:
            apart.append(name)
    text = ("**4. Wake latency.** A futex wake and a pipe wake are both one syscall and one scheduler "
            f"wake-up. Ring vs pipe in this run: {', '.join(parts)}. ")
    if apart:
        text += (f"At {', '.join(apart)} the two ranges over the repetitions do not overlap; both wait "
                 "on the same run queue, so read that against the load in the header.")
    else:
        text += "At every quantile the two ranges over the repetitions overlap: the run queue, not the " \
                "transport, sets the tails."
    return [text]


def e2e(res):
    e = res.get("e2e", {})
    if "runs" not in e:
        return []
    ratios = []
    for (src, th), rs in _by(e["runs"], "source", "threads").items():
        ing = [r["ingest"]["frames"] / r["ingest"]["wall_s"] for r in rs if r["ingest"]["rc"] == 0]
        ff = [r["ffmpeg"]["frames"] / r["ffmpeg"]["wall_s"] for r in rs if r["ffmpeg"]["rc"] == 0]
        if ing and ff:
            ratios.append(med(ing) / med(ff))
    if not ratios:
        return []
    text = (f"**5. End to end — {met(min(ratios) >= 0.95).strip('*')} "
            f"({', '.join(_pct(r) for r in ratios)}).** `framering ingest` decodes with the same "
            "libavcodec and converts with swscale straight into the slot, as `ffmpeg -pix_fmt bgr24 "
            "-f null -` converts into a buffer it throws away; both times include process start-up.")
    s = e.get("startup")
    if s:
        fr, ff = s["framering"], s["ffmpeg"]
        text += (f" Start-up in this run: `framering --version` {fr['wall_s']:.3f} s wall "
                 f"({fr['shared_objects']} shared objects), `ffmpeg -version` {ff['wall_s']:.3f} s "
                 f"({ff['shared_objects']}); short inputs such as vtest.avi feel it. The binary keeps "
                 "its start-up short by `dlopen`ing libavdevice only when a `testsrc:` source opens and "
                 "encoding the preview JPEG with libjpeg-turbo instead of OpenCV's imgcodecs (which "
                 "pulls GDAL and DICOM).")
    return [text]


def workers(res):
    w = res.get("workers", {})
    by = {}
    for r in w.get("runs", []):
        by.setdefault(r["analytic"], {})[r["members"]] = r
    gains = {}
    for a, m in by.items():
        one, two = m.get(1), m.get(2)
        if one and two and one.get("fps") and two.get("fps"):
            gains[a] = two["fps"] / one["fps"]
    if not gains:
        return []
    text = ("**6. Workers.** The ring is filled with the frames before the clock starts and its writer "
            "has exited, so nothing overwrites a frame under a slow analytic and the workers have the "
            "cores to themselves.")
    single = [gains[a] for a in SINGLE_THREADED if a in gains]
    if single:
        text += (f" A consumer group of 2 runs the single-threaded analytics "
                 f"({', '.join(a for a in SINGLE_THREADED if a in gains)}) at "
                 f"{fmt(min(single), 2)}–{fmt(max(single), 2)}× the frames/s of one worker on "
                 f"{res['machine']['cores']} cores" + ("." if min(single) > 1 else
                                                       " (below 1×: the group did not get the cores "
                                                       "to itself; see the load in the header)."))
    one = by.get("people", {}).get(1)
    if "people" in gains and one:
        text += (f" The people detector (HOG) gains {fmt(gains['people'], 2)}×; one detection takes "
                 f"≈ {1000 / one['fps']:.0f} ms")
        if one.get("cpu_s") is not None:
            use = one["cpu_s"] / one["wall_s"]
            text += (f" and a single people worker used {use * 100:.0f} % CPU"
                     + (" — OpenCV already spreads one detection over several cores, so a second member "
                        "mostly takes turns with the first" if use > 1.3 else ""))
        text += "."
    return [text]


def objects(res):
    """What section 7 says: the detector's cost per frame, whether a group added cores, and the
    ring's share, all from the run's own numbers."""
    o = res.get("objects", {})
    by = {r["members"]: r for r in o.get("runs", []) if r.get("rc") == 0 and r.get("fps")}
    one, two = by.get(1), by.get(2)
    if not one:
        return []
    gflop = o.get("flops", 0) / 1e9
    text = (f"**7. Objects.** One `objects` worker ran the {gflop:.2f} GFLOP detector at "
            f"{fmt(one['fps'], 2)} frames/s ({one['frames'] / one['cpu_s']:.2f} frames per CPU "
            f"second, ≈ {gflop * one['frames'] / one['cpu_s']:.1f} GFLOP per CPU second)")
    use = one["cpu_s"] / one["wall_s"] if one.get("wall_s") else 0
    if use:
        text += f" and used {use * 100:.0f} % CPU"
    if two:
        gain = two["fps"] / one["fps"]
        text += f"; a consumer group of 2 ran at {fmt(gain, 2)}× that"
        if use > 1.3 * (res["machine"]["cores"] / 2):
            text += (f" — OpenCV's DNN already spreads one inference over the {res['machine']['cores']} "
                     "cores, so on this machine a second member has no core to add; a group splits "
                     "the stream across processes where there are more cores than one inference uses")
    text += (f". The ring's share of a member's time was {_pct(max(r['ring_share'] for r in by.values()), 4)}: "
             "the detector is the whole cost.")
    return [text]


def notes(res, loads):
    """The whole "What the numbers say" section."""
    paragraphs = [machine(res, loads), publish(res), fanout(res), fixed(res), memory(res), wake(res),
                  e2e(res), workers(res), objects(res)]
    out = ["## What the numbers say, and which goals are not met", "",
           "Computed by bench/report.py from the same results as the tables above.", ""]
    for p in paragraphs:
        if p:
            out += p + [""]
    return out


# -- README ---------------------------------------------------------------------------------------
def readme_paragraph(res, publish_pct, fixed_r, mem_frac, e2e_ratios, fan):
    """The README's performance paragraph; None when the run lacks a figure it needs."""
    m = res["machine"]
    f = res.get("fanout", {})
    a = {n: fanout_argument(f.get("runs", []), n) for n in GOALS} if "runs" in f else {}
    if None in (publish_pct, fixed_r, mem_frac) or not e2e_ratios or not all(a.values()) or not a:
        return None
    lo, hi = min(e2e_ratios), max(e2e_ratios)
    short = [x for x in a.values() if x["measured"] < x["goal"]]
    text = (f"What the zero-copy design buys, measured side by side in one `make bench` run "
            f"({m['date_utc']}, commit {m['commit']}, {m['cores']} cores; "
            "[docs/benchmarks.md](docs/benchmarks.md) has every table): publishing a 1080p frame "
            f"costs the ring {fmt(publish_pct, 2)} % of the frame's memcpy; one 1080p stream at 30 fps "
            f"read by 4 processes costs {fmt(fixed_r, 3)}× the transport CPU of the best copying "
            f"transport (pipe, Unix socket, ZeroMQ); an added reader costs {mem_frac * 100:.2f} % of "
            f"the ring's memory instead of a full copy; `framering ingest` decodes at "
            f"{lo * 100:.0f}–{hi * 100:.0f} % of the ffmpeg CLI's speed; and readers that each take "
            f"every 1080p frame and touch every byte get {fmt(a[4]['measured'], 1)}× (4 readers) and "
            f"{fmt(a[8]['measured'], 1)}× (8 readers) the frames/s of the best copying transport")
    if short:
        text += (f" — short of our {a[4]['goal']}× / {a[8]['goal']}× goals: every transport pays the "
                 "same floor (writing the frame once, each reader's own pass over it), and the "
                 "benchmark notes compute from the same run how far that floor, not the ring, bounds "
                 "the ratio.")
    else:
        text += f" (goals {a[4]['goal']}× / {a[8]['goal']}×: met)."
    return text
