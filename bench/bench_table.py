"""Turns the figures of a benchmark run (run_bench.py's results) into the table's rows.

Each row: scenario, meanwhile, reference design, raw limit, Claude Code, ratio(s), target, met?.
A figure that was not measured shows as such; a target is met only on a measured figure.
"""

NOT_MEASURED = "not measured"


def figure(results, part, scenario, key, sub=None):
    """results[part][scenario][key] (or [key][sub]), None when missing or the run failed."""
    block = results.get(part, {}).get(scenario) or {}
    if "error" in block and key not in block:
        return None
    value = block.get(key)
    if sub is not None:
        value = value.get(sub) if isinstance(value, dict) else None
    return value


def failure(results, part, scenario):
    block = results.get(part, {}).get(scenario)
    if not block:
        return NOT_MEASURED
    if "skipped" in block:
        return "skipped: " + block["skipped"]
    return "failed: " + str(block.get("error", "no figure"))[:60]


def fmt(value, pattern, results=None, part=None, scenario=None):
    if value is None:
        return failure(results, part, scenario) if results is not None else "—"
    return pattern.format(value)


def verdict(ok):
    if ok is None:
        return NOT_MEASURED
    return "yes" if ok else "**no**"


def pair_ms(results, part, scenario, p50_key, p99_key, scale):
    p50 = figure(results, part, scenario, p50_key)
    p99 = figure(results, part, scenario, p99_key)
    if p50 is None or p99 is None:
        return failure(results, part, scenario)
    return f"{p50 * scale:.2f} / {p99 * scale:.2f} ms"


