"""Build splits with extra authored label files pinned to train, for an experiment that must not move dev or test.

The project's labels, plus each `--extra` file (authored records in the `data/labels/` format), are split by the
usual build with every extra sentence's article pinned to train; the build still drops any near twin of a dev or
test sentence. The splits are built in a temporary folder and moved to `--out` only when dev and test are
byte-identical to the project's current splits. Nothing under `data/` is written. No silver file is made
(experiments here run with `silver_per_epoch: 0`, the default).

Run: .venv/bin/python bench/train_only_build.py --extra data/experiments/authored_boundaries.jsonl --out /tmp/splits
     .venv/bin/sourcing train --set splits_dir=/tmp/splits ...
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from inference.paths import DATA_DIR, PROJECT_ROOT
from training.labelled_data import LABELS_DIR, DataError, read_labels
from training.splits import SPLIT_NAMES, SPLIT_PINS, SPLITS_DIR, build_splits, read_pins

OUTPUT_FILES = {*(f"{name}.jsonl" for name in SPLIT_NAMES), "silver.jsonl", "manifest.json"}


def extra_articles(extra: list[Path], folder: Path) -> set[str]:
    """The articles of the extra files, read (and checked) as the build reads labels, from copies in `folder`;
    only authored sentences may come in, so no corpus article can be re-pinned."""
    folder.mkdir()
    for path in extra:
        shutil.copy(path, folder / path.name)
    examples = read_labels(folder)
    corpus = [e.where for e in examples if e.origin != "authored"]
    if corpus:
        raise DataError([f"{where}: an extra record must be authored (text and \"origin\": \"authored\"), "
                         f"not a corpus ref" for where in corpus])
    return {e.doc_id for e in examples}


def check_paths(extra: list[Path], out: Path) -> None:
    """Fail with one line before anything is built: missing or non-JSONL extras, clashing names, an `--out`
    that is not a new folder or an earlier experiment's splits, missing project splits to compare with."""
    for path in extra:
        if not path.is_file() or path.suffix != ".jsonl":
            raise SystemExit(f"{path}: not a .jsonl file")
        if (LABELS_DIR / path.name).exists():
            raise SystemExit(f"{path}: {path.name} is already a file in {LABELS_DIR}; rename the extra file")
    names = [path.name for path in extra]
    if len(set(names)) < len(names):
        raise SystemExit("two --extra files have the same name; rename one")
    target = out.resolve()
    if target == PROJECT_ROOT or target in PROJECT_ROOT.parents or target.is_relative_to(DATA_DIR.resolve()):
        raise SystemExit(f"--out {out} would overwrite project files; pick a folder outside {PROJECT_ROOT}/data")
    if target.exists() and (not target.is_dir() or any(p.name not in OUTPUT_FILES for p in target.iterdir())):
        raise SystemExit(f"--out {out} holds other files; pick a new folder or an earlier experiment's splits")
    missing = [name for name in ("dev", "test") if not (SPLITS_DIR / f"{name}.jsonl").is_file()]
    if missing:
        raise SystemExit(f"no {' or '.join(missing)} split in {SPLITS_DIR} to compare with; run `sourcing data build`")


def build_with_extra(extra: list[Path], out: Path) -> dict:
    """Splits of the project's labels plus `extra`, pinned to train, in `out` once dev and test are unchanged;
    returns the manifest."""
    pins = read_pins(SPLIT_PINS)
    with tempfile.TemporaryDirectory() as tmp:
        labels, built = Path(tmp) / "labels", Path(tmp) / "splits"
        pins.update({doc: "train" for doc in extra_articles(extra, Path(tmp) / "extra")})
        shutil.copytree(LABELS_DIR, labels)
        for path in extra:
            shutil.copy(path, labels / path.name)
        pins_path = Path(tmp) / "pins.json"
        pins_path.write_text(json.dumps({"articles": pins}), encoding="utf-8")
        manifest = build_splits(labels_dir=labels, out_dir=built, pins_path=pins_path)
        moved = [name for name in ("dev", "test")
                 if (built / f"{name}.jsonl").read_bytes() != (SPLITS_DIR / f"{name}.jsonl").read_bytes()]
        if moved:
            raise SystemExit(f"{' and '.join(moved)} would differ from {SPLITS_DIR}: rebuild the project's splits "
                             f"(sourcing data build), then run this again")
        out.mkdir(parents=True, exist_ok=True)
        for old in out.iterdir():
            old.unlink()
        for new in built.iterdir():
            shutil.move(str(new), out / new.name)
    return manifest


def main() -> None:
    """Check the arguments, build, and say what the experiment's train split holds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", type=Path, nargs="+", required=True, help="authored label files to add to train")
    parser.add_argument("--out", type=Path, required=True, help="new folder for the experiment's splits")
    args = parser.parse_args()
    check_paths(args.extra, args.out)
    try:
        manifest = build_with_extra(args.extra, args.out)
    except DataError as error:
        raise SystemExit(str(error)) from None
    counts = manifest["counts"]["train"]
    print(f"data version {manifest['data_version']}; train {sum(counts.values())} sentences ({counts}); "
          f"authored in train {manifest['origins']['train'].get('authored', 0)}; dev and test identical to {SPLITS_DIR}")


if __name__ == "__main__":
    main()
