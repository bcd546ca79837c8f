"""The one generator interface every back-end implements, and the factory that picks one."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any, Literal

from synthneg.errors import SynthnegError
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


def make_generator(
    backend: Backend = "llamacpp",
    model: str | None = None,
    **options: Any,
) -> Generator:
    """Create a generator.

    - ``llamacpp``: ``model`` is an embedded name (``qwen2.5-coder-0.5b`` default, ``qwen2.5-coder-1.5b``)
      or a ``.gguf`` path; options: ``parallel`` (sequences decoded together), ``n_ctx``, ``n_threads``.
    - ``openai``: ``model`` is the server's model name; options: ``base_url``, ``api_key_env``,
      ``concurrency``, ``timeout``, ``max_retries``.
    - ``transformers``: ``model`` is a Hugging Face name or local folder; options: ``device``, ``batch_size``.
    """
    if backend == "llamacpp":
        from synthneg.llm.llamacpp import LlamaCppGenerator

        return LlamaCppGenerator(model, **options)
    if backend == "openai":
        from synthneg.llm.openai_compat import OpenAIGenerator

        if not model:
            raise SynthnegError("the openai back-end needs a model name (--model), as the server knows it")
        return OpenAIGenerator(model, **options)
    if backend == "transformers":
        from synthneg.llm.hf import TransformersGenerator

        if not model:
            raise SynthnegError("the transformers back-end needs a model name or folder (--model)")
        return TransformersGenerator(model, **options)
    raise SynthnegError(f"unknown back-end {backend!r}: use llamacpp, openai or transformers")
