"""An LLM as a pointwise reranker: score = logit("yes") - logit("no") after a relevance prompt.

The offline stand-in for a cross-encoder (none is packaged on PyPI). It runs a GGUF model with
llama-cpp-python: for each query the prompt prefix (system + query) is evaluated once and kept in
the KV cache; every candidate passage then costs one forward pass over its own tokens only.
Scores are cached persistently in SQLite (or, for a run whose state is committed to git, an
append-only JSONL file), keyed by a hash of (model identity, prompt template, truncation, query,
passage), so a crashed or repeated run never pays twice.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthneg.data.locate import cache_dir
from synthneg.errors import ModelError
from synthneg.jsonl_store import JsonlStore

logger = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You are a search relevance judge. Given a search query and a passage, decide whether the passage "
    "answers the query. Output only one word, yes or no, as plain text."
)
PREFIX_TEMPLATE = "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\nQuery: {query}\nPassage: "
SUFFIX_TEMPLATE = "\nDoes the passage answer the query? Answer yes or no.<|im_end|>\n<|im_start|>assistant\n"
TEMPLATE_HASH = hashlib.sha256((SYSTEM_PROMPT + PREFIX_TEMPLATE + SUFFIX_TEMPLATE).encode()).hexdigest()[:12]


class ScoreCache:
    """A tiny persistent ``key -> float`` store in SQLite (safe to share between runs)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path)
        self._db.execute("CREATE TABLE IF NOT EXISTS scores (key TEXT PRIMARY KEY, score REAL NOT NULL)")
        self._db.commit()

    def get_many(self, keys: Sequence[str]) -> dict[str, float]:
        out: dict[str, float] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            out.update(self._db.execute(f"SELECT key, score FROM scores WHERE key IN ({marks})", chunk).fetchall())
        return out

    def put_many(self, items: dict[str, float]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?)", list(items.items()))
        self._db.commit()

    def close(self) -> None:
        self._db.close()


class JsonlScoreCache(JsonlStore):
    """The same ``key -> float`` store as :class:`ScoreCache`, as append-only JSONL lines
    ``{"key": ..., "score": ...}``: text that diffs and merges in git, and holds hashes only (no
    query or passage text). A torn last line (a crash mid-write) is skipped on load and rewritten."""

    field = "score"

    def decode(self, value: Any) -> float:
        return float(value)


def _gguf_identity(model: str, path: Callable[[], Path]) -> str:
    """An embedded model's registry hash (its packages need not be installed), else the file's name and size."""
    from synthneg.llm.registry import EMBEDDED_LLMS

    if model in EMBEDDED_LLMS:
        return f"{model}@{EMBEDDED_LLMS[model].sha256[:12]}"
    file = path()
    return f"{file.name}@{file.stat().st_size}"