def lane_rows(results):
    sizes = results["sizes"]
    rows = []
    f = lambda part, scenario, key: figure(results, part, scenario, key)  # noqa: E731

    lane_p50, raw_p50 = f("lane", "roundtrip", "p50_us"), f("raw", "roundtrip", "p50_us")
    extra = None if lane_p50 is None or raw_p50 is None else lane_p50 - raw_p50
    rows.append({
        "scenario": f"roundtrip: submit `true` → finished note, p50 / p99 ({sizes['roundtrip']}×)",
        "meanwhile": pair_ms(results, "lane", "roundtrip", "p50_us", "p99_us", 1e-3),
        "reference": pair_ms(results, "seed", "roundtrip", "p50_ms", "p99_ms", 1),
        "raw": pair_ms(results, "raw", "roundtrip", "p50_us", "p99_us", 1e-3) + " spawn+wait",
        "ratio": "—" if extra is None else f"p50 = raw {extra:+.0f} µs",
        "target": "p50 ≤ raw + 150 µs",
        "met": verdict(None if extra is None else extra <= 150),
    })

    tmpfs_p50 = f("lane", "roundtrip_tmpfs", "p50_us")
    if results.get("lane", {}).get("roundtrip_tmpfs"):
        rows.append({
            "scenario": "roundtrip, diagnostic: the lane's data dir (store, logs) on tmpfs",
            "meanwhile": pair_ms(results, "lane", "roundtrip_tmpfs", "p50_us", "p99_us", 1e-3),
            "reference": "—", "raw": "—",
            "ratio": "—" if tmpfs_p50 is None or raw_p50 is None
            else f"p50 = raw {tmpfs_p50 - raw_p50:+.0f} µs",
            "target": "—", "met": "—",
        })

    lane_rate, raw_rate = f("lane", "burst", "jobs_per_s"), f("raw", "burst", "jobs_per_s")
    seed_rate = f("seed", "burst", "jobs_per_s")
    notes = f("lane", "burst", "notes")
    ratios = []
    if raw_rate:
        if lane_rate is not None:
            ratios.append(f"lane {lane_rate / raw_rate:.2f}× raw")
        if seed_rate is not None:
            ratios.append(f"reference {seed_rate / raw_rate:.2f}× raw")
    burst_ok = None
    if lane_rate is not None and raw_rate:
        burst_ok = lane_rate >= 0.9 * raw_rate and notes == sizes["burst"]
    rows.append({
        "scenario": f"burst: {sizes['burst']} × `true` at once, until every note is in",
        "meanwhile": fmt(lane_rate, "{:,.0f} jobs/s", results, "lane", "burst")
        + ("" if notes is None else f" ({notes} notes)"),
        "reference": fmt(seed_rate, "{:,.0f} jobs/s", results, "seed", "burst"),
        "raw": fmt(raw_rate, "{:,.0f} jobs/s", results, "raw", "burst")
        + (f" ({f('raw', 'burst', 'threads')} spawners)" if raw_rate else ""),
        "ratio": ", ".join(ratios) or "—",
        "target": "≥ 0.9 × raw",
        "met": verdict(burst_ok),
    })

    conc = f"concurrent: {sizes['concurrent']} × `sleep {sizes['concurrent_secs']}` at once"
    lane_wall, raw_wall = f("lane", "concurrent", "wall_s"), f("raw", "concurrent", "wall_s")
    rows.append({
        "scenario": conc + ": wall",
        "meanwhile": fmt(lane_wall, "{:.2f} s", results, "lane", "concurrent"),
        "reference": fmt(f("seed", "concurrent", "wall_s"), "{:.2f} s", results, "seed",
                         "concurrent"),
        "raw": fmt(raw_wall, "{:.2f} s", results, "raw", "concurrent")
        + (f" (spawning: {f('raw', 'concurrent', 'spawn_all_s'):.2f} s)" if raw_wall else ""),
        "ratio": "—" if not (lane_wall and raw_wall) else f"lane {lane_wall / raw_wall:.2f}× raw",
        "target": "≤ 2.3 s",
        "met": verdict(None if lane_wall is None else lane_wall <= 2.3),
    })
    threads = f("lane", "concurrent", "peak_threads")
    rows.append({
        "scenario": conc + ": threads in the host",
        "meanwhile": fmt(threads, "{}", results, "lane", "concurrent"),
        "reference": fmt(f("seed", "concurrent", "threads"), "{}", results, "seed", "concurrent"),
        "raw": "—", "ratio": "—", "target": "≤ 4",
        "met": verdict(None if threads is None else threads <= 4),
    })
    rss = f("lane", "concurrent", "peak_rss_mib")
    rows.append({
        "scenario": conc + ": host peak RSS",
        "meanwhile": fmt(rss, "{:.1f} MiB", results, "lane", "concurrent"),
        "reference": fmt(f("seed", "concurrent", "peak_rss_mib"), "{:.1f} MiB", results, "seed",
                         "concurrent"),
        "raw": "—", "ratio": "—", "target": "≤ 40 MiB",
        "met": verdict(None if rss is None else rss <= 40),
    })

    gb = sizes["bigout"] / 1e9
    lane_big, raw_big = f("lane", "bigout", "wall_s"), f("raw", "bigout", "wall_s")
    logged = f("lane", "bigout", "bytes_logged")
    complete = logged == sizes["bigout"]
    rows.append({
        "scenario": f"bigout: one job printing {gb:g} GB: wall",
        "meanwhile": fmt(lane_big, "{:.2f} s", results, "lane", "bigout")
        + ("" if lane_big is None or complete else f" (only {logged} bytes logged)"),
        "reference": fmt(f("seed", "bigout", "wall_s"), "{:.2f} s", results, "seed", "bigout"),
        "raw": fmt(raw_big, "{:.2f} s to a file", results, "raw", "bigout"),
        "ratio": "—" if not (lane_big and raw_big) else f"lane {lane_big / raw_big:.2f}× raw",
        "target": "≤ 1.15 × raw",
        "met": verdict(None if not (lane_big and raw_big)
                       else lane_big <= 1.15 * raw_big and complete),
    })
    big_rss = f("lane", "bigout", "peak_rss_mib")
    rows.append({
        "scenario": f"bigout: one job printing {gb:g} GB: host peak RSS",
        "meanwhile": fmt(big_rss, "{:.1f} MiB", results, "lane", "bigout"),
        "reference": fmt(f("seed", "bigout", "peak_rss_mib"), "{:,.0f} MiB", results, "seed",
                         "bigout"),
        "raw": "—", "ratio": "—", "target": "≤ 32 MiB",
        "met": verdict(None if big_rss is None else big_rss <= 32),
    })

    grand = f("lane", "grandchild", "done_after_ms")
    rows.append({
        "scenario": "grandchild: `sleep 20 & echo hi` → finished note",
        "meanwhile": fmt(grand, "{:.1f} ms", results, "lane", "grandchild"),
        "reference": fmt(f("seed", "grandchild", "done_after_s"), "{:.2f} s", results, "seed",
                         "grandchild"),
        "raw": "at once", "ratio": "—", "target": "≤ 50 ms",
        "met": verdict(None if grand is None else grand <= 50),
    })
    rows.append({
        "scenario": f"exit → note: job's last act (stamp) → note received, p50 / p99 "
                    f"({sizes['exitnote']}×)",
        "meanwhile": pair_ms(results, "lane", "exitnote", "p50_us", "p99_us", 1e-3),
        "reference": "—", "raw": "—", "ratio": "—", "target": "(measured)", "met": "—",
    })
    return rows


