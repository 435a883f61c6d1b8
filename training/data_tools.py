"""`sourcing data check` and `sourcing data stats`: validate the labelled data and count it."""
from __future__ import annotations

import collections
import json
from pathlib import Path

from inference.labels import LABEL_IDS
from training.labelled_data import LABELS_DIR, DataError, normalise, read_labels
from training.splits import SPLIT_NAMES, SPLITS_DIR, iter_jsonl


def check(labels_dir: Path = LABELS_DIR, splits_dir: Path = SPLITS_DIR) -> list[str]:
    """Every problem found, as `file:line: message`; empty when the data is sound."""
    try:
        examples = read_labels(labels_dir)
    except DataError as exc:
        return exc.problems
    problems: list[str] = []
    by_text: dict[str, list] = collections.defaultdict(list)
    for example in examples:
        by_text[normalise(example.text)].append(example)
    for group in by_text.values():
        if len({e.label for e in group}) > 1:
            first = group[0]
            for other in group[1:]:
                problems.append(f"{other.where}: same text as {first.id} ({first.where}) with a different label "
                                f"({other.label} vs {first.label})")
    if all((splits_dir / f"{n}.jsonl").is_file() for n in SPLIT_NAMES):
        doc_split: dict[str, str] = {}
        text_split: dict[str, str] = {}
        for name in SPLIT_NAMES:
            path = splits_dir / f"{name}.jsonl"
            for number, record, error in iter_jsonl(path):
                if error:
                    problems.append(error)
                    continue
                doc = record.get("doc_id", "")
                if doc in doc_split and doc_split[doc] != name:
                    problems.append(f"{path}:{number}: article {doc} is in both {doc_split[doc]} and {name}")
                doc_split.setdefault(doc, name)
                key = normalise(record.get("text", ""))
                if key in text_split and text_split[key] != name:
                    problems.append(f"{path}:{number}: sentence also in {text_split[key]}")
                text_split.setdefault(key, name)
    return problems


def stats(labels_dir: Path = LABELS_DIR, splits_dir: Path = SPLITS_DIR) -> str:
    """Markdown tables: gold counts per label and origin, and per split when built."""
    examples = read_labels(labels_dir)
    counts = collections.Counter((e.label, e.origin) for e in examples)
    origins = sorted({e.origin for e in examples})
    lines = ["| label | " + " | ".join(origins) + " | total |", "| --- |" + " --- |" * (len(origins) + 1)]
    for label in LABEL_IDS:
        row = [counts[(label, o)] for o in origins]
        lines.append(f"| `{label}` | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    totals = [sum(counts[(l, o)] for l in LABEL_IDS) for o in origins]
    lines.append("| total | " + " | ".join(map(str, totals)) + f" | {sum(totals)} |")
    sources = collections.Counter(e.id.split("-")[0] if e.origin == "corpus" else "authored" for e in examples)
    lines += ["", "| source | sentences |", "| --- | --- |"] + [f"| {s} | {n} |" for s, n in sorted(sources.items())]
    manifest = splits_dir / "manifest.json"
    if manifest.is_file():
        data = json.loads(manifest.read_text())
        lines += ["", f"Splits (data version `{data['data_version']}`):", "",
                  "| split | " + " | ".join(f"`{l}`" for l in LABEL_IDS) + " | total | real share |",
                  "| --- |" + " --- |" * (len(LABEL_IDS) + 2)]
        for name in SPLIT_NAMES:
            row = [data["counts"][name].get(l, 0) for l in LABEL_IDS]
            real = data["origins"][name].get("corpus", 0)
            lines.append(f"| {name} | " + " | ".join(map(str, row)) + f" | {sum(row)} | {real / max(sum(row), 1):.0%} |")
    return "\n".join(lines)
