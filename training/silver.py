"""Silver data for self-training: corpus sentences no one labelled, labelled by a trained model.

Gold labels cover about 40% of the shared corpus; the rest is in-domain text the model never learns from.
`sourcing data silver --model M` scores that rest and stores references and probabilities (never text) in
`data/silver/`; `sourcing data build` resolves them into `data/build/splits/silver.jsonl`, dropping every
sentence of a dev or test article and every text that is also gold, so silver can only ever reach training.
The trainer uses silver only when `silver_per_epoch` > 0, and then only above `silver_min_confidence`.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
import numpy as np

from inference.labels import LABEL_IDS
from inference.paths import DATA_DIR
from training.labelled_data import CORPUS_DIR, DataError, Example, iter_jsonl, load_corpus, normalise
from training.suggest import Labelled, Scorer

SILVER_DIR = DATA_DIR / "silver"
SILVER_FILE = SILVER_DIR / "pseudo_labels.jsonl"
HELD_OUT = ("dev", "test")


def unlabelled_pool(labelled: Labelled, pins: dict[str, str], corpus_dir: Path = CORPUS_DIR) -> list[dict]:
    """Corpus sentences that are not labelled, decided or excluded, outside dev and test articles, one per text."""
    seen: set[str] = set()
    pool = []
    for sid, row in sorted(load_corpus(corpus_dir).items()):
        key = normalise(row["text"])
        if (not key or key in seen or sid in labelled.ids or key in labelled.texts
                or pins.get(row["doc_id"]) in HELD_OUT):
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


def resolve_silver(silver_dir: Path, assignment: dict[str, str], gold: list[Example],
                   corpus_dir: Path = CORPUS_DIR) -> tuple[list[dict], list[str]]:
    """Silver records with text and label (the most probable one), for training only.

    Dropped: sentences of articles assigned to dev or test, texts that are gold anywhere, repeated texts, and
    malformed lines (reported in the notes, never fatal: silver is optional).
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
    taken = {normalise(e.text) for e in gold}
    records, dropped = [], {"held-out article": 0, "gold text": 0, "not in corpus": 0}
    for record in raw:
        row = corpus.get(record["ref"])
        if row is None:
            dropped["not in corpus"] += 1
            continue
        key = normalise(row["text"])
        if assignment.get(row["doc_id"]) in HELD_OUT:
            dropped["held-out article"] += 1
            continue
        if key in taken:
            dropped["gold text"] += 1
            continue
        taken.add(key)
        probs = record["probabilities"]
        records.append({"id": row["id"], "text": row["text"], "label": top_label(probs), "origin": "silver",
                        "doc_id": row["doc_id"], "source": row["source"], "license": row["license"],
                        "confidence": round(float(max(probs)), 5), "model": str(record.get("model", ""))})
    notes += [f"silver: dropped {n} sentence(s): {why}" for why, n in dropped.items() if n]
    records.sort(key=lambda r: r["id"])
    return records, notes


def top_label(probabilities: list[float]) -> str:
    return LABEL_IDS[int(np.argmax(probabilities))]


def _valid_probabilities(probs) -> bool:
    return (isinstance(probs, list) and len(probs) == len(LABEL_IDS)
            and all(isinstance(p, (int, float)) and 0 <= p <= 1 for p in probs))


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
        confidence = float(record.get("confidence", 0.0))
        best = max(best, confidence)
        if confidence >= min_confidence:
            records.append(record)
    if not records:
        raise DataError([f"{path}: no silver sentence has confidence >= {min_confidence} (highest {best:.3f}); "
                         f"lower silver_min_confidence or set silver_per_epoch=0"])
    return records
