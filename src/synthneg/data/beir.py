"""BEIR folders: ``corpus.jsonl[.gz]``, ``queries.jsonl[.gz]`` and ``qrels/<split>.tsv``.

Every loader returns a typed object and raises :class:`~synthneg.errors.DataError` naming the file,
line and field of bad input.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from synthneg.data.io import iter_jsonl, iter_lines, require_str
from synthneg.errors import DataError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Document:
    """One passage: an id, an optional title and the text."""

    id: str
    title: str
    text: str

    def full_text(self, sep: str = " ") -> str:
        """Title and text joined (BEIR's convention for encoding and BM25)."""
        return f"{self.title}{sep}{self.text}" if self.title else self.text


@dataclass(frozen=True)
class Corpus(Mapping[str, Document]):
    """An ordered collection of documents, addressable by id."""

    documents: tuple[Document, ...]
    source: Path | None = None
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {d.id: i for i, d in enumerate(self.documents)})

    @classmethod
    def from_documents(cls, documents: list[Document] | tuple[Document, ...], source: Path | None = None) -> Corpus:
        return cls(tuple(documents), source)

    def __getitem__(self, doc_id: str) -> Document:
        return self.documents[self._index[doc_id]]

    def __iter__(self) -> Iterator[str]:
        return (d.id for d in self.documents)

    def __len__(self) -> int:
        return len(self.documents)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._index

    @property
    def ids(self) -> list[str]:
        return [d.id for d in self.documents]

    def texts(self, sep: str = " ") -> list[str]:
        """``title + sep + text`` for every document, in corpus order."""
        return [d.full_text(sep) for d in self.documents]

    def position(self, doc_id: str) -> int:
        return self._index[doc_id]

    @cached_property
    def fingerprint(self) -> str:
        """A sha256 over ids, titles and texts: identifies the content, not the file."""
        h = hashlib.sha256()
        for d in self.documents:
            for part in (d.id, d.title, d.text):
                h.update(part.encode("utf-8"))
                h.update(b"\x00")
        return h.hexdigest()


Queries = dict[str, str]
"""Query id -> query text."""

Qrels = dict[str, dict[str, int]]
"""Query id -> {document id -> graded relevance}."""


@dataclass(frozen=True)
class BeirDataset:
    """A BEIR dataset for one split: the corpus, the split's queries and its qrels."""

    name: str
    path: Path
    split: str
    corpus: Corpus
    queries: Queries
    qrels: Qrels

    def __repr__(self) -> str:
        return (
            f"BeirDataset(name={self.name!r}, split={self.split!r}, docs={len(self.corpus)}, "
            f"queries={len(self.queries)}, qrels={sum(len(v) for v in self.qrels.values())})"
        )


