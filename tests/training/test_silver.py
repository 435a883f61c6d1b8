"""Silver (model-labelled) data: only unlabelled sentences of training-side articles, and only for training."""
import json
import shutil
from pathlib import Path

import pytest

from inference.labels import LABEL_IDS
from training.config import ConfigError, TrainConfig
from training.finetune import LengthGroupedBatches
from training.labelled_data import DataError, read_labels
from training.silver import assert_off_held_out, pseudo_label, read_silver, unlabelled_pool
from training.splits import build_splits, read_split
from training.suggest import Labelled

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _corpus_with(tmp_path: Path, rows: list[dict]) -> Path:
    corpus = tmp_path / "corpus"
    shutil.copytree(FIXTURES / "corpus", corpus)
    with open(corpus / "fixture.jsonl", "a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps({"license": "test fixture", "source": "invented", **row}) + "\n")
    return corpus


def _probabilities(label: str, confidence: float) -> list[float]:
    rest = (1 - confidence) / 3
    return [confidence if name == label else rest for name in LABEL_IDS]


def test_build_keeps_silver_to_train_articles_and_off_gold_text(tmp_path: Path):
    plain = build_splits(FIXTURES / "labels_good", tmp_path / "plain", FIXTURES / "corpus")
    train_doc = read_split(tmp_path / "plain" / "train.jsonl")[0]["doc_id"]
    test_doc = read_split(tmp_path / "plain" / "test.jsonl")[0]["doc_id"]
    dev_text = read_split(tmp_path / "plain" / "dev.jsonl")[0]["text"]
    gold_text = read_split(tmp_path / "plain" / "train.jsonl")[0]["text"]
    corpus = _corpus_with(tmp_path, [
        {"id": "new-1", "doc_id": train_doc, "text": "Officials said the dam would be repaired by spring."},
        {"id": "new-2", "doc_id": test_doc, "text": "Witnesses said the fire began in a storeroom."},
        {"id": "new-3", "doc_id": train_doc, "text": gold_text.upper()},
        {"id": "new-4", "doc_id": "fx:unlabelled", "text": "A spokesman said the talks had stalled."},
        {"id": "new-5", "doc_id": train_doc, "text": "Officials said the dam would be repaired by spring!"},
        {"id": "new-6", "doc_id": train_doc, "text": dev_text.rstrip(".") + " again."},
    ])
    silver_dir = tmp_path / "silver"
    silver_dir.mkdir()
    (silver_dir / "pseudo_labels.jsonl").write_text("\n".join([
        json.dumps({"ref": "new-1", "probabilities": _probabilities("official_claim", 0.9), "model": "m1"}),
        json.dumps({"ref": "new-2", "probabilities": _probabilities("unverified_assertion", 0.9)}),
        json.dumps({"ref": "new-3", "probabilities": _probabilities("analyst_speculation", 0.9)}),
        json.dumps({"ref": "new-4", "probabilities": _probabilities("official_claim", 0.9)}),
        json.dumps({"ref": "new-5", "probabilities": _probabilities("official_claim", 0.9)}),
        json.dumps({"ref": "new-6", "probabilities": _probabilities("official_claim", 0.9)}),
        json.dumps({"ref": "gone", "probabilities": _probabilities("analyst_speculation", 0.9)}),
        json.dumps({"ref": "new-1", "probabilities": [0.5, 0.5]}),
        json.dumps({"ref": "new-1", "probabilities": [True, 0, 0, 0]}),
        "not json",
    ]) + "\n")

    manifest = build_splits(FIXTURES / "labels_good", tmp_path / "out", corpus, silver_dir=silver_dir)

    silver = [json.loads(line) for line in (tmp_path / "out" / "silver.jsonl").read_text().splitlines()]
    assert [(r["id"], r["label"], r["origin"], r["model"]) for r in silver] == [("new-1", "official_claim", "silver", "m1")]
    assert silver[0]["text"] == "Officials said the dam would be repaired by spring." and silver[0]["confidence"] == 0.9
    assert manifest["silver"]["count"] == 1 and manifest["silver"]["labels"] == {"official_claim": 1}
    assert manifest["data_version"] == plain["data_version"], "silver must not change the gold data version"
    notes = "\n".join(manifest["notes"])
    for expected in ("dropped 2 sentence(s): article not in the train split",
                     "dropped 1 sentence(s): labelled, decided or excluded", "dropped 1 sentence(s): repeated text",
                     "dropped 1 sentence(s): not in corpus", "dropped 1 sentence(s): near twin of a dev/test sentence",
                     "not valid JSON"):
        assert expected in notes
    assert notes.count("four 'probabilities'") == 2
    for name in ("train", "dev", "test"):
        assert "new-1" not in (tmp_path / "out" / f"{name}.jsonl").read_text()


def test_training_refuses_silver_that_shares_an_article_or_text_with_dev_or_test(tmp_path: Path):
    held_out = [{"id": "d1", "doc_id": "doc-dev", "text": "The minister said taxes would rise."}]
    clean = [{"id": "s1", "doc_id": "doc-train", "text": "Police said the road was closed."}]
    assert_off_held_out(clean, held_out, tmp_path / "silver.jsonl")
    for leak in ({"id": "s2", "doc_id": "doc-dev", "text": "Another sentence."},
                 {"id": "s3", "doc_id": "doc-train", "text": "the minister said TAXES would rise"}):
        with pytest.raises(DataError, match=f"1 silver sentence.*first: {leak['id']}"):
            assert_off_held_out(clean + [leak], held_out, tmp_path / "silver.jsonl")


def test_a_build_without_silver_removes_a_stale_silver_file(tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "silver.jsonl").write_text('{"stale": true}\n')
    manifest = build_splits(FIXTURES / "labels_good", out, FIXTURES / "corpus", silver_dir=tmp_path / "none")
    assert manifest["silver"] == {"count": 0, "version": "none", "labels": {}}
    assert not (out / "silver.jsonl").exists()


def test_pool_takes_train_articles_only_and_skips_labelled_sentences_and_repeats(tmp_path: Path, hash_scorer):
    corpus = _corpus_with(tmp_path, [
        {"id": "new-1", "doc_id": "fx:unlabelled", "text": "The mayor said the bridge would reopen."},
        {"id": "new-2", "doc_id": "fx:held", "text": "A nurse said the ward was full."},
        {"id": "new-3", "doc_id": "fx:unlabelled", "text": "The mayor said the bridge would REOPEN!"},
        {"id": "new-4", "doc_id": "fx:unlabelled", "text": "Analysts expect a recession."},
        {"id": "new-5", "doc_id": "fx:no-labels-yet", "text": "Rescuers said two people were missing."},
    ])
    gold = read_labels(FIXTURES / "labels_good", FIXTURES / "corpus")
    labelled = Labelled({e.id for e in gold} | {"new-4"}, set())
    pool = unlabelled_pool(labelled, {"fx:held": "test", "fx:unlabelled": "train"}, corpus)
    assert [row["id"] for row in pool] == ["new-1"]

    records = pseudo_label(hash_scorer, pool)
    assert records[0]["ref"] == "new-1" and records[0]["model"] == "hash-test"
    assert "text" not in records[0], "silver files hold references, never corpus text"
    assert len(records[0]["probabilities"]) == 4 and abs(sum(records[0]["probabilities"]) - 1) < 1e-3


def test_read_silver_filters_by_confidence_and_explains_a_missing_file(tmp_path: Path):
    path = tmp_path / "silver.jsonl"
    with pytest.raises(DataError, match="sourcing data silver"):
        read_silver(path, 0.9)
    path.write_text("".join(json.dumps({"id": i, "text": f"s {i}", "label": "official_claim", "confidence": c}) + "\n"
                            for i, c in (("a", 0.95), ("b", 0.89), ("c", 0.9))))
    assert [r["id"] for r in read_silver(path, 0.9)] == ["a", "c"]
    assert len(read_silver(path, 0.0)) == 3
    with pytest.raises(DataError, match=r"confidence >= 0.99 \(highest 0.950\)"):
        read_silver(path, 0.99)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"id": "d", "text": "s d", "label": "official_claim", "confidence": "high"}) + "\n")
    with pytest.raises(DataError, match=r"silver.jsonl:4: silver 'confidence' must be a number"):
        read_silver(path, 0.9)


