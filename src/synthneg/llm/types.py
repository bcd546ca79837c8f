"""Plain data passed to and from every generator back-end: chat requests, sampling and results."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

FinishReason = Literal["stop", "length", "error"]


@dataclass(frozen=True)
class SamplingParams:
    """Sampling for one call. Defaults are those reported for the paper (Qwen's recommendation).

    ``min_p`` is set to 0 explicitly: llama-cpp-python would otherwise add its own 0.05.
    ``seed`` makes every call reproducible; the engine derives a fresh one per retry.
    """

    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int = 20
    min_p: float = 0.0
    max_tokens: int = 256
    seed: int = 0

    def with_seed(self, seed: int) -> SamplingParams:
        return replace(self, seed=seed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ChatMessage:
    """One chat message (``role`` is ``system``, ``user`` or ``assistant``)."""

    role: str
    content: str


@dataclass(frozen=True)
class ChatRequest:
    """A chat completion request: the messages and how to sample the answer."""

    messages: tuple[ChatMessage, ...]
    sampling: SamplingParams = field(default_factory=SamplingParams)

    def messages_as_dicts(self) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.content} for m in self.messages]


@dataclass
class GenerationResult:
    """What one call returned.

    ``finish_reason`` is ``stop`` (end of answer), ``length`` (max tokens reached) or ``error``
    (the call failed after its retries; ``error_kind`` and ``error`` say why, ``text`` is empty).
    ``raw`` is the back-end's response object as JSON-compatible data (never any credential).
    """

    text: str
    finish_reason: FinishReason
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    raw: dict[str, Any] | None = None
    error_kind: str | None = None
    error: str | None = None
    retries: int = 0

    @property
    def ok(self) -> bool:
        return self.finish_reason != "error"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationResult:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    @classmethod
    def failure(cls, kind: str, message: str, *, latency_s: float = 0.0, retries: int = 0) -> GenerationResult:
        return cls(text="", finish_reason="error", latency_s=latency_s, error_kind=kind, error=message, retries=retries)
