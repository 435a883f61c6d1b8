"""Splits for one arm of a labelling round: the base splits with that arm's newly labelled sentences added to train.

A round compares ways of choosing what to label (model-suggested vs random): each arm's sentences are labelled,
added to the same base training split, and a model is trained per arm; dev and test stay the base ones, so
the arms' dev macro-F1 are comparable. Arm sentences must come from articles outside dev and test.

Run: python -m training.label_round --base data/build/round1/base --arm data/batches/round1_suggested.txt \
        --out data/build/round1/suggested
then: sourcing train --set splits_dir=data/build/round1/suggested --set register=false ...
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from training.labelled_data import DataError, read_labels
from training.splits import SPLIT_NAMES, serialise, data_version, read_split


def arm_splits(base_dir: Path, arm_ids: list[str], out_dir: Path, labels_dir: Path | None = None,
               corpus_dir: Path | None = None) -> dict:
    """Write base dev/test and base train + the arm's gold-labelled sentences; return a small manifest."""
    kwargs = {k: v for k, v in (("labels_dir", labels_dir), ("corpus_dir", corpus_dir)) if v is not None}
    gold = {e.id: e for e in read_labels(**kwargs)}
    added = [gold[i] for i in arm_ids if i in gold]  # ids missing from gold were excluded by the annotator
    held_docs = {r["doc_id"] for name in ("dev", "test") for r in read_split(base_dir / f"{name}.jsonl")}
    leaking = sorted({e.doc_id for e in added} & held_docs)
    if leaking:
        raise DataError([f"{len(leaking)} arm article(s) are in dev or test, e.g. {leaking[0]}"])
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("dev", "test"):
        shutil.copyfile(base_dir / f"{name}.jsonl", out_dir / f"{name}.jsonl")
    train = (base_dir / "train.jsonl").read_bytes() + serialise(added)
    (out_dir / "train.jsonl").write_bytes(train)
    blobs = {name: (out_dir / f"{name}.jsonl").read_bytes() for name in SPLIT_NAMES}
    manifest = {"data_version": data_version(blobs), "base": str(base_dir), "added_to_train": len(added),
                "excluded_by_annotator": len(arm_ids) - len(added)}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="folder with the base train/dev/test.jsonl")
    parser.add_argument("--arm", type=Path, required=True, help="text file of the arm's corpus ids, one a line")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the arm's splits to")
    args = parser.parse_args(argv)
    try:
        ids = [line.strip() for line in args.arm.read_text(encoding="utf-8").splitlines() if line.strip()]
        manifest = arm_splits(args.base, ids, args.out)
    except (OSError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(manifest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
