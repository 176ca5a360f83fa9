#!/usr/bin/env python3
"""A lenient scripted Anthropic Messages API for agents the strict test server cannot serve.

  tolerant_model_server.py --script FILE [--log FILE] [--port-file PATH]

Same command line, script format (JSONL: {"content": [blocks], "stop_reason": ...}) and log
format ({"t_ms": arrival unix ms, "request": body} per line) as tests/llm's fake_model_server,
but chosen for Claude Code, which that server rejects (its `messages` carry role "system"
entries) and which makes side requests (a session title) that may or may not come first:
- a request without tools is a side request: answered with a short text, script untouched;
- a request with tools gets script entry K, K = the number of assistant messages it carries
  (entry 0 for the first turn, 1 after one reply, ...), so order and retries do not matter.
Prints "PORT n" on stdout once listening; runs until SIGTERM.
"""
import argparse
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SIDE_REPLY = {"content": [{"type": "text", "text": "Background benchmark"}],
              "stop_reason": "end_turn"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script = []
    log_file = None
    log_lock = threading.Lock()
    counter = 0

    def log_message(self, *args):  # no stderr chatter
        pass

    def reply(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.reply(200, b"{}")

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("content-length", 0)))
        arrival_ms = time.time() * 1e3
        try:
            request = json.loads(raw)
        except ValueError:
            self.reply(400, b'{"type":"error","error":{"type":"invalid_request_error",'
                            b'"message":"body is not JSON"}}')
            return
        with Handler.log_lock:
            Handler.counter += 1
            number = Handler.counter
            if Handler.log_file:
                Handler.log_file.write(json.dumps({"t_ms": arrival_ms, "path": self.path,
                                                   "request": request}) + "\n")
                Handler.log_file.flush()
        if "count_tokens" in self.path:
            self.reply(200, b'{"input_tokens": 10}')
            return
        messages = request.get("messages") or []
        if request.get("tools"):
            turn = sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "assistant")
            entry = self.script[min(turn, len(self.script) - 1)]
        else:
            entry = SIDE_REPLY
        message = {"id": f"msg_bench_{number}", "type": "message", "role": "assistant",
                   "model": request.get("model", "bench"), "content": [], "stop_reason": None,
                   "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1}}
        if not request.get("stream"):
            message.update(content=entry["content"], stop_reason=entry["stop_reason"])
            self.reply(200, json.dumps(message).encode())
            return
        self.reply(200, sse(message, entry), "text/event-stream")


def sse(message, entry):
    events = []

    def event(kind, data):
        data["type"] = kind
        events.append(f"event: {kind}\ndata: {json.dumps(data)}\n\n")

    event("message_start", {"message": message})
    for index, block in enumerate(entry["content"]):
        if block["type"] == "tool_use":
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        else:
            start = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        event("content_block_start", {"index": index, "content_block": start})
        event("content_block_delta", {"index": index, "delta": delta})
        event("content_block_stop", {"index": index})
    event("message_delta", {"delta": {"stop_reason": entry["stop_reason"], "stop_sequence": None},
                            "usage": {"output_tokens": 1}})
    event("message_stop", {})
    return "".join(events).encode()


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--script", required=True)
    parser.add_argument("--log")
    parser.add_argument("--port-file")
    parser.add_argument("--no-auth", action="store_true", help="accepted; auth is never checked")
    args = parser.parse_args()
    with open(args.script) as f:
        Handler.script = [json.loads(line) for line in f if line.strip()]
    if not Handler.script:
        sys.exit(f"tolerant_model_server: {args.script} has no entries")
    if args.log:
        Handler.log_file = open(args.log, "a")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file, "w") as f:
            f.write(f"{port}\n")
    print(f"PORT {port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()


if __name__ == "__main__":
    main()
