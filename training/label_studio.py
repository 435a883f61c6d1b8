"""Round trip with Label Studio: suggestions out as tasks with predictions pre-filled, annotations back as gold labels.

Run: sourcing suggest ... --format label-studio -o data/build/tasks.json
     sourcing data import-labelstudio export.json -o data/labels/corpus_round2.jsonl
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable
from xml.sax.saxutils import quoteattr

from inference.labels import LABEL_IDS, LABELS
from training.labelled_data import CORPUS_DIR, LABELS_DIR, DataError, iter_jsonl, load_corpus
from training.suggest import Suggestion

LABEL_FIELD = "label"  # the Choices control's name
NOTE_FIELD = "note"  # the TextArea control's name
TEXT_FIELD = "text"  # the Text object's name and the task data key


def label_config() -> str:
    """The Label Studio labelling interface matching the tasks: one choice of the four labels and a note."""
    choices = "\n".join(f"    <Choice value={quoteattr(label.id)} hint={quoteattr(label.description)}/>"
                        for label in LABELS)
    return (f'<View>\n  <Text name="{TEXT_FIELD}" value="${TEXT_FIELD}"/>\n'
            f'  <Choices name="{LABEL_FIELD}" toName="{TEXT_FIELD}" choice="single" showInline="true" required="true">\n'
            f"{choices}\n  </Choices>\n"
            f'  <TextArea name="{NOTE_FIELD}" toName="{TEXT_FIELD}" maxSubmissions="1" editable="true" '
            'placeholder="hard case: the rule that decided it; runner-up label"/>\n</View>\n')


def _choice(label: str) -> dict:
    return {"from_name": LABEL_FIELD, "to_name": TEXT_FIELD, "type": "choices", "value": {"choices": [label]}}


def to_tasks(suggestions: Iterable[Suggestion]) -> list[dict]:
    """Label Studio tasks: the sentence and its key in `data`, the model's label as a prediction."""
    tasks = []
    for s in suggestions:
        sentence = s.sentence
        data = {TEXT_FIELD: sentence.text, "sentence_id": sentence.id, "ref": sentence.ref,
                "origin": "corpus" if sentence.ref else str(sentence.extra.get("origin", "pool")),
                "source": sentence.source, "doc_id": sentence.doc_id, "rank": s.rank,
                "uncertainty": round(s.uncertainty, 6),
                **{f"p_{label}": round(p, 6) for label, p in s.probabilities.items()}}
        tasks.append({"data": data, "predictions": [{"model_version": s.model_version,
                                                     "score": round(s.model_confidence, 6),
                                                     "result": [_choice(s.model_label)]}]})
    return tasks


