"""The OpenAI-compatible back-end against a real llama.cpp server behind a fault-injecting proxy.

The proxy answers the first requests with a 500, a 429 + Retry-After, a garbage body and truncated
JSON, without forwarding them (so they cost nothing), then forwards. The run must complete, every fault
must be retried, no request body may reach the real server twice, a rerun must pay for nothing, and the
API key must appear in no log or output file. A stall past the client's timeout is in the fast test's
schedule (a fake upstream, a 1 s timeout): against llama.cpp the timeout has to outlast a real call on
a loaded CPU, so a stall there cost 15 s of waiting and tested nothing more.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from synthneg.generate import generate_queries
from synthneg.llm.openai_compat import OpenAIGenerator, parse_retry_after

from llm_support import arxiv_documents, free_port, gguf_path, subprocess_env

SECRET = "sk-test-9f3c2e7d-do-not-leak"
FAULTS = {1: "500", 2: "429", 3: "stall", 4: "garbage", 5: "truncated"}
SERVER_FAULTS = {i + 1: f for i, f in enumerate(f for f in FAULTS.values() if f != "stall")}
TIMEOUT = 15.0


def test_parse_retry_after():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0


class FaultProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, stall_s: float = 2.5, faults: dict[int, str] = FAULTS) -> None:
        self.upstream = upstream
        self.stall_s = stall_s
        self.faults = faults
        self.lock = threading.Lock()
        self.received = 0
        self.faults_sent: list[str] = []
        self.forwarded: list[str] = []
        self.auth_seen: set[str] = set()
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: FaultProxy

    def log_message(self, *args: object) -> None:  # keep test output clean
        return

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        srv = self.server
        with srv.lock:
            srv.received += 1
            fault = srv.faults.get(srv.received)
            srv.auth_seen.add(self.headers.get("Authorization", ""))
            if fault:
                srv.faults_sent.append(fault)
        try:
            if fault == "500":
                self._send(500, b'{"error": "injected"}')
            elif fault == "429":
                self._send(429, b'{"error": "slow down"}', {"Retry-After": "1"})
            elif fault == "stall":
                time.sleep(srv.stall_s)
                self._send(200, b"{}")
            elif fault == "garbage":
                self._send(200, b"<html>502 bad gateway</html>")
            elif fault == "truncated":
                self._send(200, b'{"id": "x", "choices": [{"message": {"content": "hal')
            else:
                resp = httpx.post(
                    srv.upstream + self.path.removeprefix("/v1"),
                    content=body,
                    headers={
                        "Authorization": self.headers.get("Authorization", ""),
                        "Content-Type": "application/json",
                    },
                    timeout=300,
                )
                with srv.lock:
                    srv.forwarded.append(hashlib.sha256(body).hexdigest())
                self._send(resp.status_code, resp.content)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on a stalled request, as it should


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    model = gguf_path()
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "2048",
                "--api_key",
                SECRET,
                "--model_alias",
                "qwen",
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=subprocess_env(tmp_path_factory.mktemp("cache")),
        )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(240):
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
            try:
                if (
                    httpx.get(f"{base}/models", headers={"Authorization": f"Bearer {SECRET}"}, timeout=2).status_code
                    == 200
                ):
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_faults_are_retried_nothing_paid_twice_key_never_leaks(llama_server, arxiv_path, tmp_path, monkeypatch, caplog):
    proxy = FaultProxy(llama_server, faults=SERVER_FAULTS)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    monkeypatch.setenv("SYNTHNEG_TEST_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    docs = arxiv_documents(arxiv_path, 3, max_words=90)
    out = tmp_path / "out"
    gen = OpenAIGenerator(
        "qwen",
        base_url=f"http://127.0.0.1:{proxy.server_port}/v1",
        api_key_env="SYNTHNEG_TEST_KEY",
        concurrency=2,
        timeout=TIMEOUT,
        max_retries=6,
        backoff=0.05,
    )
    try:
        res = generate_queries(docs, gen, out, max_attempts=2, show_progress=False)
        ledger = res.ledger.to_dict()
        assert sorted(proxy.faults_sent) == sorted(SERVER_FAULTS.values())
        assert ledger["transport_retries"] == len(SERVER_FAULTS)  # every fault retried ...
        assert ledger["failed_calls"] == 0  # ... and none lost
        assert ledger["calls"] == len(proxy.forwarded)  # each paid call reached the server exactly once
        assert len(set(proxy.forwarded)) == len(proxy.forwarded)
        rows = [json.loads(line) for line in res.output.read_text().splitlines()]
        rejects = [json.loads(line) for line in res.rejects.read_text().splitlines()]
        assert len(rows) + sum(r["gave_up"] for r in rejects) == len(docs)  # nothing silently dropped
        assert proxy.auth_seen == {f"Bearer {SECRET}"}  # the key was sent ...

        received = proxy.received
        again = generate_queries(docs, gen, out, max_attempts=2, show_progress=False)
        assert proxy.received == received and again.ledger.calls == 0  # a rerun pays for nothing
        assert again.output.read_text() == res.output.read_text()
    finally:
        proxy.shutdown()
    # ... and is written nowhere
    for f in out.rglob("*"):
        assert SECRET not in f.read_text(errors="ignore"), f
    assert SECRET not in caplog.text
    assert SECRET not in repr(gen) and SECRET not in json.dumps(gen.describe())


class _FakeLLM(BaseHTTPRequestHandler):
    """A stand-in OpenAI-compatible server: answers every chat request with a fixed valid query."""

    def log_message(self, *args: object) -> None:
        return

    def do_POST(self) -> None:
        json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        body = json.dumps(
            {
                "choices": [
                    {
                        "message": {"role": "assistant", "content": "how does heat move in graphene?"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 50, "completion_tokens": 8},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_retries_against_a_fake_server_fast(tmp_path, monkeypatch, caplog):
    """The same fault schedule without llama.cpp (seconds, runs everywhere)."""
    from synthneg.data.beir import Document

    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _FakeLLM)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    proxy = FaultProxy(f"http://127.0.0.1:{upstream.server_port}")  # stalls 2.5 s, past the 1 s timeout
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    monkeypatch.setenv("SYNTHNEG_TEST_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    docs = [Document(f"d{i}", "", f"Passage number {i} about graphene heat transport and phonons.") for i in range(4)]
    gen = OpenAIGenerator(
        "fake",
        base_url=f"http://127.0.0.1:{proxy.server_port}/v1",
        api_key_env="SYNTHNEG_TEST_KEY",
        concurrency=3,
        timeout=1.0,
        max_retries=6,
        backoff=0.01,
    )
    try:
        res = generate_queries(docs, gen, tmp_path, show_progress=False)
    finally:
        proxy.shutdown()
        upstream.shutdown()
    ledger = res.ledger.to_dict()
    assert sorted(proxy.faults_sent) == sorted(FAULTS.values())
    assert ledger["transport_retries"] == len(FAULTS) and ledger["failed_calls"] == 0
    assert ledger["calls"] == len(proxy.forwarded) == len(set(proxy.forwarded)) == 4
    assert ledger["accepted"] == 4
    for f in tmp_path.rglob("*"):
        assert SECRET not in f.read_text(errors="ignore"), f
    assert SECRET not in caplog.text


def test_give_up_is_recorded_not_raised(tmp_path):
    """A server that always fails: every item ends as a recorded failure, the run still completes."""
    from synthneg.data.beir import Document

    class Always500(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Always500)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    gen = OpenAIGenerator("x", base_url=f"http://127.0.0.1:{srv.server_port}/v1", max_retries=1, backoff=0.01)
    try:
        res = generate_queries(
            [Document("d1", "", "Some passage text here.")], gen, tmp_path, max_attempts=2, show_progress=False
        )
    finally:
        srv.shutdown()
    assert res.output.read_text() == ""
    rejects = [json.loads(x) for x in res.rejects.read_text().splitlines()]
    assert [r["reason"] for r in rejects] == ["call_failed:http_503"] * 2 and rejects[-1]["gave_up"]
    assert res.ledger.to_dict()["failures"] == {"call_failed:http_503": 2}
