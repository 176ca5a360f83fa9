#!/usr/bin/env python3
"""Runs every benchmark scenario and prints one table; scripts/bench builds and calls this.

  run_bench.py --build DIR [--seed PATH] [--quick] [--with-claude-code CLAUDE_BIN]
               [--results bench/results.json]

Columns: the lane or agent (meanwhile), the reference design (the seed's Python runner), the raw
limit (bench/raw_spawn), Claude Code (agent rows, with --with-claude-code), ratios, the target and
whether it is met. Every figure also goes to the results file as JSON. A part that cannot run
(a binary not built, no seed runner) is reported as not measured, never guessed.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_table import build_rows, render_markdown  # noqa: E402


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run_json(cmd, timeout, label):
    """Runs a scenario; returns its last JSON line as a dict, or {"error": why}."""
    log(f"{label}: {' '.join(cmd)}")
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    except OSError as e:
        return {"error": str(e)}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    figures = {}
    if lines:
        try:
            figures = json.loads(lines[-1])
        except json.JSONDecodeError:
            pass
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        figures["error"] = f"exit {proc.returncode}: {tail}"
    elif not figures:
        figures = {"error": "printed no JSON"}
    log(f"  {time.monotonic() - started:.1f} s: {json.dumps(figures)[:300]}")
    return figures


def machine():
    cpu, virtual = "unknown", False
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and cpu == "unknown":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                virtual = " hypervisor" in line
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return {"nproc": os.cpu_count(), "kernel": platform.release(), "cpu": cpu,
            "memory_gib": round(mem_kib / 2**20, 1), "virtual_machine": virtual,
            "python": platform.python_version()}


def same_server_note(figures):
    """meanwhile's figures on Claude Code's server, for a like-for-like reading."""
    def median(key):
        value = (figures or {}).get(key)
        return value.get("median") if isinstance(value, dict) else None
    exit_ms, rss = median("exit_to_request_ms"), median("peak_rss_mib")
    if exit_ms is None or rss is None:
        return " (meanwhile on the tolerant server: not measured)."
    return (f"; on the tolerant server meanwhile measures {exit_ms:.1f} ms job exit → next "
            f"request and {rss:.1f} MiB peak RSS (medians).")


def executable(path):
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


def run_slurm(build, stamp, work, quick):
    """The Slurm scenario on a throwaway single-node cluster (tests/support/slurm_cluster.sh);
    skipped, with the reason, when it cannot run here (not root, no Slurm)."""
    bench = executable(os.path.join(build, "bench", "slurm_bench"))
    script = os.path.join(HERE, "..", "tests", "support", "slurm_cluster.sh")
    if not bench or not stamp:
        return {"error": "slurm_bench not built"}
    if os.geteuid() != 0 or not shutil.which("sbatch"):
        return {"error": "skipped", "skipped": "needs root and slurm-wlm (scripts/setup)"}
    cluster = os.path.join(work, "slurm")
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)  # munged runs as the munge user and must reach the cluster
    started = subprocess.run([script, "start", cluster], capture_output=True, text=True,
                             timeout=180)
    if started.returncode != 0:
        return {"error": "the cluster did not start: " + started.stderr.strip()[-200:]}
    env = dict(os.environ)
    for line in started.stdout.splitlines():
        key, _, value = line.partition("=")
        if key == "SLURM_CONF":
            env["SLURM_CONF"] = value
    try:
        n, tasks = ("2", "10") if quick else ("5", "100")
        log(f"slurm: {bench} {n} {tasks}")
        start = time.monotonic()
        proc = subprocess.run([bench, n, tasks, "--stamp", stamp, "--dir", work],
                              capture_output=True, text=True, timeout=900, env=env)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-200:]}"}
        figures = json.loads(lines[-1])
        log(f"  {time.monotonic() - start:.1f} s: {lines[-1][:300]}")
        return figures
    except (subprocess.TimeoutExpired, json.JSONDecodeError) as e:
        return {"error": str(e)[:200]}
    finally:
        subprocess.run([script, "stop", cluster], capture_output=True, timeout=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", required=True, help="the Release build directory")
    parser.add_argument("--seed", help="seed_runner.py (the reference design)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--with-claude-code", metavar="CLAUDE_BIN")
    parser.add_argument("--claude-code-version", default="")
    parser.add_argument("--results", default=os.path.join(HERE, "results.json"))
    args = parser.parse_args()

    quick = args.quick
    sizes = {
        "roundtrip": 200 if quick else 1000,
        "burst": 500 if quick else 2000,
        "concurrent": 200 if quick else 1000,
        "concurrent_secs": 2,
        "bigout": 100_000_000 if quick else 1_000_000_000,
        "exitnote": 50 if quick else 200,
        "watchdog": 10 if quick else 40,
        "lines": 50_000_000 if quick else 200_000_000,
        "agent_runs": 3 if quick else 7,
    }
    build = os.path.abspath(args.build)
    raw = executable(os.path.join(build, "bench", "raw_spawn"))
    lane = executable(os.path.join(build, "bench", "lane_bench"))
    stamp = executable(os.path.join(build, "bench", "stamp"))
    agent = executable(os.path.join(build, "src", "cli", "meanwhile"))
    server = executable(os.path.join(build, "tests", "llm", "fake_model_server"))
    seed = args.seed if args.seed and os.path.isfile(args.seed) else None
    python = sys.executable or shutil.which("python3")

    results = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
               "machine": machine(), "quick": quick, "sizes": sizes,
               "raw": {}, "seed": {}, "lane": {}, "agent": {}, "missing": []}
    missing = results["missing"]
    results["load_before"] = [round(x, 2) for x in os.getloadavg()]
    work = tempfile.mkdtemp(prefix="meanwhile-bench.")  # bigout files: same disk for both
    total_start = time.monotonic()
    try:
        n_rt, n_burst, n_conc = sizes["roundtrip"], sizes["burst"], sizes["concurrent"]
        secs, big = sizes["concurrent_secs"], sizes["bigout"]
        base = ["--dir", work] + (["--stamp", stamp] if stamp else [])
        seed_cmd = [python, seed] if seed and python else None
        # Scenario by scenario, the three designs back to back: a load that changes during the
        # run then weighs on all three alike.
        plan = [  # (scenario, raw args, lane args, seed args, timeout s)
            ("roundtrip", ["roundtrip", str(n_rt)], ["roundtrip", str(n_rt)] + base,
             ["roundtrip", str(n_rt)], 300),
            ("burst", ["burst", str(n_burst)], ["burst", str(n_burst)] + base,
             ["burst", str(n_burst)], 300),
            ("concurrent", ["concurrent", str(n_conc), str(secs)],
             ["concurrent", str(n_conc), str(secs)] + base,
             ["concurrent", str(n_conc), str(secs)], 300),
            ("bigout", ["bigout", str(big), os.path.join(work, "raw.out")],
             ["bigout", str(big)] + base, ["bigout", str(big)], 600),
            ("grandchild", None, ["grandchild"] + base, ["grandchild"], 120),
            ("exitnote", None, ["exitnote", str(sizes["exitnote"])] + base, None, 300),
            ("lines", None, ["lines", str(sizes["lines"])] + base, None, 300),
            ("watchdog", None, ["watchdog", str(sizes["watchdog"])] + base, None, 300),
        ]
        for scenario, raw_args, lane_args, seed_args, timeout in plan:
            sync = scenario == "bigout"  # each writes 1 GB: start from clean page cache
            if raw and raw_args:
                if sync:
                    os.sync()
                results["raw"][scenario] = run_json([raw] + raw_args, timeout, f"raw {scenario}")
            if lane:
                if sync:
                    os.sync()
                results["lane"][scenario] = run_json([lane] + lane_args, timeout,
                                                     f"lane {scenario}")
                # What the watchdog and the tracing without cgroups cost: the same scenario
                # without them, right after.
                if scenario in ("roundtrip", "burst", "watchdog"):
                    results["lane"][scenario + "_no_watchdog"] = run_json(
                        [lane] + lane_args + ["--no-watchdog"], timeout,
                        f"lane {scenario} without the watchdog")
                if scenario == "lines":  # what the watch matcher costs (RE2; nothing matches)
                    results["lane"]["lines_watched"] = run_json(
                        [lane] + lane_args + ["--watch", "error|FAIL(ED)?|panic: .*"], timeout,
                        "lane lines with a watch pattern")
                if scenario in ("roundtrip", "burst"):
                    results["lane"][scenario + "_no_cgroups"] = run_json(
                        [lane] + lane_args + ["--no-cgroups"], timeout,
                        f"lane {scenario} without cgroups (tracing by parentage)")
                if scenario == "roundtrip" and os.path.isdir("/dev/shm"):
                    # diagnostic: the same with the lane's data dir in memory
                    results["lane"]["roundtrip_tmpfs"] = run_json(
                        [lane, "roundtrip", str(n_rt), "--dir", "/dev/shm"], timeout,
                        "lane roundtrip (data dir on tmpfs)")
            if seed_cmd and seed_args:
                if scenario == "grandchild" and quick:
                    results["seed"][scenario] = {"skipped": "--quick (20 s by design)"}
                else:
                    results["seed"][scenario] = run_json(seed_cmd + seed_args, timeout,
                                                         f"seed {scenario}")
        if not raw:
            missing.append("raw_spawn not built")
        if not lane:
            missing.append("lane_bench not built (the lane library did not build or link)")
        if not seed_cmd:
            missing.append("seed_runner.py not found (expected at ../shared/baselines beside "
                           "the repository): reference design not measured")

        results["slurm"] = run_slurm(build, stamp, work, quick)

        agent_cmd = [python, os.path.join(HERE, "agent_bench.py"), "--server", server or "",
                     "--stamp", stamp or "", "--runs", str(sizes["agent_runs"])]
        if agent and server and stamp:
            results["agent"]["meanwhile"] = run_json(
                agent_cmd + ["--agent", "meanwhile", "--bin", agent], 600, "agent meanwhile")
        else:
            missing.append("agent scenario not run: "
                           + ", ".join(name for name, path in
                                       (("meanwhile", agent), ("fake_model_server", server),
                                        ("stamp", stamp)) if not path) + " not built")
        if args.with_claude_code:
            # The strict test server rejects Claude Code's requests (see tolerant_model_server.py):
            # both agents also run against the tolerant one, so one pair shares a server.
            tolerant = os.path.join(HERE, "tolerant_model_server.py")
            lenient_cmd = [python, os.path.join(HERE, "agent_bench.py"), "--server", tolerant,
                           "--stamp", stamp or "", "--runs", str(sizes["agent_runs"])]
            claude = executable(args.with_claude_code)
            if claude and stamp:
                figures = run_json(lenient_cmd + ["--agent", "claude", "--bin", claude], 600,
                                   "agent claude-code")
                figures["version"] = args.claude_code_version
                results["agent"]["claude"] = figures
            else:
                results["agent"]["claude"] = {"error": "not runnable"}
                missing.append(f"Claude Code not run: {args.with_claude_code} is not runnable")
            if agent and stamp:
                results["agent"]["meanwhile_tolerant"] = run_json(
                    lenient_cmd + ["--agent", "meanwhile", "--bin", agent], 600,
                    "agent meanwhile (tolerant server)")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    results["total_s"] = round(time.monotonic() - total_start, 1)
    results["load_after"] = [round(x, 2) for x in os.getloadavg()]
    results["rows"] = build_rows(results)
    with open(args.results, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    m = results["machine"]
    print(f"\nmeanwhile benchmarks, {results['date']}{' (--quick)' if quick else ''}: "
          f"{m['nproc']} cores, {m['cpu']}{' (VM)' if m['virtual_machine'] else ''}, "
          f"kernel {m['kernel']}\n")
    print(render_markdown(results["rows"]))
    busy = max(results["load_before"][0], results["load_after"][0])
    if busy > 0.5 * (m["nproc"] or 1):
        print(f"\nwarning: the machine was busy (1-min load average up to {busy:.1f} on "
              f"{m['nproc']} cores): other work competed with the scenarios, so timings are "
              "pessimistic and noisy. Run again on an idle machine for reference figures.")
    if args.with_claude_code:
        print(f"\nClaude Code {args.claude_code_version or '(version unknown)'} runs against "
              "bench/tolerant_model_server.py; meanwhile against tests/llm's fake_model_server"
              + same_server_note(results["agent"].get("meanwhile_tolerant")))
    for line in missing:
        print(f"\nnot measured: {line}")
    print(f"\nall figures: {args.results} ({results['total_s']} s of scenarios)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