def beir_file(folder: Path, stem: str) -> Path | None:
    """``<stem>.jsonl`` or ``<stem>.jsonl.gz`` in a BEIR folder (``corpus``, ``queries``), whichever exists."""
    for name in (f"{stem}.jsonl", f"{stem}.jsonl.gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def load_folder_corpus(folder: str | Path) -> Corpus:
    """The corpus of a BEIR folder (its ``corpus.jsonl[.gz]`` only: never its queries or qrels)."""
    path = beir_file(Path(folder), "corpus")
    if path is None:
        raise DataError("no corpus.jsonl[.gz] in this BEIR folder", path=Path(folder))
    return load_corpus(path)


_CORPUS_MEMO: OrderedDict[tuple[str | int, ...], Corpus] = OrderedDict()
_CORPUS_MEMO_SIZE = 2  # an experiment reads its in-domain corpus and the labeled split's (the same file, or two)


def load_corpus(path: str | Path) -> Corpus:
    """Read a BEIR ``corpus.jsonl`` (or ``.jsonl.gz``): fields ``_id``, ``text`` and optional ``title``.

    A :class:`Corpus` is immutable, so the last two files read are kept in memory and returned again while the
    file is the same (device, inode, size, modification and change times: an edit in place or an atomic replace
    is read again), as an experiment reads one corpus for its passages, its miners and its labeled arm."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        return _read_corpus(path)  # the reader names the missing file
    key = (str(path), str(path.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if (hit := _CORPUS_MEMO.get(key)) is not None:
        _CORPUS_MEMO.move_to_end(key)
        return hit
    corpus = _CORPUS_MEMO[key] = _read_corpus(path)
    while len(_CORPUS_MEMO) > _CORPUS_MEMO_SIZE:
        _CORPUS_MEMO.popitem(last=False)
    return corpus


def clear_corpus_memo() -> None:
    """Forget the corpora :func:`load_corpus` keeps, e.g. to free memory after a large corpus."""
    _CORPUS_MEMO.clear()


def _read_corpus(path: Path) -> Corpus:
    docs: list[Document] = []
    first_line: dict[str, int] = {}
    for lineno, obj in iter_jsonl(path):
        doc_id = require_str(obj, "_id", path=path, line=lineno, number_ok=True)
        text = require_str(obj, "text", path=path, line=lineno, allow_empty=True)
        title = obj.get("title") or ""
        if not isinstance(title, str):
            raise DataError(f"field 'title' must be a string, got {type(title).__name__}", path=path, line=lineno)
        if doc_id in first_line:
            raise DataError(
                f"duplicate _id {doc_id!r} (first seen on line {first_line[doc_id]})",
                path=path,
                line=lineno,
                field="_id",
            )
        if not text.strip() and not title.strip():
            raise DataError("document has neither 'title' nor 'text'", path=path, line=lineno, field="text")
        first_line[doc_id] = lineno
        docs.append(Document(doc_id, title, text))
    return Corpus.from_documents(docs, source=path)


def load_queries(path: str | Path) -> Queries:
    """Read a BEIR ``queries.jsonl`` (or ``.jsonl.gz``): fields ``_id`` and ``text``."""
    path = Path(path)
    queries: Queries = {}
    first_line: dict[str, int] = {}
    for lineno, obj in iter_jsonl(path):
        qid = require_str(obj, "_id", path=path, line=lineno, number_ok=True)
        text = require_str(obj, "text", path=path, line=lineno)
        if qid in first_line:
            raise DataError(
                f"duplicate _id {qid!r} (first seen on line {first_line[qid]})",
                path=path,
                line=lineno,
                field="_id",
            )
        first_line[qid] = lineno
        queries[qid] = text
    return queries


def load_qrels(path: str | Path) -> Qrels:
    """Read a BEIR qrels TSV: a header line, then ``query-id<TAB>corpus-id<TAB>score`` (integer grades)."""
    path = Path(path)
    qrels: Qrels = {}
    header_seen = False
    for lineno, text in iter_lines(path):
        cols = text.split("\t")
        if not header_seen:
            header_seen = True
            try:
                int(cols[-1])
            except ValueError:
                continue  # the header line
            raise DataError("missing header line (expected 'query-id<TAB>corpus-id<TAB>score')", path=path, line=lineno)
        if len(cols) != 3:
            raise DataError(f"expected 3 tab-separated columns, got {len(cols)}", path=path, line=lineno)
        qid, did, score = cols[0].strip(), cols[1].strip(), cols[2].strip()
        try:
            grade = int(score)
        except ValueError:
            raise DataError(f"score {score!r} is not an integer", path=path, line=lineno, field="score") from None
        qrels.setdefault(qid, {})[did] = grade
    if not header_seen:
        raise DataError("file is empty", path=path)
    return qrels


def load_beir(folder: str | Path, split: str = "test", *, name: str | None = None) -> BeirDataset:
    """Load a BEIR folder for one split.

    Queries are restricted to those judged in ``qrels/<split>.tsv`` (BEIR's convention). Qrels that
    name unknown queries are dropped and unknown documents kept (trec_eval counts them in recall);
    both are counted and logged as warnings.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("not a directory", path=folder)
    corpus_path, queries_path = beir_file(folder, "corpus"), beir_file(folder, "queries")
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if corpus_path is None or queries_path is None:
        missing = [
            label
            for label, p in (("corpus.jsonl[.gz]", corpus_path), ("queries.jsonl[.gz]", queries_path))
            if p is None
        ]
        raise DataError(
            f"not a BEIR folder: missing {', '.join(missing)} (expected corpus.jsonl[.gz], "
            "queries.jsonl[.gz] and qrels/<split>.tsv)",
            path=folder,
        )
    if not qrels_path.is_file():
        splits = sorted(p.stem for p in (folder / "qrels").glob("*.tsv")) if (folder / "qrels").is_dir() else []
        raise DataError(f"no qrels for split {split!r}; available splits: {splits or 'none'}", path=qrels_path)
    corpus = load_corpus(corpus_path)
    all_queries = load_queries(queries_path)
    qrels = load_qrels(qrels_path)

    unknown_q = [q for q in qrels if q not in all_queries]
    if unknown_q:
        logger.warning("%s: %d qrels queries are not in %s; dropped", qrels_path, len(unknown_q), queries_path.name)
        for q in unknown_q:
            del qrels[q]
    unknown_d = sum(1 for rels in qrels.values() for d in rels if d not in corpus)
    if unknown_d:
        logger.warning("%s: %d judged documents are not in the corpus; kept for recall", qrels_path, unknown_d)
    queries = {q: all_queries[q] for q in qrels}
    if not queries:
        raise DataError(
            f"nothing to evaluate: no judged query id is in {queries_path.name} (or the file has only a header)",
            path=qrels_path,
        )
    if not any(d in corpus for rels in qrels.values() for d in rels):
        raise DataError(f"nothing to evaluate: no judged document id is in {corpus_path.name}", path=qrels_path)
    return BeirDataset(name or folder.name, folder, split, corpus, queries, qrels)
