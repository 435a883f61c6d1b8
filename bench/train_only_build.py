"""Build splits with extra authored label files pinned to train, for an experiment that must not move dev or test.

The project's labels, plus each `--extra` file (authored records in the `data/labels/` format), are split by the
usual build with every extra sentence's article pinned to train; the build still drops any near twin of a dev or
test sentence. The output folder gets train/dev/test and a manifest; this script checks that dev and test are
byte-identical to the project's current splits and fails otherwise. Nothing under `data/` is written.

Run: .venv/bin/python bench/train_only_build.py --extra data/experiments/authored_boundaries.jsonl --out /tmp/splits
     .venv/bin/sourcing train --set splits_dir=/tmp/splits ...
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from training.labelled_data import LABELS_DIR, DataError
from training.splits import SPLIT_PINS, SPLITS_DIR, build_splits


def authored_ids(path: Path) -> list[str]:
    """Ids of the authored records of one extra file; a record without an id fails with file and line."""
    ids = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            record = json.loads(line)
            if not isinstance(record.get("id"), str) or record.get("origin") != "authored":
                raise DataError([f"{path}:{number}: an extra record needs a string 'id' and \"origin\": \"authored\""])
            ids.append(record["id"])
    return ids


def build_with_extra(extra: list[Path], out: Path) -> dict:
    """Splits of the project's labels plus `extra`, pinned to train, written to `out`; returns the manifest."""
    with tempfile.TemporaryDirectory() as tmp:
        labels = Path(tmp) / "labels"
        shutil.copytree(LABELS_DIR, labels)
        pins = json.loads(SPLIT_PINS.read_text(encoding="utf-8"))
        for path in extra:
            if (labels / path.name).exists():
                raise SystemExit(f"{path.name} is already a file in {LABELS_DIR}; rename the extra file")
            shutil.copy(path, labels / path.name)
            pins["articles"].update({f"authored:{sid}": "train" for sid in authored_ids(path)})
        pins_path = Path(tmp) / "pins.json"
        pins_path.write_text(json.dumps(pins), encoding="utf-8")
        shutil.rmtree(out, ignore_errors=True)
        return build_splits(labels_dir=labels, out_dir=out, pins_path=pins_path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", type=Path, nargs="+", required=True, help="authored label files to add to train")
    parser.add_argument("--out", type=Path, required=True, help="folder for the experiment's splits")
    args = parser.parse_args()
    if args.out.resolve() == SPLITS_DIR.resolve():
        raise SystemExit("--out must not be the project's splits folder")
    try:
        manifest = build_with_extra(args.extra, args.out)
    except DataError as error:
        raise SystemExit(str(error)) from None
    moved = [name for name in ("dev", "test")
             if (args.out / f"{name}.jsonl").read_bytes() != (SPLITS_DIR / f"{name}.jsonl").read_bytes()]
    if moved:
        sys.exit(f"{' and '.join(moved)} differ from {SPLITS_DIR}: rebuild the project's splits first "
                 f"(sourcing data build), then run this again")
    print(f"data version {manifest['data_version']}; train {sum(manifest['counts']['train'].values())} sentences "
          f"({manifest['counts']['train']}); dev and test identical to {SPLITS_DIR}")


if __name__ == "__main__":
    main()