def slurm_rows(results):
    """The Slurm executor against Slurm's own tools (bench/slurm_bench.cc)."""
    block = results.get("slurm")
    if not block:
        return []
    if "error" in block and "end_to_note_ms" not in block:
        why = "failed: " + str(block.get("error"))[:80]
        if "skipped" in block:
            why = "skipped: " + block["skipped"]
        return [{"scenario": "slurm (single-node cluster)", "meanwhile": why, "reference": "—",
                 "raw": "—", "ratio": "—", "target": "—", "met": NOT_MEASURED}]
    note, wait = block.get("end_to_note_ms"), block.get("end_to_sbatch_wait_ms")
    lane_s, plain_s = block.get("array_lane_s"), block.get("sbatch_plain_s")
    n, tasks = block.get("n"), block.get("tasks")
    return [{
        "scenario": f"slurm: submit → running, median ({n}×, single-node cluster)",
        "meanwhile": fmt(block.get("submit_to_running_ms"), "{:.0f} ms"), "reference": "—",
        "raw": "—", "ratio": "—", "target": "(measured)", "met": "—",
    }, {
        "scenario": f"slurm: job's end (stamp) → finished note, median ({n}×)",
        "meanwhile": fmt(note, "{:.0f} ms") + fmt(block.get("end_to_note_max_ms"),
                                                   " (max {:.0f} ms)"),
        "reference": "—", "raw": fmt(wait, "{:.0f} ms `sbatch --wait` returns"),
        "ratio": "—" if note is None or wait is None else f"note {note / wait:.2f}× sbatch --wait",
        "target": "≤ sbatch --wait, ≤ 1 s",
        "met": verdict(None if note is None or wait is None else note <= wait and note <= 1000),
    }, {
        "scenario": f"slurm: {tasks} tasks: one array (`shards`) → note, vs {tasks} `sbatch` calls "
                    f"→ all ended",
        "meanwhile": fmt(lane_s, "{:.2f} s"), "reference": "—",
        "raw": fmt(plain_s, "{:.2f} s") + fmt(block.get("sbatch_calls_s"),
                                              " (the calls: {:.2f} s)"),
        "ratio": "—" if lane_s is None or not plain_s else f"array {lane_s / plain_s:.2f}× plain",
        "target": "(measured)", "met": "—",
    }]


def agent_rows(results):
    rows = []
    ours = results.get("agent", {}).get("meanwhile") or {}
    claude = results.get("agent", {}).get("claude")

    def cell(block, key, pattern, spread=True):
        if block is None:
            return "not run (--with-claude-code)"
        value = block.get(key) if isinstance(block.get(key), dict) else None
        if value is None:
            return "failed: " + str(block.get("error", "no figure"))[:60] if block else \
                NOT_MEASURED
        text = pattern.format(value["median"])
        if spread and block.get("runs", 0) > 1:
            text += " (" + pattern.format(value["min"]) + "–" + pattern.format(value["max"]) + ")"
        return text

    def median(block, key):
        value = (block or {}).get(key)
        return value.get("median") if isinstance(value, dict) else None

    name = "agent, 2 s background job"
    specs = [
        ("exit_to_request_ms", "job exit → next model request (median, min–max)", "{:.1f} ms",
         "< 5 ms",
         lambda v: v < 5),
        ("peak_rss_mib", "peak RSS", "{:.1f} MiB", "< 20 MiB", lambda v: v < 20),
        ("overhead_s", "wall time over the 2 s", "{:.3f} s", "—", None),
        ("start_to_first_request_ms", "start → first model request", "{:.1f} ms", "—", None),
    ]
    for key, label, pattern, target, check in specs:
        mine, theirs = median(ours, key), median(claude, key)
        ratio = "—"
        if mine and theirs:
            ratio = f"Claude Code {theirs / mine:.1f}× ours"
        rows.append({
            "scenario": f"{name}: {label}",
            "meanwhile": cell(ours, key, pattern),
            "reference": "—", "raw": "—",
            "claude": cell(claude, key, pattern),
            "ratio": ratio, "target": target,
            "met": "—" if check is None else verdict(None if mine is None else check(mine)),
        })
    return rows


def build_rows(results):
    rows = lane_rows(results) + slurm_rows(results) + agent_rows(results)
    for row in rows:
        row.setdefault("claude", "—")
    return rows


COLUMNS = [("scenario", "scenario"), ("meanwhile", "meanwhile"),
           ("reference", "reference design"), ("raw", "raw limit"),
           ("claude", "Claude Code"), ("ratio", "ratio(s)"), ("target", "target"),
           ("met", "met?")]


def render_markdown(rows):
    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |",
             "|" + "|".join("---" for _ in COLUMNS) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(key, "—")) for key, _ in COLUMNS) + " |")
    return "\n".join(lines)