def write_tasks(suggestions: list[Suggestion], output: Path) -> Path:
    """Write the tasks JSON and, beside it, the labelling config (`OUTPUT.label_config.xml`); return the config path."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(to_tasks(suggestions), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    config = output.with_name(output.stem + ".label_config.xml")
    config.write_text(label_config(), encoding="utf-8")
    return config


def _annotation_label(annotation: dict, where: str, problems: list[str]) -> tuple[str | None, str]:
    label, notes = None, []
    for item in annotation.get("result") or []:
        value = item.get("value") or {}
        if item.get("type") == "choices" and item.get("from_name") == LABEL_FIELD:
            choices = value.get("choices") or []
            if len(choices) != 1 or choices[0] not in LABEL_IDS:
                problems.append(f"{where}: expected one of {', '.join(LABEL_IDS)}, got {choices!r}")
                return None, ""
            label = choices[0]
        elif item.get("type") == "textarea" and item.get("from_name") == NOTE_FIELD:
            notes += [t for t in (value.get("text") or []) if isinstance(t, str)]
    return label, " ".join(n.strip() for n in notes if n.strip())


def _existing_ids(labels_dir: Path, skip: Path | None) -> dict[str, str]:
    ids = {}
    for path in sorted(labels_dir.glob("*.jsonl")) if labels_dir.is_dir() else []:
        if skip is not None and path.resolve() == skip.resolve():
            continue
        for number, record, error in iter_jsonl(path):
            key = None if error else record.get("ref", record.get("id"))
            if isinstance(key, str):
                ids[key] = f"{path.name}:{number}"
    return ids


def from_export(export: list, corpus_dir: Path = CORPUS_DIR, labels_dir: Path = LABELS_DIR,
                output: Path | None = None) -> tuple[list[dict], int]:
    """Gold records from a Label Studio JSON export, and how many tasks had no annotation yet.

    Corpus sentences become `{"ref", "label", "note"}` (their text is checked against the corpus, never copied);
    authored ones `{"id", "text", "label", "origin": "authored", "note"}`. Raises DataError listing every
    problem: an unknown label, annotators who disagree, edited corpus text, an id labelled already.
    """
    if not isinstance(export, list):
        raise DataError(["the export is not a JSON list of tasks (export from Label Studio as JSON)"])
    problems: list[str] = []
    records: list[dict] = []
    unannotated = 0
    data_list = [t.get("data") or {} for t in export if isinstance(t, dict)]
    refs = {d["ref"] for d in data_list if isinstance(d.get("ref"), str)}
    corpus = load_corpus(corpus_dir, refs) if refs else {}
    existing = _existing_ids(labels_dir, output)
    seen: dict[str, str] = {}
    for number, task in enumerate(export, start=1):
        where = f"task {task.get('id', number) if isinstance(task, dict) else number}"
        if not isinstance(task, dict):
            problems.append(f"{where}: not a JSON object")
            continue
        data = task.get("data") or {}
        annotations = [a for a in (task.get("annotations") or task.get("completions") or [])
                       if isinstance(a, dict) and not a.get("was_cancelled")]
        if not annotations:
            unannotated += 1
            continue
        before = len(problems)
        decided = [_annotation_label(a, where, problems) for a in annotations]
        labels = {label for label, _ in decided if label}
        if len(problems) > before:
            continue
        if not labels:
            problems.append(f"{where}: an annotation without a '{LABEL_FIELD}' choice")
            continue
        if len(labels) > 1:
            problems.append(f"{where}: annotators disagree ({', '.join(sorted(labels))}); settle it in Label Studio")
            continue
        label = labels.pop()
        note = " ".join(dict.fromkeys(n for _, n in decided if n))
        text = data.get(TEXT_FIELD)
        if isinstance(data.get("ref"), str):
            key = data["ref"]
            row = corpus.get(key)
            if row is None:
                problems.append(f"{where}: ref {key!r} is not in {corpus_dir}")
                continue
            if text is not None and text.strip() != row["text"].strip():
                problems.append(f"{where}: the text of {key} differs from the corpus; corpus sentences cannot be edited")
                continue
            record = {"ref": key, "label": label, "note": note}
        elif data.get("origin") == "authored":
            key = data.get("sentence_id")
            if not isinstance(key, str) or not key.strip() or not isinstance(text, str) or not text.strip():
                problems.append(f"{where}: an authored sentence needs 'sentence_id' and 'text'")
                continue
            record = {"id": key, "text": text, "label": label, "origin": "authored", "note": note}
        else:
            problems.append(f"{where}: sentence {data.get('sentence_id')!r} is neither a corpus reference nor authored; "
                            "the gold format has no place for it")
            continue
        if key in existing:
            problems.append(f"{where}: {key} is labelled already at {existing[key]}")
            continue
        if key in seen:
            problems.append(f"{where}: {key} appears twice in the export (also {seen[key]})")
            continue
        seen[key] = where
        records.append(record)
    if problems:
        raise DataError(problems)
    return records, unannotated


def write_gold(records: list[dict], output: Path) -> None:
    """Write gold records as JSONL, atomically."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    tmp.replace(output)
