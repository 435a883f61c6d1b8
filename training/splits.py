"""Build deterministic train/dev/test splits: grouped by article, stratified by label, versioned by hash.

Articles keep their split once assigned: `data/split_pins.json` maps every article seen so far to its split,
so adding labels never moves a test sentence into train (which would make old and new test scores
incomparable). Only articles new to the pin file are folded, among themselves; when they are too few to
stratify, each one's fold comes from a seeded hash of its id.

Run: sourcing data build
"""
from __future__ import annotations

import collections
import hashlib
import json
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedGroupKFold

from inference.labels import LABEL_IDS
from inference.paths import DATA_DIR
from training.labelled_data import (CORPUS_DIR, EXAMPLE_FIELDS, DataError, Example, iter_jsonl, normalise,
                                    read_labels)
from training.silver import resolve_silver
from training.suggest import labelled_data

SPLITS_DIR = DATA_DIR / "build" / "splits"
SPLIT_PINS = DATA_DIR / "split_pins.json"
SPLIT_NAMES = ("train", "dev", "test")
SPLIT_SEED = 20261125
N_FOLDS = 7  # one fold test, one dev, five train: about 72/14/14
NEAR_DUPLICATE_COSINE = 0.85


def drop_exact_duplicates(examples: list[Example], pins: dict[str, str] | None = None
                          ) -> tuple[list[Example], list[str]]:
    """Keep one example of each normalised text, preferring one in a pinned article, then the lowest id (so a
    new label can never take the place of a pinned test sentence); report conflicting labels."""
    pins = pins or {}
    kept: dict[str, Example] = {}
    notes: list[str] = []
    for example in sorted(examples, key=lambda e: (e.doc_id not in pins, e.id)):
        key = normalise(example.text)
        if key in kept:
            first = kept[key]
            verdict = "same label" if first.label == example.label else f"CONFLICT {first.label} vs {example.label}"
            notes.append(f"{example.where}: duplicate of {first.id} ({verdict}); dropped")
            continue
        kept[key] = example
    return list(kept.values()), notes


def _hash_fold(doc_id: str) -> int:
    return int(hashlib.sha256(f"{SPLIT_SEED}:{doc_id}".encode()).hexdigest(), 16) % N_FOLDS


def _assign_folds(examples: list[Example]) -> list[int]:
    """Fold index per example, grouped by doc_id and stratified by label when there are enough of both."""
    labels = [e.label for e in examples]
    groups = [e.doc_id for e in examples]
    if not examples or len(set(groups)) < N_FOLDS or max(collections.Counter(labels).values()) < N_FOLDS:
        # too few to stratify (a handful of new articles): 1 in 7 of them lands in each fold, by hash
        return [_hash_fold(doc) for doc in groups]
    folds = [0] * len(examples)
    splitter = StratifiedGroupKFold(n_splits=N_FOLDS, shuffle=True, random_state=SPLIT_SEED)
    for fold, (_, held) in enumerate(splitter.split(np.zeros(len(examples)), labels, groups)):
        for index in held:
            folds[index] = fold
    return folds


def near_duplicates(train: list[Example], held_out: list[Example]) -> set[str]:
    """Ids of train examples whose text is a near twin (TF-IDF cosine) of a dev or test sentence."""
    if not train or not held_out:
        return set()
    vectoriser = TfidfVectorizer(ngram_range=(1, 2), preprocessor=normalise, sublinear_tf=True)
    vectoriser.fit([e.text for e in train + held_out])
    similarity = vectoriser.transform([e.text for e in held_out]) @ vectoriser.transform([e.text for e in train]).T
    _, train_index = (similarity >= NEAR_DUPLICATE_COSINE).nonzero()
    return {train[i].id for i in set(train_index.tolist())}


