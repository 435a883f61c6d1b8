"""Silver data for self-training: corpus sentences no one labelled, labelled by a trained model.

Gold labels cover about 40% of the shared corpus; the rest is in-domain text the model never learns from.
`sourcing data silver --model M` scores that rest and stores references and probabilities (never text) in
`data/silver/`; `sourcing data build` resolves them into `data/build/splits/silver.jsonl`, keeping only sentences
of articles in the train split and no text that is labelled, decided or excluded, so silver only ever reaches
training. Articles no one has labelled are left out too: labelling them later may put them in dev or test.
The trainer uses silver only when `silver_per_epoch` > 0, and then only above `silver_min_confidence`.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from inference.labels import LABEL_IDS
from inference.paths import DATA_DIR
from training.labelled_data import CORPUS_DIR, DataError, iter_jsonl, load_corpus, normalise
from training.suggest import Labelled, Scorer

SILVER_DIR = DATA_DIR / "silver"
SILVER_FILE = SILVER_DIR / "pseudo_labels.jsonl"
TRAIN = "train"


def unlabelled_pool(labelled: Labelled, pins: dict[str, str], corpus_dir: Path = CORPUS_DIR) -> list[dict]:
    """Corpus sentences of train-split articles that are not labelled, decided or excluded, one per text."""
    seen: set[str] = set()
    pool = []
    for sid, row in sorted(load_corpus(corpus_dir).items()):
        key = normalise(row["text"])
        if (not key or key in seen or sid in labelled.ids or key in labelled.texts
                or pins.get(row["doc_id"]) != TRAIN):
            continue
        seen.add(key)
        pool.append(row)
    return pool


def pseudo_label(scorer: Scorer, pool: list[dict], batch_size: int = 32) -> list[dict]:
    """Silver records: the corpus reference, the model's probabilities and version; no text."""
    if not pool:
        return []
    probabilities = np.asarray(scorer.predict_proba([r["text"] for r in pool], batch_size), dtype=float)
    version = str(getattr(scorer, "version", "unversioned"))
    return [{"ref": row["id"], "probabilities": [round(float(p), 5) for p in probs], "model": version}
            for row, probs in zip(pool, probabilities)]


def write_silver(records: list[dict], path: Path = SILVER_FILE) -> None:
    """Write through a temporary file, so an interrupted run leaves the previous silver file whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    tmp.replace(path)


def resolve_silver(silver_dir: Path, assignment: dict[str, str], labelled: Labelled,
                   corpus_dir: Path = CORPUS_DIR) -> tuple[list[dict], list[str]]:
    """Silver records with text and label (the most probable one), for training only.

    Dropped: sentences of articles not in the train split, sentences (by id or text) that are labelled, decided,
    excluded or corrected by a reviewer, repeated texts, and malformed lines (reported in the notes, never
    fatal: silver is optional).
    """
    files = sorted(silver_dir.glob("*.jsonl")) if silver_dir.is_dir() else []
    if not files:
        return [], []
    raw, notes = [], []
    for path in files:
        for number, record, error in iter_jsonl(path):
            probs = (record or {}).get("probabilities")
            if error or not isinstance((record or {}).get("ref"), str) or not _valid_probabilities(probs):
                notes.append(error or f"{path}:{number}: silver needs 'ref' and four 'probabilities'; skipped")
                continue
            raw.append(record)
    corpus = load_corpus(corpus_dir, {r["ref"] for r in raw})
    texts: set[str] = set()
    records = []
    dropped = {"article not in the train split": 0, "labelled, decided or excluded": 0, "repeated text": 0,
               "not in corpus": 0}
    for record in raw:
        row = corpus.get(record["ref"])
        if row is None:
            dropped["not in corpus"] += 1
            continue
        key = normalise(row["text"])
        if assignment.get(row["doc_id"]) != TRAIN:
            dropped["article not in the train split"] += 1
            continue
        if row["id"] in labelled.ids or key in labelled.texts:
            dropped["labelled, decided or excluded"] += 1
            continue
        if key in texts:
            dropped["repeated text"] += 1
            continue
        texts.add(key)
        probs = record["probabilities"]
        records.append({"id": row["id"], "text": row["text"], "label": top_label(probs), "origin": "silver",
                        "doc_id": row["doc_id"], "source": row["source"], "license": row["license"],
                        "confidence": round(float(max(probs)), 5), "model": str(record.get("model", ""))})
    notes += [f"silver: dropped {n} sentence(s): {why}" for why, n in dropped.items() if n]
    records.sort(key=lambda r: r["id"])
    return records, notes


def top_label(probabilities: list[float]) -> str:
    """The silver label: the most probable one."""
    return LABEL_IDS[int(np.argmax(probabilities))]


def _valid_probabilities(probs) -> bool:
    return (isinstance(probs, list) and len(probs) == len(LABEL_IDS)
            and all(isinstance(p, (int, float)) and not isinstance(p, bool) and 0 <= p <= 1 for p in probs))


def assert_off_held_out(silver: list[dict], held_out: list[dict], path: Path) -> None:
    """Refuse to train on silver that shares an article or a text with dev or test (a stale or edited build)."""
    docs = {r.get("doc_id") for r in held_out}
    texts = {normalise(r["text"]) for r in held_out}
    leaks = [r["id"] for r in silver if r.get("doc_id") in docs or normalise(r["text"]) in texts]
    if leaks:
        raise DataError([f"{path}: {len(leaks)} silver sentence(s) share an article or text with dev/test "
                         f"(first: {leaks[0]}); rerun `sourcing data build`"])


def silver_version(path: Path) -> str:
    """Content hash of a built silver file ('none' when there is none), logged beside the data version."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else "none"


def read_silver(path: Path, min_confidence: float) -> list[dict]:
    """Built silver records at or above `min_confidence`; a missing file is a clear error."""
    if not path.is_file():
        raise DataError([f"{path}: no silver file; run `sourcing data silver` then `sourcing data build`, "
                         f"or set silver_per_epoch=0"])
    records, best = [], 0.0
    for number, record, error in iter_jsonl(path):
        if error or record.get("label") not in LABEL_IDS or not isinstance(record.get("text"), str):
            raise DataError([error or f"{path}:{number}: not a built silver record; rerun `sourcing data build`"])
        confidence = record.get("confidence")
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)):
            raise DataError([f"{path}:{number}: silver 'confidence' must be a number, got {confidence!r}"])
        best = max(best, confidence)
        if confidence >= min_confidence:
            records.append(record)
    if not records:
        raise DataError([f"{path}: no silver sentence has confidence >= {min_confidence} (highest {best:.3f}); "
                         f"lower silver_min_confidence or set silver_per_epoch=0"])
    return records
