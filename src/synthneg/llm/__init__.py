"""LLM access: the embedded GGUF registry and generator back-ends."""

from synthneg.llm.registry import EMBEDDED_LLMS, EmbeddedModel, resolve_gguf

__all__ = ["EMBEDDED_LLMS", "EmbeddedModel", "resolve_gguf"]
