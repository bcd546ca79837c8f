"""The one generator interface every back-end implements (the factory that picks one: synthneg.llm.factory)."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any, Literal

from synthneg.llm.types import ChatRequest, GenerationResult

Backend = Literal["llamacpp", "openai", "transformers"]
ResultCallback = Callable[[int, GenerationResult], None]


class Generator(abc.ABC):
    """A batch of chat requests in, one :class:`GenerationResult` per request out (same order).

    ``on_result(index, result)`` is called as soon as each call finishes (in completion order), so
    callers can persist every finished call at once. Back-ends never raise for a single failed call:
    they return a result with ``finish_reason="error"``; they raise only when they cannot run at all.
    """

    #: A stable identity of the model (part of every content-addressed cache key).
    model_id: str

    @abc.abstractmethod
    def generate(
        self, requests: Sequence[ChatRequest], on_result: ResultCallback | None = None
    ) -> list[GenerationResult]:
        """Run every request; see the class docstring."""

    def describe(self) -> dict[str, Any]:
        """Provenance of the back-end (JSON-compatible, never a credential)."""
        return {"backend": type(self).__name__, "model_id": self.model_id}

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Free the model or connections (nothing to free by default)."""

    def __enter__(self) -> Generator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