def assign_articles(examples: list[Example], pins: dict[str, str] | None = None) -> dict[str, str]:
    """Article -> split: pinned articles keep theirs; the others are folded per origin (stratified by label when
    there are enough), so each split keeps the real share."""
    assignment = dict(pins or {})
    unpinned = [e for e in examples if e.doc_id not in assignment]
    for origin in sorted({e.origin for e in unpinned}):
        part = sorted((e for e in unpinned if e.origin == origin), key=lambda e: (e.doc_id, e.id))
        for example, fold in zip(part, _assign_folds(part)):
            assignment[example.doc_id] = "test" if fold == 0 else "dev" if fold == 1 else "train"
    return assignment


def split_examples(examples: list[Example], pins: dict[str, str] | None = None
                   ) -> tuple[dict[str, list[Example]], list[str]]:
    """Deterministic splits of the deduplicated examples; train twins of dev/test sentences are dropped."""
    splits, notes, _ = _split(examples, pins)
    return splits, notes


def _split(examples: list[Example], pins: dict[str, str] | None
           ) -> tuple[dict[str, list[Example]], list[str], dict[str, str]]:
    examples, notes = drop_exact_duplicates(examples, pins)
    assignment = assign_articles(examples, pins)
    splits: dict[str, list[Example]] = {name: [] for name in SPLIT_NAMES}
    for example in examples:
        splits[assignment[example.doc_id]].append(example)
    twins = near_duplicates(splits["train"], splits["dev"] + splits["test"])
    if twins:
        notes.append(f"dropped {len(twins)} train sentence(s) that are near twins of dev/test sentences")
        splits["train"] = [e for e in splits["train"] if e.id not in twins]
    for name in SPLIT_NAMES:
        splits[name].sort(key=lambda e: (e.doc_id, e.id))
    return splits, notes, assignment


