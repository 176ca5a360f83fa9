#!/usr/bin/env python3
"""The agent scenario: a real agent binary, a scripted model, one 2 s background job.

The model (tests/llm's fake_model_server, answering requests in script order) starts a background
job `sleep 2; exec stamp realtime > FILE` and ends its turn; the agent must notice the job's end
by itself and send a new request carrying the result; the model then says "done".

  agent_bench.py --agent meanwhile --bin build/.../meanwhile --server .../fake_model_server \
                 --stamp .../stamp [--runs 7]
  agent_bench.py --agent claude --bin .../claude ...    (Claude Code, `claude -p`)

Per run: the job's exit (the time `stamp` wrote as its last act) to the next model request
reaching the server (the request that carries the job's result), the process's wall time and its
overhead over the 2 s, its peak RSS (wait4's ru_maxrss: the process and the jobs it reaped), and
the time from start to the first request. Claude Code needs --server
bench/tolerant_model_server.py (see there why). Prints one JSON line: medians over the good runs, and
every run.
"""
import argparse
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

JOB_SECONDS = 2.0

# What marks the request that carries the finished job's result, per agent.
RESULT_MARKERS = {"meanwhile": "<background-results>", "claude": "<task-notification>"}


def text_turn(text):
    return {"content": [{"type": "text", "text": text}], "stop_reason": "end_turn"}


def model_script(agent, command):
    """The scripted model replies: the first turn starts the job, the second ends the turn, the
    third (after the wake-up) says "done". The strict server answers them in request order; the
    tolerant one picks by the number of assistant turns in the request (same order here)."""
    if agent == "meanwhile":
        start = {"type": "tool_use", "id": "toolu_bench_1", "name": "background_run",
                 "input": {"command": command, "label": "sleep 2"}}
    else:
        start = {"type": "tool_use", "id": "toolu_bench_1", "name": "Bash",
                 "input": {"command": command, "run_in_background": True,
                           "description": "sleep 2 in the background"}}
    turns = [{"content": [start], "stop_reason": "tool_use"},
             text_turn("Started; I will wait for it."),
             text_turn("done")]
    # Spares, so that an unexpected extra request gets an answer rather than an error.
    return turns + [text_turn("done")] * 4


def agent_command(agent, binary, prompt):
    if agent == "meanwhile":
        return [binary, "--provider", "anthropic", "-p", prompt]
    return [binary, "-p", prompt, "--output-format", "stream-json", "--verbose",
            "--dangerously-skip-permissions"]


def start_server(server, script_path, log_path, work):
    port_file = os.path.join(work, "port")
    proc = subprocess.Popen([server, "--script", script_path, "--log", log_path,
                             "--port-file", port_file],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("PORT "):
            return proc, int(line.split()[1])
        if not line and proc.poll() is not None:
            break
    stop(proc)
    raise RuntimeError(f"{server} did not print 'PORT n'")


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_agent(cmd, cwd, env, timeout_s):
    """Runs the agent; returns (exit status, wall s, peak RSS MiB, start unix s, stdout)."""
    out_path = os.path.join(cwd, "..", "agent.out")
    with open(out_path, "wb") as out:
        started = time.time()
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        # A watchdog: the agent and everything it started die at the timeout.
        timer = threading.Timer(timeout_s, kill_group, (proc.pid,))
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)  # rusage of this child alone
        wall = time.monotonic() - t0
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    kill_group(proc.pid)  # leftovers of the session (there should be none)
    with open(out_path, "rb") as f:
        output = f.read().decode("utf-8", "replace")
    return proc.returncode, wall, usage.ru_maxrss / 1024.0, started, output


