"""Label files: validation, split building, determinism, grouping and versioning."""
import json
import shutil
from pathlib import Path

import pytest

from training.data_tools import check
from training.labelled_data import DataError, read_labels
from training.splits import build_splits, split_examples, split_version

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CORPUS = FIXTURES / "corpus"


def test_good_labels_resolve_refs_to_corpus_text():
    examples = read_labels(FIXTURES / "labels_good", CORPUS)
    by_id = {e.id: e for e in examples}
    assert by_id["fx-0001"].text == "The harbour authority said the new quay would open in June."
    assert by_id["fx-0001"].doc_id == "fx:a1" and by_id["fx-0001"].origin == "corpus"
    assert by_id["fx-auth-1"].origin == "authored" and by_id["fx-auth-1"].label == "independent_confirmation"
    assert len(examples) == 32


def test_bad_labels_report_every_problem_with_file_and_line():
    with pytest.raises(DataError) as excinfo:
        read_labels(FIXTURES / "labels_bad", CORPUS)
    problems = "\n".join(excinfo.value.problems)
    assert "bad.jsonl:2: unknown label 'rumour'" in problems
    assert "bad.jsonl:3: not valid JSON" in problems
    assert "bad.jsonl:4: ref 'fx-9999' not found" in problems
    assert "bad.jsonl:5: empty or missing 'text'" in problems
    assert "bad.jsonl:6: id 'fx-0001' already labelled at" in problems
    assert len(excinfo.value.problems) == 5


def test_check_reports_bad_files_and_passes_good_ones(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("training.labelled_data.CORPUS_DIR", CORPUS)
    monkeypatch.setattr("training.data_tools.read_labels", lambda d: read_labels(d, CORPUS))
    assert check(FIXTURES / "labels_good", tmp_path / "no_splits") == []
    assert len(check(FIXTURES / "labels_bad", tmp_path / "no_splits")) == 5


def test_build_is_deterministic_and_grouped(tmp_path: Path):
    first = build_splits(FIXTURES / "labels_good", tmp_path / "a", CORPUS)
    second = build_splits(FIXTURES / "labels_good", tmp_path / "b", CORPUS)
    for name in ("train", "dev", "test"):
        assert (tmp_path / "a" / f"{name}.jsonl").read_bytes() == (tmp_path / "b" / f"{name}.jsonl").read_bytes()
    assert first["data_version"] == second["data_version"] == split_version(tmp_path / "a")
    docs = {}
    for name in ("train", "dev", "test"):
        for line in (tmp_path / "a" / f"{name}.jsonl").read_text().splitlines():
            record = json.loads(line)
            assert set(record) == {"id", "text", "label", "origin", "doc_id", "source", "license"}
            assert docs.setdefault(record["doc_id"], name) == name, "an article landed in two splits"
    assert sum(sum(c.values()) for c in first["counts"].values()) == 32


def test_version_changes_when_a_label_changes(tmp_path: Path):
    labels = tmp_path / "labels"
    shutil.copytree(FIXTURES / "labels_good", labels)
    before = build_splits(labels, tmp_path / "a", CORPUS)["data_version"]
    path = labels / "authored.jsonl"
    path.write_text(path.read_text().replace('"official_claim"', '"analyst_speculation"', 1))
    after = build_splits(labels, tmp_path / "b", CORPUS)["data_version"]
    assert before != after


def test_exact_and_near_duplicates_never_cross_splits():
    examples = read_labels(FIXTURES / "labels_good", CORPUS)
    twin = examples[0].__class__(**{**examples[0].__dict__, "id": "twin", "doc_id": "fx:other",
                                    "text": examples[0].text.upper()})
    near = examples[1].__class__(**{**examples[1].__dict__, "id": "near", "doc_id": "fx:near",
                                    "text": examples[1].text.replace(".", "!")})
    splits, notes = split_examples(examples + [twin, near])
    ids = {name: {e.id for e in split} for name, split in splits.items()}
    assert "twin" not in set().union(*ids.values()), "an exact duplicate must be dropped"
    assert any("duplicate of" in n for n in notes)
    held = ids["dev"] | ids["test"]
    pair = {examples[1].id, "near"}
    assert not (pair & held and pair & ids["train"]), "a near twin must not sit in train beside dev/test"


def test_committed_labels_are_valid():
    """The real data/labels files parse with known labels (refs resolve when ../shared is present)."""
    from training.labelled_data import CORPUS_DIR, LABELS_DIR

    if not CORPUS_DIR.is_dir():
        pytest.skip("../shared/corpus not available")
    examples = read_labels(LABELS_DIR, CORPUS_DIR)
    assert len(examples) >= 4000
