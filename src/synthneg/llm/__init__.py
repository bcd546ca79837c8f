"""LLM access: one generator interface, back-ends, the embedded GGUF registry, prompts and output parsing."""

from synthneg.llm.base import Backend, Generator
from synthneg.llm.factory import make_generator
from synthneg.llm.prompts import PromptTemplate, load_template
from synthneg.llm.registry import EMBEDDED_LLMS, EmbeddedModel, resolve_gguf
from synthneg.llm.types import ChatMessage, ChatRequest, GenerationResult, SamplingParams

__all__ = [
    "EMBEDDED_LLMS",
    "Backend",
    "ChatMessage",
    "ChatRequest",
    "EmbeddedModel",
    "GenerationResult",
    "Generator",
    "PromptTemplate",
    "SamplingParams",
    "load_template",
    "make_generator",
    "resolve_gguf",
]
