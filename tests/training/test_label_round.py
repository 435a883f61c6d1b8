"""A labelling round's arm: base splits plus the arm's sentences in train, dev and test untouched, no leaks."""
import json
from pathlib import Path

import pytest

from training.label_round import arm_splits
from training.labelled_data import DataError
from training.splits import build_splits, read_split

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CORPUS = FIXTURES / "corpus"
LABELS = FIXTURES / "labels_good"


@pytest.fixture
def base(tmp_path: Path) -> tuple[Path, list[str]]:
    """Fixture splits with one train article taken out of train: its ids are the arm to add back."""
    full = tmp_path / "full"
    build_splits(LABELS, full, CORPUS)
    train = read_split(full / "train.jsonl")
    doc = train[0]["doc_id"]
    arm = [r["id"] for r in train if r["doc_id"] == doc]
    base_dir = tmp_path / "base"
    base_dir.mkdir()
    for name in ("dev", "test"):
        (base_dir / f"{name}.jsonl").write_bytes((full / f"{name}.jsonl").read_bytes())
    kept = [line for line in (full / "train.jsonl").read_text().splitlines() if json.loads(line)["id"] not in arm]
    (base_dir / "train.jsonl").write_text("\n".join(kept) + "\n")
    return base_dir, arm


def test_arm_sentences_join_train_and_dev_test_stay_the_same(tmp_path: Path, base):
    base_dir, arm = base
    out = tmp_path / "arm"
    manifest = arm_splits(base_dir, arm + ["not-a-gold-id"], out, LABELS, CORPUS)

    assert manifest["added_to_train"] == len(arm) and manifest["excluded_by_annotator"] == 1
    for name in ("dev", "test"):
        assert (out / f"{name}.jsonl").read_bytes() == (base_dir / f"{name}.jsonl").read_bytes()
    train_ids = [r["id"] for r in read_split(out / "train.jsonl")]
    base_ids = [r["id"] for r in read_split(base_dir / "train.jsonl")]
    assert train_ids == base_ids + arm
    assert json.loads((out / "manifest.json").read_text())["data_version"] == manifest["data_version"]


def test_an_arm_sentence_from_a_dev_article_is_refused(tmp_path: Path, base):
    base_dir, arm = base
    dev_id = read_split(base_dir / "dev.jsonl")[0]["id"]
    with pytest.raises(DataError, match="in dev or test"):
        arm_splits(base_dir, arm + [dev_id], tmp_path / "arm", LABELS, CORPUS)
    assert not (tmp_path / "arm" / "train.jsonl").exists()
