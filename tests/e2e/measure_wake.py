#!/usr/bin/env python3
"""Measures the print-mode wake-up scenario for docs/PERFORMANCE.md.

For each run, in a fresh temporary workspace, `meanwhile -p` talks to fake_model_server; the
scripted model starts a 2 s background job (`sleep 2; date +%s%N > exit_ns`, the timestamp being
the job's last act) and ends its turn; meanwhile waits, and the job's end wakes it. Reported:
  wake latency   server arrival time of the wake-up request (log t_ms) - the job's timestamp
  first request  server arrival time of the first request - the moment meanwhile was spawned
  peak RSS       ru_maxrss of the meanwhile process (wait4), which includes its threads
Usage: tests/e2e/measure_wake.py BUILD_DIR [RUNS]   (e.g. build/release 10)
"""
import json, os, statistics, subprocess, sys, tempfile, time


def run_once(meanwhile, server_bin):
    with tempfile.TemporaryDirectory(prefix="mw-measure-") as ws:
        script = os.path.join(ws, "script.jsonl")
        log = os.path.join(ws, "log.jsonl")
        turns = [
            {"content": [{"type": "tool_use", "name": "background_run",
                          "input": {"command": "sleep 2; date +%s%N > exit_ns"}}]},
            {"content": [{"type": "text", "text": "Waiting for the job."}]},
            {"content": [{"type": "text", "text": "Done."}]},
        ]
        with open(script, "w") as f:
            f.write("".join(json.dumps(t) + "\n" for t in turns))
        server = subprocess.Popen([server_bin, "--script", script, "--log", log],
                                  stdout=subprocess.PIPE, text=True)
        try:
            port = int(server.stdout.readline().split()[1])
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": ws,
                   "ANTHROPIC_API_KEY": "sk-measure", "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}"}
            spawned_ms = time.time() * 1000
            proc = subprocess.Popen([meanwhile, "-p", "measure"], cwd=ws, env=env,
                                    stdout=subprocess.DEVNULL, stderr=open(os.path.join(ws, "stderr.txt"), "w"))
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                raise RuntimeError(f"meanwhile exited {proc.returncode}: " + open(os.path.join(ws, "stderr.txt")).read())
        finally:
            server.terminate()
            server.wait()
        requests = [json.loads(line) for line in open(log)]
        exit_ms = int(open(os.path.join(ws, "exit_ns")).read()) / 1e6
        return {"wake_ms": requests[2]["t_ms"] - exit_ms,
                "first_request_ms": requests[0]["t_ms"] - spawned_ms,
                "peak_rss_mib": usage.ru_maxrss / 1024}


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build/release"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    build = os.path.abspath(build)
    meanwhile = os.path.join(build, "src/cli/meanwhile")
    server_bin = os.path.join(build, "tests/llm/fake_model_server")
    results = [run_once(meanwhile, server_bin) for _ in range(runs)]
    for key, unit in (("wake_ms", "ms"), ("first_request_ms", "ms"), ("peak_rss_mib", "MiB")):
        values = sorted(r[key] for r in results)
        print(f"{key:17} median {statistics.median(values):8.2f} {unit}   "
              f"min {values[0]:8.2f}   max {values[-1]:8.2f}   ({runs} runs)")


if __name__ == "__main__":
    main()
