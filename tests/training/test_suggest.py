"""`sourcing suggest`: never a labelled sentence, exactly --n, the least certain first, spread over strata."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from inference.labels import LABEL_IDS
from training.labelled_data import normalise, read_labels
from training.suggest import Labelled, labelled_data, read_pool, spread_select, suggest, uncertainty

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
POOL = FIXTURES / "pool" / "pool.jsonl"


@pytest.fixture()
def labelled() -> Labelled:
    return labelled_data(FIXTURES / "labels_good", FIXTURES / "corpus")


def test_suggest_never_returns_a_labelled_sentence(labelled, hash_scorer):
    pool, skipped = read_pool([POOL, FIXTURES / "corpus" / "fixture.jsonl"])
    gold = read_labels(FIXTURES / "labels_good", FIXTURES / "corpus")
    gold_ids, gold_texts = {e.id for e in gold}, {normalise(e.text) for e in gold}
    picked = suggest(hash_scorer, pool, labelled, n=1000)
    assert skipped == 0 and picked
    assert not {s.sentence.id for s in picked} & gold_ids
    assert not {normalise(s.sentence.text) for s in picked} & gold_texts
    texts = [normalise(s.sentence.text) for s in picked]
    assert len(texts) == len(set(texts))  # the pool's own twin is suggested once
    # 27 pool lines: 4 duplicate labelled sentences, 1 duplicate within the pool; 28 fixture corpus lines, all labelled.
    assert len(picked) == 27 - 4 - 1


@pytest.mark.parametrize("n", [1, 5, 12])
@pytest.mark.parametrize("strategy", ["entropy", "margin", "mixed"])
def test_suggest_respects_n(labelled, n, strategy, hash_scorer):
    pool, _ = read_pool([POOL])
    picked = suggest(hash_scorer, pool, labelled, n=n, strategy=strategy)
    assert len(picked) == n
    assert [s.rank for s in picked] == list(range(1, n + 1))
    assert all(s.strategy == strategy and s.model_version == "hash-test" for s in picked)


def test_uncertainty_orders_sure_below_unsure():
    p = np.array([[0.97, 0.01, 0.01, 0.01], [0.5, 0.45, 0.03, 0.02], [0.25, 0.25, 0.25, 0.25]])
    for strategy in ("entropy", "margin", "mixed"):
        scores = uncertainty(p, strategy)
        assert scores[0] < scores[1] < scores[2] + 1e-9
        assert 0 <= scores.min() and scores.max() <= 1 + 1e-9
    assert uncertainty(p, "margin")[2] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        uncertainty(p, "random")


def test_spread_takes_turns_across_strata_and_articles():
    # Stratum A holds the six most uncertain sentences, stratum B the next two.
    scores = np.array([0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.90, 0.89])
    strata = [("a", 0)] * 6 + [("b", 1)] * 2
    docs = ["d1", "d1", "d1", "d2", "d3", "d4", "d5", "d6"]
    assert sorted(spread_select(scores, strata, docs, n=4)) == [0, 1, 6, 7]  # A and B take turns
    assert sorted(spread_select(scores, strata, docs, n=5)) == [0, 1, 3, 6, 7]  # a third from article d1 waits
    assert spread_select(scores, strata, docs, n=8) == list(range(8))


def test_corpus_sentences_become_references(labelled):
    corpus = {json.loads(l)["id"]: json.loads(l) for l in (FIXTURES / "corpus" / "fixture.jsonl").read_text().splitlines()}
    pool, _ = read_pool([POOL, FIXTURES / "corpus" / "fixture.jsonl"], corpus)
    by_id = {s.id: s for s in pool}
    assert by_id["fx-0005"].ref == "fx-0005" and by_id["wire-0001"].ref is None
    assert by_id["wire-0001"].source == "wire" and by_id["fx-0005"].source == "fx"


@pytest.mark.slow
def test_suggest_command_with_a_trained_model(tiny_model, tmp_path):
    from training.cli import main

    out = tmp_path / "suggest.jsonl"
    assert main(["suggest", "--pool", str(POOL), "--n", "7", "--model", str(tiny_model.model_dir),
                 "--labels-dir", str(FIXTURES / "labels_good"), "--corpus-dir", str(FIXTURES / "corpus"),
                 "--strategy", "entropy", "-o", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 7
    gold = read_labels(FIXTURES / "labels_good", FIXTURES / "corpus")
    assert not {normalise(r["text"]) for r in rows} & {normalise(e.text) for e in gold}
    for row in rows:
        assert row["model_label"] in LABEL_IDS
        assert sum(row["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert row["model_label"] == max(row["probabilities"], key=row["probabilities"].get)
    assert [r["uncertainty"] for r in rows] == sorted((r["uncertainty"] for r in rows), reverse=True)


def test_suggest_refuses_to_write_into_the_gold_folder(tmp_path):
    from training.cli import main

    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "a.jsonl").write_text((FIXTURES / "labels_good" / "authored.jsonl").read_text())
    assert main(["suggest", "--pool", str(POOL), "--labels-dir", str(labels), "--corpus-dir",
                 str(FIXTURES / "corpus"), "-o", str(labels / "suggest.jsonl")]) == 2
    assert not (labels / "suggest.jsonl").exists()


def test_random_draw_is_seeded_uniform_and_skips_labelled_sentences(labelled, hash_scorer):
    pool, _ = read_pool([POOL, FIXTURES / "corpus" / "fixture.jsonl"])
    first = suggest(hash_scorer, pool, labelled, n=8, strategy="random", seed=7)
    again = suggest(hash_scorer, pool, labelled, n=8, strategy="random", seed=7)
    other = suggest(hash_scorer, pool, labelled, n=8, strategy="random", seed=8)
    ids = [s.sentence.id for s in first]
    assert ids == [s.sentence.id for s in again], "the same seed draws the same sentences in the same order"
    assert ids != [s.sentence.id for s in other]
    assert len(set(ids)) == 8 and [s.rank for s in first] == list(range(1, 9))
    everything = {s.sentence.id for s in suggest(hash_scorer, pool, labelled, n=1000, strategy="random")}
    assert set(ids) <= everything and len(everything) == 27 - 4 - 1, "drawn only from unlabelled, deduplicated"
    # a draw is not ordered by uncertainty: the most uncertain sentences are not what seed 7 draws first
    assert [s.uncertainty for s in first] != sorted((s.uncertainty for s in first), reverse=True)


def test_split_filter_keeps_the_articles_pinned_to_that_split():
    from training.suggest import PoolSentence, in_split

    pool = [PoolSentence(f"s{i}", f"Sentence {i}.", "x", doc) for i, doc in enumerate(["a", "a", "b", "c", "d"])]
    pins = {"a": "train", "b": "dev", "c": "train"}
    assert [s.id for s in in_split(pool, pins, "train")] == ["s0", "s1", "s3"]
    assert [s.id for s in in_split(pool, pins, "dev")] == ["s2"]
    assert in_split(pool, pins, "test") == []
    assert [s.id for s in in_split(pool, pins, "unassigned")] == ["s4"]
    with pytest.raises(ValueError, match="unknown split"):
        in_split(pool, pins, "holdout")


def test_the_cli_offers_exactly_the_strategies_and_splits_suggest_knows():
    from training import suggest as module
    from training.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices["suggest"]
    choices = {a.dest: a.choices for a in sub._actions if a.choices}
    assert tuple(choices["strategy"]) == (*module.STRATEGIES, module.RANDOM)
    assert tuple(choices["split"]) == module.SPLIT_CHOICES
