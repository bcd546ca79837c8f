"""The chat prompt of a GGUF, rendered with the model's own template exactly as llama-cpp-python's
``create_chat_completion`` renders it (used by the single-stream and the batched decoders alike)."""

from __future__ import annotations

from typing import Any

from synthneg.errors import ModelError


def chat_formatter(llm: Any) -> Any:
    """The GGUF's own chat template as llama-cpp-python renders it in ``create_chat_completion``."""
    from llama_cpp import llama_chat_format

    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        raise ModelError("this GGUF has no chat template")
    eos_id, bos_id = llm.token_eos(), llm.token_bos()
    return llama_chat_format.Jinja2ChatFormatter(
        template=template,
        eos_token=llm._model.token_get_text(eos_id) if eos_id != -1 else "",
        bos_token=llm._model.token_get_text(bos_id) if bos_id != -1 else "",
        stop_token_ids=[eos_id],
    )