def test_sampler_takes_every_gold_sentence_and_fresh_silver_each_epoch():
    sampler = LengthGroupedBatches(list(range(30)), batch_size=4, seed=1, n_always=10, extra_per_epoch=5)
    assert len(sampler) == 4
    epochs = [sorted(i for batch in sampler for i in batch) for _ in range(3)]
    for seen in epochs:
        assert [i for i in seen if i < 10] == list(range(10))
        assert len([i for i in seen if i >= 10]) == 5 == len({i for i in seen if i >= 10})
    assert len({tuple(seen) for seen in epochs}) > 1, "silver should be redrawn every epoch"
    plain = LengthGroupedBatches(list(range(30)), batch_size=4, seed=1)
    assert len(plain) == 8 and sorted(i for batch in plain for i in batch) == list(range(30))
    without_silver = LengthGroupedBatches(list(range(30)), batch_size=4, seed=1, n_always=30, extra_per_epoch=0)
    assert list(without_silver) == list(LengthGroupedBatches(list(range(30)), batch_size=4, seed=1))
    with pytest.raises(ValueError, match="n_always"):
        LengthGroupedBatches(list(range(30)), batch_size=4, seed=1, n_always=31)


@pytest.mark.parametrize("settings, key", [({"silver_per_epoch": -1}, "silver_per_epoch"),
                                           ({"silver_min_confidence": 1.5}, "silver_min_confidence"),
                                           ({"loop": "trainer", "silver_per_epoch": 10}, "silver_per_epoch")])
def test_silver_keys_are_validated(settings, key):
    with pytest.raises(ConfigError, match=key):
        TrainConfig(**settings)
