#!/usr/bin/env python3
# A copy of shared/tools/llm_replay.py, so the replayed measurement runs from a checkout.
"""llm_replay.py PORT DIR: an OpenAI-compatible chat server on 127.0.0.1 that replays replies.

Measures the product's LLM answer path with replies written by a capable model (no capable
model runs offline here). Every request's messages are keyed by sha256; a key found in
DIR/replies.jsonl ({"key", "reply"}) is answered with that reply, streaming or not; any other
is recorded in DIR/misses.jsonl ({"key", "messages"}) and answered with the product's own
refusal sentence, so a capture run completes. Round trip: capture, have a capable model write
replies for misses.jsonl, replay; repeat while follow-up rewrites change later prompts.
"""
import hashlib
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PORT, DIR = int(sys.argv[1]), Path(sys.argv[2])
DIR.mkdir(parents=True, exist_ok=True)
REFUSE = "I cannot find this in the articles."


def key(messages):
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()[:20]


def replies():
    path = DIR / "replies.jsonl"
    if not path.exists():
        return {}
    return {r["key"]: r["reply"] for r in map(json.loads, path.read_text().splitlines()) if r}


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def _json(self, obj, code=200):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._json({"object": "list", "data": [{"id": "replay", "object": "model"}]})

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        msgs = [{"role": m["role"], "content": m["content"]} for m in req.get("messages", [])]
        k = key(msgs)
        reply = replies().get(k)
        if reply is None:
            with open(DIR / "misses.jsonl", "a") as f:
                f.write(json.dumps({"key": k, "messages": msgs}) + "\n")
            reply = REFUSE
        with open(DIR / "log.jsonl", "a") as f:
            f.write(json.dumps({"key": k, "hit": reply is not REFUSE, "t": time.time()}) + "\n")
        base = {"id": "r-" + k, "created": int(time.time()), "model": req.get("model", "replay")}
        if not req.get("stream"):
            self._json({**base, "object": "chat.completion", "choices": [{
                "index": 0, "finish_reason": "stop",
                "message": {"role": "assistant", "content": reply}}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}})
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        words = reply.split(" ")
        for i, w in enumerate(words):
            delta = {"content": w + (" " if i < len(words) - 1 else "")}
            if i == 0:
                delta["role"] = "assistant"
            chunk = {**base, "object": "chat.completion.chunk",
                     "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        end = {**base, "object": "chat.completion.chunk",
               "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())


ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()