def one_run(args, index):
    work = tempfile.mkdtemp(prefix=f"agent_bench.{args.agent}.")
    try:
        workspace = os.path.join(work, "ws")
        home = os.path.join(work, "home")
        os.makedirs(workspace)
        os.makedirs(home)
        stamp_file = os.path.join(work, "job_exit")
        command = (f"sleep {JOB_SECONDS:g}; exec {shlex.quote(args.stamp)} realtime"
                   f" > {shlex.quote(stamp_file)}")
        script_path = os.path.join(work, "script.jsonl")
        with open(script_path, "w") as f:
            for turn in model_script(args.agent, command):
                f.write(json.dumps(turn) + "\n")
        log_path = os.path.join(work, "requests.jsonl")
        server, port = start_server(args.server, script_path, log_path, work)
        try:
            env = dict(os.environ, ANTHROPIC_BASE_URL=f"http://127.0.0.1:{port}",
                       ANTHROPIC_API_KEY="dummy", HOME=home, TMPDIR=work)
            for var in ("ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY", "OPENAI_BASE_URL",
                        "LLM_PROVIDER", "MODEL_ID"):
                env.pop(var, None)
            if args.agent == "claude":
                env.update(IS_SANDBOX="1", DISABLE_AUTOUPDATER="1", CLAUDE_CODE_TMPDIR=work)
            prompt = "Run `sleep 2` in the background and tell me when it is done."
            code, wall, rss, started, output = run_agent(
                agent_command(args.agent, args.bin, prompt), workspace, env, args.timeout)
        finally:
            stop(server)
        requests = []
        if os.path.exists(log_path):
            with open(log_path) as f:
                requests = [json.loads(line) for line in f if line.strip()]
        run = {"run": index, "exit_code": code, "wall_s": round(wall, 4),
               "overhead_s": round(wall - JOB_SECONDS, 4), "peak_rss_mib": round(rss, 1),
               "requests": len(requests)}
        if requests:
            run["start_to_first_request_ms"] = round(requests[0]["t_ms"] - started * 1e3, 2)
        marker = RESULT_MARKERS[args.agent]
        woken = [r for r in requests if marker in last_user_text(r)]
        job_exit_ms = None
        if os.path.exists(stamp_file):
            with open(stamp_file) as f:
                text = f.read().strip()
            if text.isdigit():
                job_exit_ms = int(text) / 1e6
        problems = []
        if code != 0:
            problems.append(f"exit code {code}")
        if job_exit_ms is None:
            problems.append("the job never ran (no stamp)")
        if not woken:
            problems.append(f"no request carried {marker}")
        if job_exit_ms is not None and woken:
            run["exit_to_request_ms"] = round(woken[0]["t_ms"] - job_exit_ms, 2)
            run["start_to_job_exit_s"] = round(job_exit_ms / 1e3 - started, 4)
        if problems:
            run["problems"] = problems
            run["output_tail"] = output[-600:]
        return run
    finally:
        shutil.rmtree(work, ignore_errors=True)


def last_user_text(logged):
    """The text blocks of the newest user message of a logged request, joined ("" if none).
    Only those count: system prompts and tool results may mention the marker too."""
    request = logged.get("request")
    messages = request.get("messages") if isinstance(request, dict) else None
    users = [m for m in messages or [] if isinstance(m, dict) and m.get("role") == "user"]
    if not users:
        return ""
    content = users[-1].get("content")
    if isinstance(content, str):
        return content
    return "\n".join(block.get("text", "") for block in content or []
                     if isinstance(block, dict) and block.get("type") == "text")


def summary(runs, key):
    values = [r[key] for r in runs if key in r]
    if not values:
        return None
    return {"median": round(statistics.median(values), 4), "min": min(values),
            "max": max(values)}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agent", choices=sorted(RESULT_MARKERS), required=True)
    parser.add_argument("--bin", required=True, help="the agent's binary")
    parser.add_argument("--server", required=True, help="fake_model_server")
    parser.add_argument("--stamp", required=True, help="bench/stamp")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--retries", type=int, default=2,
                        help="extra attempts for a run that went wrong (reported)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per agent run")
    args = parser.parse_args()
    for name in ("bin", "server", "stamp"):
        path = os.path.abspath(getattr(args, name))
        if not os.access(path, os.X_OK):
            sys.exit(f"agent_bench: {path} is not an executable file")
        setattr(args, name, path)

    runs, failed = [], []
    attempts = 0
    while len(runs) < args.runs and len(failed) <= args.retries:
        attempts += 1
        run = one_run(args, attempts)
        (failed if "problems" in run else runs).append(run)
        print(json.dumps(run), file=sys.stderr)
    result = {"scenario": "agent", "agent": args.agent,
              "server": os.path.basename(args.server), "runs": len(runs),
              "failed_runs": len(failed), "job_s": JOB_SECONDS}
    for key in ("exit_to_request_ms", "overhead_s", "wall_s", "peak_rss_mib",
                "start_to_first_request_ms"):
        result[key] = summary(runs, key)
    result["each"] = runs + failed
    print(json.dumps(result))
    return 0 if runs else 1


if __name__ == "__main__":
    sys.exit(main())