def read_pins(path: Path) -> dict[str, str]:
    """Article -> split from a pin file; a missing file pins nothing."""
    if not path.is_file():
        return {}
    try:
        pins = json.loads(path.read_text(encoding="utf-8"))["articles"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError([f"{path}: not a split pin file ({exc}); restore it from git"]) from exc
    if not isinstance(pins, dict):
        raise DataError([f"{path}: 'articles' must map article ids to splits; restore it from git"])
    bad = sorted(doc for doc, split in pins.items() if split not in SPLIT_NAMES)
    if bad:
        raise DataError([f"{path}: article {doc!r} pinned to unknown split {pins[doc]!r}" for doc in bad])
    return pins


def write_pins(path: Path, assignment: dict[str, str], pins: dict[str, str]) -> int:
    """Add the articles of this build that were not pinned yet; return how many were added."""
    added = {doc: split for doc, split in assignment.items() if doc not in pins}
    if added:
        body = {"about": "article -> split, fixed once assigned; new articles are added by `sourcing data build`",
                "articles": dict(sorted({**pins, **added}.items()))}
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(body, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)
    return len(added)


def serialise(examples: list[Example]) -> bytes:
    """Split records as JSONL bytes, the form the data version hashes."""
    lines = [json.dumps(e.record(), ensure_ascii=False, sort_keys=False) for e in examples]
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def data_version(blobs: dict[str, bytes]) -> str:
    """Content hash of the split files, in split order; the same labels and pins give the same version."""
    digest = hashlib.sha256()
    for name in SPLIT_NAMES:
        digest.update(name.encode() + b"\0" + blobs[name] + b"\0")
    return digest.hexdigest()[:12]


def build_splits(labels_dir: Path | None = None, out_dir: Path = SPLITS_DIR,
                 corpus_dir: Path | None = None, pins_path: Path | None = None,
                 silver_dir: Path | None = None) -> dict:
    """Read gold labels, split, write `{train,dev,test}.jsonl` and `manifest.json`; return the manifest.

    With `pins_path`, pinned articles keep their split and newly split articles are added to the pin file.
    With `silver_dir`, its silver labels are resolved into `silver.jsonl`, train-split articles only; they are
    not part of the data version (the trainer logs their own hash)."""
    kwargs = {k: v for k, v in (("labels_dir", labels_dir), ("corpus_dir", corpus_dir)) if v is not None}
    pins = read_pins(pins_path) if pins_path else {}
    gold = read_labels(**kwargs)
    splits, notes, assignment = _split(gold, pins)
    if pins_path:
        added = write_pins(pins_path, assignment, pins)
        if added:
            notes.append(f"pinned {added} new article(s) to their split in {pins_path}")
    blobs = {name: serialise(splits[name]) for name in SPLIT_NAMES}
    manifest = {
        "data_version": data_version(blobs),
        "counts": {name: dict(sorted(collections.Counter(e.label for e in splits[name]).items()))
                   for name in SPLIT_NAMES},
        "origins": {name: dict(sorted(collections.Counter(e.origin for e in splits[name]).items()))
                    for name in SPLIT_NAMES},
        "notes": notes,
    }
    silver, silver_notes = [], []
    if silver_dir:
        silver, silver_notes = resolve_silver(silver_dir, assignment, labelled_data(**kwargs, examples=gold),
                                              corpus_dir or CORPUS_DIR)
    twins = near_duplicates([Example(**{k: r[k] for k in EXAMPLE_FIELDS}) for r in silver],
                            splits["dev"] + splits["test"])
    if twins:
        silver = [r for r in silver if r["id"] not in twins]
        silver_notes.append(f"silver: dropped {len(twins)} sentence(s): near twin of a dev/test sentence")
    notes += silver_notes
    blobs["silver"] = b"".join(json.dumps(r, ensure_ascii=False).encode("utf-8") + b"\n" for r in silver)
    manifest["silver"] = {"count": len(silver),
                          "version": hashlib.sha256(blobs["silver"]).hexdigest()[:12] if silver else "none",
                          "labels": dict(sorted(collections.Counter(r["label"] for r in silver).items()))}
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in (*SPLIT_NAMES, "silver"):
        target = out_dir / f"{name}.jsonl"
        if name == "silver" and not silver:
            target.unlink(missing_ok=True)
            continue
        tmp = out_dir / f".{name}.jsonl.tmp"
        tmp.write_bytes(blobs[name])
        tmp.replace(target)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _missing(path: Path) -> str:
    """What to say about a missing labelled file: a split is built by `sourcing data build`, any other file is
    the user's own (a typo in a path should not send them to rebuild the data). Only the default splits folder
    is what the build writes; a split file missing elsewhere is more likely a wrong path."""
    if path.name not in {f"{name}.jsonl" for name in SPLIT_NAMES}:
        return f"{path}: labelled file not found"
    if path.parent.resolve() == SPLITS_DIR.resolve():
        return f"{path}: split file not found; run `sourcing data build` (or `make data`) first"
    return f"{path}: split file not found; check the path (`sourcing data build` writes the splits to {SPLITS_DIR})"


def read_split(path: Path) -> list[dict]:
    """A split file as records (hard cases keep their `runner_up`); any unknown label or runner-up, a runner-up
    equal to the label, or empty text fails with file and line."""
    if not path.is_file():
        raise DataError([_missing(path)])
    records, problems = [], []
    for number, record, error in iter_jsonl(path):
        if error:
            problems.append(error)
            continue
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{path}:{number}: empty or missing 'text'")
        elif record.get("label") not in LABEL_IDS:
            problems.append(f"{path}:{number}: unknown label {record.get('label')!r}")
        elif record.get("runner_up", "") not in ("", *LABEL_IDS):
            problems.append(f"{path}:{number}: unknown runner_up label {record.get('runner_up')!r}")
        elif record.get("runner_up") == record["label"]:
            problems.append(f"{path}:{number}: runner_up is the label itself ({record['label']!r})")
        else:
            records.append({**{k: record.get(k, "") for k in EXAMPLE_FIELDS}, "text": text,
                            **({"runner_up": record["runner_up"]} if record.get("runner_up") else {})})
    if problems:
        raise DataError(problems)
    if not records:
        raise DataError([f"{path}: no labelled sentences"])
    return records


def split_version(splits_dir: Path) -> str:
    """The data version of split files already on disk."""
    blobs = {}
    for name in SPLIT_NAMES:
        path = splits_dir / f"{name}.jsonl"
        if not path.is_file():
            raise DataError([_missing(path)])
        blobs[name] = path.read_bytes()
    return data_version(blobs)
