"""Inter-annotator agreement: Cohen's kappa between the gold labels and blind second passes.

Run: python -m training.agreement   (prints the tables the data card shows)
"""
from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

from inference.labels import LABEL_IDS
from inference.paths import DATA_DIR
from training.labelled_data import iter_jsonl

AGREEMENT_DIR = DATA_DIR / "agreement"
EXCLUDED = "EXCLUDE"  # stands in for a label when a pass left the sentence out


def first_pass_labels() -> dict[str, str]:
    """The label each sentence had before adjudication (the resolutions file records changes since)."""
    labels: dict[str, str] = {}
    for path in sorted((DATA_DIR / "labels").glob("*.jsonl")):
        for _, record, _ in iter_jsonl(path):
            if record:
                labels[record.get("ref") or record.get("id")] = record["label"]
    for path in sorted((DATA_DIR / "excluded").glob("*.jsonl")):
        for _, record, _ in iter_jsonl(path):
            if record:
                labels[record.get("ref") or record.get("id")] = EXCLUDED
    resolutions = AGREEMENT_DIR / "resolutions.jsonl"
    if resolutions.is_file():
        for _, record, _ in iter_jsonl(resolutions):
            if record and record.get("first_label"):
                labels[record["key"]] = record["first_label"]
    return labels


def second_pass_labels(pattern: str = "second_pass*.jsonl") -> dict[str, str]:
    labels: dict[str, str] = {}
    for path in sorted(AGREEMENT_DIR.glob(pattern)):
        for _, record, _ in iter_jsonl(path):
            if record:  # a second annotator may exclude a sentence too (a reason, no label)
                labels[record.get("ref") or record.get("key")] = record.get("label", EXCLUDED)
    return labels


def pairs(pattern: str = "second_pass*.jsonl") -> list[tuple[str, str, str]]:
    """(key, first, second) for sentences both passes labelled (exclusions left out)."""
    first, second = first_pass_labels(), second_pass_labels(pattern)
    return [(k, first[k], s) for k, s in second.items() if k in first and EXCLUDED not in (first[k], s)]


def report(pattern: str = "second_pass*.jsonl") -> str:
    rows = pairs(pattern)
    a, b = [r[1] for r in rows], [r[2] for r in rows]
    lines = [f"Sentences labelled by both passes: {len(rows)}; raw agreement {sum(x == y for x, y in zip(a, b)) / len(rows):.3f}; "
             f"Cohen's kappa {cohen_kappa_score(a, b):.3f}", "",
             "| label | first pass | second pass | kappa (label vs rest) |", "| --- | --- | --- | --- |"]
    for label in LABEL_IDS:
        kappa = cohen_kappa_score([x == label for x in a], [y == label for y in b])
        lines.append(f"| `{label}` | {a.count(label)} | {b.count(label)} | {kappa:.3f} |")
    lines += ["", "| first pass | second pass | sentences |", "| --- | --- | --- |"]
    for (x, y), n in collections.Counter((x, y) for x, y in zip(a, b) if x != y).most_common():
        lines.append(f"| `{x}` | `{y}` | {n} |")
    return "\n".join(lines)


if __name__ == "__main__":
    # Optional argument: a glob of second-pass files in data/agreement/ (default: all of them).
    print(report(*sys.argv[1:2]))