@dataclass
class LLMReranker:
    """Pointwise yes/no reranker on a GGUF model (embedded name or path); see the module docstring.

    ``max_passage_tokens`` truncates passages; ``cache`` is True (default SQLite file under the
    synthneg cache), False, or a path: an SQLite file, or a ``.jsonl`` file (see :class:`JsonlScoreCache`).
    """

    model: str = "qwen2.5-coder-0.5b"
    max_passage_tokens: int = 256
    n_ctx: int = 1024
    n_threads: int | None = None
    cache: bool | Path = True
    show_progress: bool = False
    _llm: Any = field(default=None, init=False, repr=False)
    _path: Path | None = field(default=None, init=False, repr=False)
    _store: ScoreCache | JsonlScoreCache | None = field(default=None, init=False, repr=False)
    pairs_scored: int = field(default=0, init=False)
    pairs_cached: int = field(default=0, init=False)
    score_seconds: float = field(default=0.0, init=False)  # wall seconds spent scoring the pairs not cached
    _yes: list[int] = field(default_factory=list, init=False, repr=False)
    _no: list[int] = field(default_factory=list, init=False, repr=False)

    @property
    def path(self) -> Path:
        if self._path is None:
            from synthneg.llm.registry import resolve_gguf

            self._path = Path(resolve_gguf(self.model))
        return self._path

    @property
    def identity(self) -> str:
        """Model identity + prompt template hash + truncation: what the scores depend on."""
        return f"llm-rerank:{_gguf_identity(self.model, lambda: self.path)}:tpl={TEMPLATE_HASH}:max={self.max_passage_tokens}"

    def _store_or_none(self) -> ScoreCache | JsonlScoreCache | None:
        if self.cache is False:
            return None
        if self._store is None:
            path = Path(self.cache) if isinstance(self.cache, (str, Path)) else None
            path = path or cache_dir() / "rerank" / "llm_scores.sqlite"
            self._store = JsonlScoreCache(path) if path.suffix == ".jsonl" else ScoreCache(path)
        return self._store

    def _load(self) -> Any:
        if self._llm is None:
            try:
                import llama_cpp  # noqa: F401
            except ImportError:
                raise ModelError("the LLM reranker needs llama-cpp-python: pip install 'synthneg[llm]'") from None
            from synthneg.llm.llamacpp_load import available_cpus, load_llama

            threads = self.n_threads or available_cpus()
            logger.info("loading reranker %s (%d threads)", self.path.name, threads)

            self._llm = load_llama(
                self.path,
                n_ctx=self.n_ctx,
                n_batch=512,
                n_threads=threads,
                n_threads_batch=threads,
                logits_all=False,
                verbose=False,
            )
            self._yes = self._single_tokens(["yes", "Yes"])
            self._no = self._single_tokens(["no", "No"])
            if not self._yes or not self._no:
                raise ModelError(f"{self.path.name}: 'yes'/'no' are not single tokens; this model cannot rerank")
        return self._llm

    def _single_tokens(self, words: list[str]) -> list[int]:
        ids = [self._llm.tokenize(w.encode(), add_bos=False, special=False) for w in words]
        return [t[0] for t in ids if len(t) == 1]

    def _key(self, query: str, passage: str) -> str:
        return hashlib.sha256(f"{self.identity}\x00{query}\x00{passage}".encode()).hexdigest()

    def _tokens(self, text: str, limit: int | None = None, special: bool = False) -> list[int]:
        toks = self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)
        return toks[:limit] if limit is not None else toks

    def _logit_margin(self) -> float:
        row = np.ctypeslib.as_array(self._llm._ctx.get_logits_ith(-1), shape=(self._llm.n_vocab(),))
        return float(np.logaddexp.reduce(row[self._yes]) - np.logaddexp.reduce(row[self._no]))

    def _score_query(self, query: str, passages: Sequence[str]) -> list[float]:
        llm = self._load()
        prefix = self._tokens(PREFIX_TEMPLATE.format(system=SYSTEM_PROMPT, query=query), special=True)
        tail = self._tokens(SUFFIX_TEMPLATE, special=True)
        budget = self.n_ctx - len(prefix) - len(tail)
        if budget < 16:
            raise ModelError(f"query too long for the reranker context ({len(prefix)} tokens; n_ctx={self.n_ctx})")
        llm.reset()
        llm.eval(prefix)
        n_prefix = llm.n_tokens
        out = []
        for passage in passages:
            llm.n_tokens = n_prefix  # reuse the query prefix already in the KV cache
            llm.eval(self._tokens(passage, min(self.max_passage_tokens, budget)) + tail)
            out.append(self._logit_margin())
        return out

    def score(self, pairs: Sequence[tuple[str, str]], *, show_progress: bool | None = None) -> np.ndarray:
        """Scores (higher = more relevant) for ``(query, passage)`` pairs; cached pairs cost nothing."""
        from synthneg.console import progress_bar

        keys = [self._key(q, p) for q, p in pairs]
        store = self._store_or_none()
        known = store.get_many(keys) if store is not None else {}
        todo: dict[str, dict[str, str]] = {}
        for key, (q, p) in zip(keys, pairs, strict=True):
            if key not in known:
                todo.setdefault(q, {})[key] = p
        n_todo = sum(len(v) for v in todo.values())
        n_cached = len(set(keys) & known.keys())  # distinct pairs, like n_todo: a repeat costs nothing twice
        self.pairs_scored += n_todo
        self.pairs_cached += n_cached
        logger.info(
            "llm reranker: %d pairs, %d cached, %d repeats of another pair, %d to score",
            len(pairs),
            n_cached,
            len(pairs) - n_cached - n_todo,
            n_todo,
        )
        show = self.show_progress if show_progress is None else show_progress
        t0 = time.perf_counter()
        with progress_bar("llm rerank", n_todo, show=bool(show) and n_todo > 0, unit="pairs") as bar:
            for query, items in todo.items():
                scores = dict(zip(items, self._score_query(query, list(items.values())), strict=True))
                known.update(scores)
                if store is not None:
                    store.put_many(scores)
                bar.advance(len(items))
        if n_todo:
            self.score_seconds += time.perf_counter() - t0
        return np.asarray([known[k] for k in keys], dtype=np.float32)

    def close(self) -> None:
        """Free the model and close the score cache."""
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._llm is not None:
            self._llm.close()
            self._llm = None
