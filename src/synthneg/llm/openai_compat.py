"""Any OpenAI-compatible chat server (vLLM, Ollama, llama.cpp's server, hosted APIs) over async httpx.

Bounded concurrency (a semaphore), a timeout per attempt, and retries with exponential backoff and
jitter on 429, 5xx, timeouts, connection errors and unparseable bodies; ``Retry-After`` (seconds or
an HTTP date) is honoured. 4xx other than 408/409/429 are not retried. The API key is read from an
environment variable at construction, sent only in the ``Authorization`` header, and never logged,
stored in results or described in provenance.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import random
import time
from collections.abc import Sequence
from typing import Any

import httpx

from synthneg.errors import SynthnegError
from synthneg.llm.base import Generator, ResultCallback
from synthneg.llm.types import ChatRequest, GenerationResult

logger = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class _Retryable(Exception):
    def __init__(self, kind: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class OpenAIGenerator(Generator):
    """Chat completions against ``{base_url}/chat/completions``.

    Args:
        model: the model name the server knows.
        base_url: e.g. ``http://localhost:8000/v1``.
        api_key_env: environment variable holding the key (unset or empty: no key is sent).
        concurrency: requests in flight at once.
        timeout: seconds per attempt (connect + read).
        max_retries: retries after the first attempt.
        backoff: base of the exponential backoff in seconds (capped at ``max_backoff``).
        extra_body: extra JSON fields for every request (e.g. ``{"top_k": 20}`` is sent by default
            only when ``send_top_k`` is true; hosted OpenAI rejects it, so pass ``send_top_k=False``).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "http://127.0.0.1:8000/v1",
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 6,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        send_top_k: bool = True,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        if concurrency < 1:
            raise SynthnegError("concurrency must be at least 1")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.model_id = f"openai:{model}@{self.base_url}"
        self.api_key_env = api_key_env
        self._api_key = os.environ.get(api_key_env) or None
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.send_top_k = send_top_k
        self.extra_body = dict(extra_body or {})

    def __repr__(self) -> str:
        return f"OpenAIGenerator(model={self.model!r}, base_url={self.base_url!r}, key={'set' if self._api_key else 'unset'})"

    def describe(self) -> dict[str, Any]:
        return {"backend": "openai", "model": self.model, "base_url": self.base_url, "model_id": self.model_id}

    def _body(self, req: ChatRequest) -> dict[str, Any]:
        s = req.sampling
        body: dict[str, Any] = {
            "model": self.model,
            "messages": req.messages_as_dicts(),
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "seed": s.seed,
        }
        if self.send_top_k:
            body["top_k"] = s.top_k
            body["min_p"] = s.min_p
        body.update(self.extra_body)
        return body

    async def _attempt(self, client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
        try:
            resp = await client.post("/chat/completions", json=body)
        except httpx.TimeoutException as exc:
            raise _Retryable("timeout", f"timed out after {self.timeout:g}s ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise _Retryable("connection", f"{type(exc).__name__}: {exc}") from None
        if resp.status_code in RETRY_STATUS:
            kind = "rate_limited" if resp.status_code == 429 else f"http_{resp.status_code}"
            raise _Retryable(kind, f"HTTP {resp.status_code}", parse_retry_after(resp.headers.get("retry-after")))
        if resp.status_code >= 400:
            raise SynthnegError(f"HTTP {resp.status_code} from {self.base_url}: {resp.text[:300]}")
        try:
            data = resp.json()
            data["choices"][0]["message"]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, IndexError, TypeError) as exc:
            raise _Retryable("bad_response", f"unparseable response body ({type(exc).__name__})") from None
        return data

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff * 4)
        return min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + random.random() / 2)

    async def _call(self, client: httpx.AsyncClient, sem: asyncio.Semaphore, req: ChatRequest) -> GenerationResult:
        body = self._body(req)
        t0 = time.perf_counter()
        last: _Retryable | None = None
        async with sem:
            for attempt in range(self.max_retries + 1):
                try:
                    data = await self._attempt(client, body)
                except _Retryable as exc:
                    last = exc
                    if attempt == self.max_retries:
                        break
                    delay = self._delay(attempt, exc.retry_after)
                    logger.debug("retrying after %s (%s) in %.2fs", exc.kind, exc, delay)
                    await asyncio.sleep(delay)
                    continue
                except SynthnegError as exc:
                    return GenerationResult.failure("http_client_error", str(exc), latency_s=time.perf_counter() - t0)
                choice = data["choices"][0]
                usage = data.get("usage") or {}
                return GenerationResult(
                    text=choice["message"].get("content") or "",
                    finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
                    prompt_tokens=int(usage.get("prompt_tokens") or 0),
                    completion_tokens=int(usage.get("completion_tokens") or 0),
                    latency_s=time.perf_counter() - t0,
                    raw=data,
                    retries=attempt,
                )
        assert last is not None
        return GenerationResult.failure(
            last.kind,
            f"gave up after {self.max_retries + 1} attempts: {last}",
            latency_s=time.perf_counter() - t0,
            retries=self.max_retries,
        )

    async def _run(self, requests: Sequence[ChatRequest], on_result: ResultCallback | None) -> list[GenerationResult]:
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        sem = asyncio.Semaphore(self.concurrency)
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        results: list[GenerationResult | None] = [None] * len(requests)
        async with httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=httpx.Timeout(self.timeout), limits=limits
        ) as client:

            async def one(i: int) -> None:
                res = await self._call(client, sem, requests[i])
                results[i] = res
                if on_result is not None:
                    on_result(i, res)

            await asyncio.gather(*(one(i) for i in range(len(requests))))
        return [r for r in results if r is not None]

    def generate(
        self, requests: Sequence[ChatRequest], on_result: ResultCallback | None = None
    ) -> list[GenerationResult]:
        if not requests:
            return []
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._run(requests, on_result))
        # Called from inside an event loop (e.g. Jupyter): run ours in a worker thread.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self._run(requests, on_result)).result()
