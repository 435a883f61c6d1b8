"""Label files: validation, split building, determinism, grouping and versioning."""
import json
import shutil
from pathlib import Path

import pytest

from training.data_tools import check
from training.labelled_data import DataError, read_labels
from training.splits import build_splits, read_pins, read_split, split_examples, split_version

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


def _split_of_each_doc(splits_dir: Path) -> dict[str, str]:
    return {record["doc_id"]: name for name in ("train", "dev", "test")
            for record in read_split(splits_dir / f"{name}.jsonl")}


def test_pinned_articles_keep_their_split_when_labels_are_added(tmp_path: Path):
    labels, pins = tmp_path / "labels", tmp_path / "pins.json"
    shutil.copytree(FIXTURES / "labels_good", labels)
    build_splits(labels, tmp_path / "a", CORPUS, pins)
    before = _split_of_each_doc(tmp_path / "a")
    assert read_pins(pins) == before
    new = [{"id": f"new-{i}", "text": text, "label": label, "origin": "authored", "note": ""}
           for i, (text, label) in enumerate([
               ("Port officials said the ferry would resume on Monday.", "official_claim"),
               ("Analysts expect the merger to collapse before spring.", "analyst_speculation"),
               ("Auditors confirmed the missing funds had been repaid.", "independent_confirmation"),
               ("The copper mine closed in 1987.", "unverified_assertion"),
               ("Observers think the vote may be delayed again.", "analyst_speculation"),
               ("The ministry said tariffs on steel would rise.", "official_claim"),
               ("A lab test found lead in three of the toys.", "independent_confirmation"),
               ("Thousands reportedly fled the valley overnight.", "unverified_assertion"),
               ("The strike could cost the airline its summer season.", "analyst_speculation"),
               ("Police said two suspects were arrested at the border.", "official_claim"),
               ("Satellite photos reviewed by researchers show the dam breached.", "independent_confirmation"),
               ("Sources close to the club said the coach had resigned.", "unverified_assertion"),
               ("Economists warn inflation may return next year.", "analyst_speculation"),
               ("The company said its profit doubled in the quarter.", "official_claim"),
               ("A jury found the builder liable for the collapse.", "independent_confirmation"),
               ("Residents claim the water turned brown last week.", "unverified_assertion"),
               ("Critics see the reshuffle as a bid to calm markets.", "analyst_speculation"),
               ("The court said hearings would move online.", "official_claim"),
           ])]
    (labels / "more.jsonl").write_text("".join(json.dumps(r) + "\n" for r in new))
    build_splits(labels, tmp_path / "b", CORPUS, pins)
    after = _split_of_each_doc(tmp_path / "b")
    assert set(before) <= set(after), "no label was removed, so no article may disappear"
    assert {doc: after[doc] for doc in before} == before
    new_docs = set(after) - set(before)
    assert len(new_docs) == len(new)
    assert read_pins(pins) == {**before, **after}
    pinned_bytes = pins.read_bytes()
    again = build_splits(labels, tmp_path / "c", CORPUS, pins)
    assert pins.read_bytes() == pinned_bytes, "a rebuild with nothing new must not touch the pin file"
    assert again["data_version"] == split_version(tmp_path / "b")


def _example(template, **changes):
    return template.__class__(**{**template.__dict__, **changes})


def test_a_few_new_articles_are_split_without_error_one_split_each():
    examples = read_labels(FIXTURES / "labels_good", CORPUS)
    pins = {e.doc_id: "train" for e in examples}
    words = ["ferry", "quay", "crane", "tide", "pilot", "dock", "cargo", "berth", "lock", "buoy", "wharf", "tug"]
    one_article = [_example(examples[0], id=f"new-{i}", doc_id="fx:new-article", label="official_claim",
                            text=f"The {word} at the harbour was mentioned by {name}.")
                   for i, (word, name) in enumerate(zip(words, "ABCDEFGHIJKL"))]
    splits, _ = split_examples(examples + one_article, pins)
    homes = [name for name, part in splits.items() if any(e.doc_id == "fx:new-article" for e in part)]
    assert len(homes) == 1 and sum(e.doc_id == "fx:new-article" for e in splits[homes[0]]) == 12
    assert all(e.doc_id in pins for name in ("dev", "test") for e in splits[name] if e.doc_id != "fx:new-article")


def test_a_new_duplicate_never_displaces_a_pinned_sentence():
    examples = read_labels(FIXTURES / "labels_good", CORPUS)
    pinned = examples[0]
    pins = {e.doc_id: "test" for e in examples}
    twin = _example(pinned, id="aaa-new", doc_id="fx:brand-new")  # sorts before the pinned id
    splits, notes = split_examples(examples + [twin], pins)
    kept = {e.id for part in splits.values() for e in part}
    assert pinned.id in kept and "aaa-new" not in kept
    assert any("duplicate of" in note for note in notes)


def test_pins_override_the_folding_and_a_bad_pin_file_is_a_clear_error(tmp_path: Path):
    examples = read_labels(FIXTURES / "labels_good", CORPUS)
    pins = {e.doc_id: "test" for e in examples}
    splits, _ = split_examples(examples, pins)
    assert not splits["train"] and not splits["dev"] and len(splits["test"]) == len(examples)
    bad = tmp_path / "pins.json"
    bad.write_text(json.dumps({"articles": {"fx:a1": "holdout"}}))
    with pytest.raises(DataError, match="unknown split 'holdout'"):
        build_splits(FIXTURES / "labels_good", tmp_path / "out", CORPUS, bad)
    bad.write_text("{not json")
    with pytest.raises(DataError, match="not a split pin file"):
        read_pins(bad)
    bad.write_text(json.dumps({"articles": ["fx:a1"]}))
    with pytest.raises(DataError, match="must map article ids to splits"):
        read_pins(bad)


@pytest.mark.parametrize("where, said, not_said", [
    ("default splits", "split file not found; run `sourcing data build`", "check the path"),
    ("other folder", "split file not found; check the path", "run `sourcing data build`"),
    ("own file", "labelled file not found", "sourcing data build"),
    ("typo in default splits", "labelled file not found", "sourcing data build"),
])
def test_a_missing_file_gets_the_hint_that_fits_where_it_was_looked_for(where, said, not_said, tmp_path,
                                                                        monkeypatch):
    monkeypatch.setattr("training.splits.SPLITS_DIR", tmp_path / "build" / "splits")
    path = {"default splits": tmp_path / "build" / "splits" / "dev.jsonl",
            "other folder": tmp_path / "elsewhere" / "dev.jsonl", "own file": tmp_path / "mine.jsonl",
            "typo in default splits": tmp_path / "build" / "splits" / "dve.jsonl"}[where]
    with pytest.raises(DataError) as raised:
        read_split(path)
    message = str(raised.value)
    assert said in message and not_said not in message
