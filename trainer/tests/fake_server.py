"""A tiny in-process stand-in for the server's worker routes (shared/schemas/training.ts) that
records every request: enough to drive one worker through a job. Not a model of the queue."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qs, urlparse


class FakeServer:
    """jobs: LeasedJob JSON handed out in order by /lease; pages: the dataset pages by cursor;
    pool_pages: active learning's pool pages by cursor; blobs: sha256 → bytes (slow_blobs: sha256
    → seconds to wait before answering). heartbeat_reply(n) answers the n-th heartbeat (status,
    JSON)."""

    def __init__(self, token: str = "secret"):
        self.token = token
        self.jobs: List[Dict[str, Any]] = []
        self.pages: Dict[str, Dict[str, Any]] = {}
        self.pool_pages: Dict[str, Dict[str, Any]] = {}
        self.blobs: Dict[str, bytes] = {}
        self.slow_blobs: Dict[str, float] = {}
        self.requests: List[Dict[str, Any]] = []
        self.files: Dict[str, bytes] = {}
        self.checkpoints: List[bytes] = []
        self.heartbeats = 0
        self.heartbeat_reply = lambda n: (200, {"cancel": False, "leaseSeconds": 30})
        # Path suffix → statuses to answer first (then the route's own answer).
        self.script: Dict[str, List[int]] = {}
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: Any = None, raw: Optional[bytes] = None) -> None:
                data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream" if raw is not None else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length) if length else b""
                url = urlparse(self.path)
                entry: Dict[str, Any] = {"method": method, "path": url.path, "query": parse_qs(url.query),
                                         "auth": self.headers.get("Authorization"), "type": self.headers.get("Content-Type")}
                if payload and entry["type"] == "application/json":
                    entry["json"] = json.loads(payload)
                else:
                    entry["bytes"] = len(payload)
                with server.lock:
                    server.requests.append(entry)
                if entry["auth"] != f"Bearer {server.token}":
                    return self._reply(401, {"error": "bad worker token"})
                status, body, raw = server.route(method, url.path, parse_qs(url.query), entry.get("json"), payload)
                self._reply(status, body, raw)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FakeServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def add_blob(self, data: bytes) -> Dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        self.blobs[digest] = data
        return {"url": f"/blobs/{digest}", "sha256": digest, "bytes": len(data)}

    def route(self, method: str, path: str, query: Dict[str, List[str]], body: Any, payload: bytes):
        parts = path.strip("/").split("/")
        for suffix, statuses in self.script.items():
            if path.endswith(suffix) and statuses:
                status = statuses.pop(0)
                body = {"error": "scripted", "code": "lease-lost"} if status == 409 else {"error": f"scripted {status}"}
                return status, body, None
        if method == "POST" and path == "/api/worker/lease":
            with self.lock:
                job = self.jobs.pop(0) if self.jobs else None
            return 200, {"job": job}, None
        if method == "GET" and parts[0] == "blobs":
            time.sleep(self.slow_blobs.get(parts[1], 0.0))
            data = self.blobs.get(parts[1])
            return (200, None, data) if data is not None else (404, {"error": "no such blob"}, None)
        if method == "GET" and parts[-1] == "dataset":
            return 200, self.pages[query.get("cursor", ["0"])[0]], None
        if method == "GET" and parts[-1] == "pool":
            return 200, self.pool_pages[query.get("cursor", ["0"])[0]], None
        if method == "POST" and parts[-1] == "heartbeat":
            with self.lock:
                self.heartbeats += 1
                count = self.heartbeats
            status, reply = self.heartbeat_reply(count)
            return status, reply, None
        if method == "PUT" and parts[-2] == "files":
            self.files[parts[-1]] = payload
            return 200, {"sha256": hashlib.sha256(payload).hexdigest(), "bytes": len(payload)}, None
        if method == "PUT" and parts[-1] == "checkpoint":
            self.checkpoints.append(payload)
            self.add_blob(payload)
            return 204, None, None
        if method == "POST" and parts[-1] == "complete":
            return 200, {"version": {"id": 7, "name": "p1-v1"}, "promoted": True}, None
        if method == "POST" and parts[-1] == "fail":
            return 204, None, None
        return 404, {"error": f"no route {method} {path}"}, None

    def calls(self, suffix: str, method: Optional[str] = None) -> List[Dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith(suffix) and (method is None or r["method"] == method)]
