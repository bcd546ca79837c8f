"""Continuous batching over llama.cpp's batch API: several sequences, one ``llama_decode`` per step.

A second llama.cpp context on the already-loaded model holds ``parallel`` sequences in one unified
KV cache. Each step puts into one ``llama_batch`` the next sampled token of every generating
sequence plus a chunk of prompt tokens of newly admitted requests (chunked prefill, bounded by
``n_batch``), decodes it once, then samples each sequence with its own seeded sampler chain
(top-k -> top-p -> min-p -> temperature -> seeded draw). A finished sequence frees its slot for the
next waiting request at once. The chat prompt is rendered with the GGUF's own template exactly as
``Llama.create_chat_completion`` renders it.

Shared prompt prefixes are prefilled once. A newly admitted request looks for the sequence in the
cache whose prompt shares the longest token prefix with its own (the system message and the
template's fixed text before its first variable; the whole prompt for K samples of one request)
and takes those positions by ``llama_memory_seq_cp``, which on the unified cache tags the same
cells with one more sequence id (no copy, no compute). If the donor has not prefilled that far
yet, the request waits for it. Its own prefill then starts where the shared part ends; the last
prompt token is always its own, so its first logits are computed for it.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from synthneg.errors import ModelError
from synthneg.llm.base import ResultCallback
from synthneg.llm.llamacpp_chat import chat_formatter
from synthneg.llm.types import ChatRequest, GenerationResult, SamplingParams

logger = logging.getLogger(__name__)


@dataclass
class _Slot:
    seq: int
    index: int = -1
    prompt: list[int] = field(default_factory=list)
    fed: int = 0  # prompt tokens already in the KV cache
    out: list[int] = field(default_factory=list)
    sampler: Any = None
    logit_idx: int = -1  # position in this step's batch whose logits we sample from
    max_tokens: int = 0
    t0: float = 0.0
    donor: _Slot | None = None  # the sequence whose first ``share`` prompt positions this one will take
    share: int = 0

    @property
    def busy(self) -> bool:
        return self.index >= 0


class BatchedDecoder:
    """Decode up to ``parallel`` chat requests at once on a loaded ``llama_cpp.Llama``."""

    #: A shared prefix shorter than this is prefilled by each sequence itself.
    min_share = 4

    def __init__(
        self,
        llm: Any,
        parallel: int,
        n_ctx_per_seq: int,
        n_threads: int,
        n_batch: int = 512,
        share_prefix: bool = True,
    ) -> None:
        import llama_cpp

        self.lib = llama_cpp
        self.llm = llm
        self.parallel = parallel
        self.share_prefix = share_prefix
        #: Prompt tokens taken from another sequence instead of prefilled, and prompt tokens prefilled.
        self.shared_tokens = 0
        self.prefilled_tokens = 0
        self.n_ctx_per_seq = n_ctx_per_seq
        self.n_batch = n_batch
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx_per_seq * parallel
        params.n_batch = n_batch
        params.n_ubatch = n_batch
        params.n_seq_max = parallel
        params.kv_unified = True  # seq_cp of a prefix needs one unified cache (streams copy whole buffers only)
        params.n_threads = n_threads
        params.n_threads_batch = n_threads
        self.ctx = llama_cpp.llama_init_from_model(llm._model.model, params)
        if not self.ctx:
            raise ModelError(f"llama.cpp could not create a context for {parallel} parallel sequences")
        self.mem = llama_cpp.llama_get_memory(self.ctx)
        self.vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
        self.batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self.formatter = chat_formatter(llm)
        self._slots: list[_Slot] = []

    def tokenize_chat(self, req: ChatRequest) -> list[int]:
        res = self.formatter(messages=req.messages_as_dicts())
        return self.llm.tokenize(res.prompt.encode("utf-8"), add_bos=not res.added_special, special=True)

    def _sampler(self, s: SamplingParams) -> Any:
        lib = self.lib
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        if s.temperature <= 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
            return chain
        if s.top_k > 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_k(s.top_k))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_p(s.top_p, 1))
        if s.min_p > 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_min_p(s.min_p, 1))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_temp(s.temperature))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_dist(s.seed & 0xFFFFFFFF))
        return chain

    def _add(self, token: int, pos: int, seq: int, logits: bool) -> int:
        b = self.batch
        i = b.n_tokens
        b.token[i] = token
        b.pos[i] = pos
        b.n_seq_id[i] = 1
        b.seq_id[i][0] = seq
        b.logits[i] = logits
        b.n_tokens = i + 1
        return i

    def _pick_donor(self, slot: _Slot, slots: list[_Slot]) -> None:
        """Choose the busy sequence whose prompt shares the longest prefix with ``slot``'s."""
        slot.donor, slot.share = None, 0
        if not self.share_prefix:
            return
        limit = len(slot.prompt) - 1  # the last prompt token is fed by the slot itself, for its logits
        for other in slots:
            if other is slot or not other.busy:
                continue
            n = _common_prefix(other.prompt, slot.prompt, limit)
            if n > slot.share:
                slot.donor, slot.share = other, n
        if slot.share < self.min_share:
            slot.donor, slot.share = None, 0

    def _take_shared(self, slot: _Slot) -> bool:
        """Copy the donor's first ``share`` cells into ``slot``'s sequence once the donor has them."""
        donor = slot.donor
        if donor is None:
            return True
        if donor.fed < slot.share:
            return False
        self.lib.llama_memory_seq_cp(self.mem, donor.seq, slot.seq, 0, slot.share)
        slot.fed = slot.share
        self.shared_tokens += slot.share
        slot.donor = None
        return True

    def _finish(self, slot: _Slot, reason: str, done: Callable[[int, GenerationResult], None]) -> None:
        """End a sequence: hand its result to ``done``, let waiting sequences take its shared cells, free it."""
        index = slot.index
        text = self.llm.detokenize(slot.out).decode("utf-8", errors="ignore")
        res = GenerationResult(
            text=text,
            finish_reason="length" if reason == "length" else "stop",
            prompt_tokens=len(slot.prompt),
            completion_tokens=len(slot.out),
            latency_s=time.perf_counter() - slot.t0,
            raw={"engine": "llamacpp-batched", "finish_reason": reason, "n_tokens": len(slot.out)},
        )
        for waiter in self._slots:  # a sequence that waits on this one takes its cells before they go
            if waiter.donor is slot:
                self._take_shared(waiter)
        self.lib.llama_sampler_free(slot.sampler)
        self.lib.llama_memory_seq_rm(self.mem, slot.seq, -1, -1)
        slot.index, slot.sampler, slot.out, slot.prompt = -1, None, [], []
        done(index, res)

    def run(self, requests: Sequence[ChatRequest], on_result: ResultCallback | None = None) -> list[GenerationResult]:
        """Generate every request, ``parallel`` at a time; ``on_result`` fires as each one ends."""
        lib = self.lib
        results: list[GenerationResult | None] = [None] * len(requests)
        waiting = deque(range(len(requests)))
        slots = [_Slot(seq=i) for i in range(self.parallel)]
        self._slots = slots
        lib.llama_memory_clear(self.mem, True)
        shared0, prefilled0 = self.shared_tokens, self.prefilled_tokens

        def done(index: int, result: GenerationResult) -> None:
            results[index] = result
            if on_result is not None:
                on_result(index, result)

        while waiting or any(s.busy for s in slots):
            for slot in slots:
                if not slot.busy and waiting:
                    self._admit(slot, waiting.popleft(), requests, done)
            for slot in slots:
                if slot.busy and slot.donor is not None:
                    self._take_shared(slot)
            self._fill_batch(slots)
            if self.batch.n_tokens == 0:
                continue
            rc = lib.llama_decode(self.ctx, self.batch)
            if rc != 0:
                raise ModelError(f"llama_decode failed with code {rc} (try a smaller parallel or n_ctx)")
            self._sample(slots, done)
        shared, prefilled = self.shared_tokens - shared0, self.prefilled_tokens - prefilled0
        logger.info(
            "batched decode of %d requests: %d prompt tokens prefilled, %d taken from a shared prefix (%.0f%%)",
            len(requests),
            prefilled,
            shared,
            100 * shared / max(shared + prefilled, 1),
        )
        return [r for r in results if r is not None]

    def _admit(
        self, slot: _Slot, idx: int, requests: Sequence[ChatRequest], done: Callable[[int, GenerationResult], None]
    ) -> None:
        """Give request ``idx`` to a free slot, or answer it at once when its prompt does not fit."""
        req = requests[idx]
        prompt = self.tokenize_chat(req)
        if len(prompt) + req.sampling.max_tokens > self.n_ctx_per_seq:
            done(
                idx,
                GenerationResult.failure(
                    "prompt_too_long",
                    f"prompt of {len(prompt)} tokens + max_tokens {req.sampling.max_tokens} exceeds "
                    f"n_ctx {self.n_ctx_per_seq}",
                ),
            )
            return
        slot.index, slot.prompt, slot.fed, slot.out = idx, prompt, 0, []
        slot.sampler = self._sampler(req.sampling)
        slot.max_tokens = req.sampling.max_tokens
        slot.t0 = time.perf_counter()
        self._pick_donor(slot, self._slots)

    def _fill_batch(self, slots: list[_Slot]) -> None:
        """This step's batch: the next token of every generating sequence, then prompt chunks in the room left."""
        self.batch.n_tokens = 0
        for slot in slots:
            slot.logit_idx = -1
            if slot.busy and slot.fed == len(slot.prompt) and slot.out:
                slot.logit_idx = self._add(slot.out[-1], len(slot.prompt) + len(slot.out) - 1, slot.seq, True)
        for slot in slots:
            room = self.n_batch - self.batch.n_tokens
            if not slot.busy or slot.donor is not None or slot.fed == len(slot.prompt) or room <= 0:
                continue
            take = min(room, len(slot.prompt) - slot.fed)
            self.prefilled_tokens += take
            for j in range(slot.fed, slot.fed + take):
                last = j == len(slot.prompt) - 1
                k = self._add(slot.prompt[j], j, slot.seq, last)
                if last:
                    slot.logit_idx = k
            slot.fed += take

    def _sample(self, slots: list[_Slot], done: Callable[[int, GenerationResult], None]) -> None:
        """Sample the next token of every sequence with logits in this step; end those that stop or hit max_tokens."""
        lib = self.lib
        for slot in slots:
            if slot.logit_idx < 0:
                continue
            token = lib.llama_sampler_sample(slot.sampler, self.ctx, slot.logit_idx)
            if lib.llama_vocab_is_eog(self.vocab, token):
                self._finish(slot, "stop", done)
                continue
            slot.out.append(token)
            if len(slot.out) >= slot.max_tokens:
                self._finish(slot, "length", done)

    def close(self) -> None:
        self._slots = []
        if self.ctx:
            self.lib.llama_batch_free(self.batch)
            self.lib.llama_free(self.ctx)
            self.ctx = None


def _common_prefix(a: Sequence[int], b: Sequence[int], limit: int) -> int:
    """Length of the common prefix of ``a`` and ``b``, at most ``limit``."""
    n = min(len(a), len(b), limit)
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
