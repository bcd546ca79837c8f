"""The ``transformers`` back-end: a Hugging Face causal LM by name or local folder (best on a GPU).

Requests are grouped into padded batches (left padding) and sampled with ``model.generate``. Each
request is seeded: batches hold requests with one seed only when ``batch_size=1``; with larger
batches the seed of the batch's first request drives the whole batch, which is reproducible for the
same batch composition (the engine always sends the same batches on a rerun).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from synthneg.errors import ModelError
from synthneg.llm.base import Generator, ResultCallback
from synthneg.llm.types import ChatRequest, GenerationResult

logger = logging.getLogger(__name__)


class TransformersGenerator(Generator):
    """Generate with ``transformers``.

    Args:
        model: a Hub name or a local folder with a tokenizer that has a chat template.
        device: ``cpu``, ``cuda``, ``cuda:1``... (default: cuda when available).
        batch_size: requests per ``generate`` call.
        dtype: torch dtype name (``auto``, ``float16``, ``bfloat16``, ``float32``).
    """

    def __init__(self, model: str, *, device: str | None = None, batch_size: int = 8, dtype: str = "auto") -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise ModelError("the transformers back-end needs torch and transformers installed") from None
        self.torch = torch
        self.name = model
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = max(1, batch_size)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            self.model = AutoModelForCausalLM.from_pretrained(
                model, torch_dtype=dtype if dtype == "auto" else getattr(torch, dtype)
            ).to(self.device)
        except OSError as exc:
            raise ModelError(f"transformers could not load {model!r}: {exc}") from None
        self.model.eval()
        if self.tokenizer.chat_template is None:
            raise ModelError(f"the tokenizer of {model!r} has no chat template")
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "left"
        commit = getattr(self.model.config, "_commit_hash", None) or ""
        self.model_id = f"transformers:{model}@{commit}"

    def describe(self) -> dict[str, Any]:
        return {"backend": "transformers", "model": self.name, "model_id": self.model_id, "device": self.device}

    def _batch(self, reqs: Sequence[ChatRequest]) -> list[GenerationResult]:
        torch = self.torch
        s = reqs[0].sampling
        prompts = [
            self.tokenizer.apply_chat_template(r.messages_as_dicts(), tokenize=False, add_generation_prompt=True)
            for r in reqs
        ]
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        torch.manual_seed(s.seed)
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(
                **enc,
                do_sample=s.temperature > 0,
                temperature=s.temperature if s.temperature > 0 else None,
                top_p=s.top_p if s.temperature > 0 else None,
                top_k=s.top_k if s.temperature > 0 else None,
                max_new_tokens=max(r.sampling.max_tokens for r in reqs),
                pad_token_id=self.tokenizer.pad_token_id,
            )
        latency = time.perf_counter() - t0
        results = []
        n_in = enc["input_ids"].shape[1]
        eos = self.tokenizer.eos_token_id
        for row, req, mask in zip(out, reqs, enc["attention_mask"], strict=True):
            new = row[n_in:].tolist()
            finish = "length"
            if eos in new:
                new = new[: new.index(eos)]
                finish = "stop"
            if self.tokenizer.pad_token_id in new and self.tokenizer.pad_token_id != eos:
                new = new[: new.index(self.tokenizer.pad_token_id)]
                finish = "stop"
            new = new[: req.sampling.max_tokens]
            text = self.tokenizer.decode(new, skip_special_tokens=True)
            results.append(
                GenerationResult(
                    text=text,
                    finish_reason="length" if finish == "length" and len(new) >= req.sampling.max_tokens else "stop",
                    prompt_tokens=int(mask.sum()),
                    completion_tokens=len(new),
                    latency_s=latency,
                    raw={"engine": "transformers", "token_ids": new},
                )
            )
        return results

    def generate(
        self, requests: Sequence[ChatRequest], on_result: ResultCallback | None = None
    ) -> list[GenerationResult]:
        out: list[GenerationResult] = []
        for start in range(0, len(requests), self.batch_size):
            chunk = requests[start : start + self.batch_size]
            for j, res in enumerate(self._batch(chunk)):
                out.append(res)
                if on_result is not None:
                    on_result(start + j, res)
        return out
