"""Read the gold label files and resolve corpus references into labelled sentences."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from inference.labels import LABEL_TO_ID
from inference.paths import DATA_DIR, PROJECT_ROOT

LABELS_DIR = DATA_DIR / "labels"
CORPUS_DIR = Path(os.environ.get("SOURCING_CORPUS_DIR", PROJECT_ROOT.parent / "shared" / "corpus"))
AUTHORED_LICENSE = "CC-BY-4.0 (written for this project)"
EXAMPLE_FIELDS = ("id", "text", "label", "origin", "doc_id", "source", "license")
RUNNER_UP = re.compile(r"runner[- ]up:?\s+[\"'`]?(" + "|".join(LABEL_TO_ID) + r")\b", re.IGNORECASE)


def runner_up(note: str, label: str) -> str:
    """The second-choice label a hard case's note names ("runner-up analyst_speculation"), or "" when it names
    none, or names the label itself (a label changed later to the old runner-up)."""
    match = RUNNER_UP.search(note)
    second = match.group(1).lower() if match else ""
    return second if second != label else ""


class DataError(ValueError):
    """Problems in labelled data, each naming its file and line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = "\n".join(problems[:20])
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} problem(s) in labelled data:\n{shown}{more}")


@dataclass
class Example:
    """One labelled sentence with where it came from."""

    id: str
    text: str
    label: str
    origin: str
    doc_id: str
    source: str
    license: str
    note: str = ""
    where: str = field(default="", compare=False)

    def record(self) -> dict[str, str]:
        """The split-file record; hard cases also carry the `runner_up` label their note names."""
        record = {key: getattr(self, key) for key in EXAMPLE_FIELDS}
        if second := runner_up(self.note, self.label):
            record["runner_up"] = second
        return record


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict | None, str | None]]:
    """Yield (line number, record, error) for each non-blank line; bad JSON gives an error, not an exception."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, None, f"{path}:{number}: not valid JSON ({exc.msg})"
                continue
            if not isinstance(record, dict):
                yield number, None, f"{path}:{number}: expected a JSON object"
                continue
            yield number, record, None


def load_corpus(corpus_dir: Path = CORPUS_DIR, wanted: set[str] | None = None) -> dict[str, dict]:
    """Map corpus sentence id to its record, optionally only the ids in `wanted`."""
    if not corpus_dir.is_dir():
        raise DataError([f"{corpus_dir}: corpus folder not found (set SOURCING_CORPUS_DIR to ../shared/corpus)"])
    corpus: dict[str, dict] = {}
    for path in sorted(corpus_dir.glob("*.jsonl")):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                if wanted is None or record["id"] in wanted:
                    corpus[record["id"]] = record
    return corpus


def _check_common(record: dict, where: str, problems: list[str]) -> bool:
    label = record.get("label")
    if label not in LABEL_TO_ID:
        problems.append(f"{where}: unknown label {label!r}")
        return False
    note = record.get("note", "")
    if not isinstance(note, str):
        problems.append(f"{where}: 'note' must be a string")
        return False
    return True


def read_labels(labels_dir: Path = LABELS_DIR, corpus_dir: Path = CORPUS_DIR) -> list[Example]:
    """All gold examples from `labels_dir/*.jsonl`; raises DataError listing every problem found."""
    files = sorted(labels_dir.glob("*.jsonl"))
    if not files:
        raise DataError([f"{labels_dir}: no *.jsonl label files"])
    problems: list[str] = []
    raw: list[tuple[str, dict]] = []
    for path in files:
        rel = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path
        for number, record, error in iter_jsonl(path):
            if error:
                problems.append(error)
            else:
                raw.append((f"{rel}:{number}", record))
    refs = {r["ref"] for _, r in raw if isinstance(r.get("ref"), str)}
    corpus = load_corpus(corpus_dir, refs) if refs else {}
    examples: list[Example] = []
    seen: dict[str, str] = {}
    for where, record in raw:
        if not _check_common(record, where, problems):
            continue
        if "ref" in record:
            ref = record["ref"]
            row = corpus.get(ref) if isinstance(ref, str) else None
            if row is None:
                problems.append(f"{where}: ref {ref!r} not found in {corpus_dir}")
                continue
            example = Example(ref, row["text"], record["label"], "corpus", row["doc_id"],
                              row["source"], row["license"], record.get("note", ""), where)
        else:
            text, sid = record.get("text"), record.get("id")
            if not isinstance(sid, str) or not sid.strip():
                problems.append(f"{where}: an authored record needs a string 'id'")
                continue
            if not isinstance(text, str) or not text.strip():
                problems.append(f"{where}: empty or missing 'text'")
                continue
            if record.get("origin") != "authored":
                problems.append(f"{where}: a record with text must have \"origin\": \"authored\"")
                continue
            example = Example(sid, text.strip(), record["label"], "authored", f"authored:{sid}",
                              "authored", AUTHORED_LICENSE, record.get("note", ""), where)
        if example.id in seen:
            problems.append(f"{where}: id {example.id!r} already labelled at {seen[example.id]}")
            continue
        seen[example.id] = where
        examples.append(example)
    if problems:
        raise DataError(problems)
    return examples


_NON_WORD = re.compile(r"[^a-z ]+")
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Text reduced to lowercase letters and single spaces, for duplicate detection."""
    return _SPACES.sub(" ", _NON_WORD.sub(" ", text.lower())).strip()
