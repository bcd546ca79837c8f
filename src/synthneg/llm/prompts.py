"""Prompt templates: package files under ``synthneg/prompts`` or any user file in the same format.

A template is plain text with a ``[system]`` section and a ``[user]`` section. ``{name}``
placeholders are replaced by the named values only (so braces inside passages or in the template
text are left alone); a placeholder without a value is an error that names it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from synthneg.errors import SynthnegError
from synthneg.llm.types import ChatMessage

BUILTIN_TEMPLATES = {
    "query": "query_from_passage.txt",
    "query-examples": "query_from_passage_examples.txt",
    "negative-query": "negative_from_query.txt",
    "negative-query-positive": "negative_from_query_positive.txt",
    "near-miss-query": "near_miss_query.txt",  # near-miss strategy, step 1: a query about something different
    "near-miss-query-neutral": "near_miss_query_neutral.txt",  # the same, any field: a term from the query's own field
    "near-miss-swap": "near_miss_swap.txt",  # near-miss step 1, swap: only "term => sibling", substituted in code
    "passage-for-query": "passage_for_query.txt",  # near-miss strategy, step 2: a passage answering it
}

QUERY_STYLES: dict[str, str] = {
    "keyword": "one short keyword search query (3 to 8 words, no question mark), as a person would type it into a search box.",
    "question": "one natural-language question (8 to 20 words, ending with a question mark) that this passage answers.",
    "claim": "one short factual claim (8 to 20 words, a declarative sentence) that this passage supports, as someone checking a fact would type it.",
    "title": "one short topic title (3 to 12 words, no question mark, no full sentence) of what this passage is about, as a reader would search for it.",
}

_SECTION = re.compile(r"^\[(system|user)\]\s*$", re.MULTILINE)
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class PromptTemplate:
    """A parsed template; ``sha256`` of its exact text goes into every cache key."""

    name: str
    text: str
    system: str
    user: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def fields(self) -> set[str]:
        return set(_PLACEHOLDER.findall(self.system + self.user))

    def render(self, **values: str) -> tuple[ChatMessage, ...]:
        """The chat messages with every placeholder filled."""
        missing = self.fields - values.keys()
        if missing:
            raise SynthnegError(f"template {self.name!r} needs values for {sorted(missing)}")

        def fill(part: str) -> str:
            return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), part)

        msgs = []
        if self.system:
            msgs.append(ChatMessage("system", fill(self.system)))
        msgs.append(ChatMessage("user", fill(self.user)))
        return tuple(msgs)


def parse_template(text: str, name: str = "<string>") -> PromptTemplate:
    """Parse ``[system]``/``[user]`` sections (text before any header counts as the user message)."""
    parts = _SECTION.split(text)
    sections: dict[str, str] = {}
    if parts[0].strip():
        sections["user"] = parts[0].strip()
    for role, body in zip(parts[1::2], parts[2::2], strict=True):
        sections[role] = body.strip()
    if not sections.get("user"):
        raise SynthnegError(f"template {name!r} has no [user] section (or it is empty)")
    return PromptTemplate(name=name, text=text, system=sections.get("system", ""), user=sections["user"])


def load_template(task_or_path: str | Path) -> PromptTemplate:
    """A built-in template by task (``query``, ``query-examples``, ``negative-query``, ``negative-query-positive``)
    or a file."""
    if str(task_or_path) in BUILTIN_TEMPLATES:
        fname = BUILTIN_TEMPLATES[str(task_or_path)]
        text = resources.files("synthneg").joinpath("prompts", fname).read_text(encoding="utf-8")
        return parse_template(text, name=fname)
    path = Path(task_or_path).expanduser()
    if not path.is_file():
        raise SynthnegError(
            f"prompt template {str(task_or_path)!r} is neither a built-in task ({', '.join(BUILTIN_TEMPLATES)}) "
            "nor a file"
        )
    return parse_template(path.read_text(encoding="utf-8"), name=path.name)
