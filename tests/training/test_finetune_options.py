"""Fine-tuning options change what is trained: the kept weights come from the weight average when asked."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from training.config import load_config
from training.finetune import fine_tune
from training.splits import read_split

pytestmark = pytest.mark.slow  # trains weights


def _classifier_weights(tiny_splits, *overrides: str) -> torch.Tensor:
    cfg = load_config(overrides=["epochs=1", "max_length=32", "batch_size=8", "learning_rate=1e-3",
                                 "early_stopping_patience=1", *overrides])
    train = read_split(tiny_splits / "train.jsonl")[::5]
    dev = read_split(tiny_splits / "dev.jsonl")
    return fine_tune(cfg, train, dev).model.classifier.weight.detach().clone()


def test_weight_average_and_label_smoothing_change_the_kept_weights(tiny_splits):
    plain = _classifier_weights(tiny_splits)
    assert torch.equal(plain, _classifier_weights(tiny_splits)), "training must be deterministic for this test"
    averaged = _classifier_weights(tiny_splits, "ema_decay=0.9")
    smoothed = _classifier_weights(tiny_splits, "label_smoothing=0.2")
    assert not torch.allclose(plain, averaged), "with ema_decay the kept weights must be the average, not the last"
    # an average that forgets at once is the last step again: so the difference above is the averaging itself
    assert torch.allclose(plain, _classifier_weights(tiny_splits, "ema_decay=0.000001"), atol=1e-5)
    assert not torch.allclose(plain, smoothed)


def test_the_trainer_loop_keeps_the_best_epoch_and_reports_every_epoch(tiny_splits):
    from training.finetune import predict_logits
    from training.evaluate import classification_metrics
    from inference.labels import LABEL_IDS

    cfg = load_config(overrides=["loop=trainer", "frozen_layers=0", "epochs=3", "max_length=32", "batch_size=8", "learning_rate=1e-3",
                                 "early_stopping_patience=3", "num_threads=1"])
    train = read_split(tiny_splits / "train.jsonl")[::3]
    dev = read_split(tiny_splits / "dev.jsonl")
    reported: list[tuple[int, float]] = []
    tuned = fine_tune(cfg, train, dev, on_epoch=lambda epoch, m: reported.append((epoch, m["dev_macro_f1"])))
    assert [epoch for epoch, _ in reported] == [1, 2, 3]
    assert all(h["train_loss"] > 0 for h in tuned.history)
    best = max(f1 for _, f1 in reported)
    assert len({f1 for _, f1 in reported}) > 1, "epochs must differ on dev, or keeping the best one is not tested"
    assert reported[tuned.best_epoch - 1][1] == best
    logits = predict_logits(tuned.model, tuned.tokenizer, [r["text"] for r in dev], cfg.max_length)
    kept = classification_metrics([r["label"] for r in dev], [LABEL_IDS[i] for i in logits.argmax(axis=1)], "dev")
    assert kept["dev_macro_f1"] == pytest.approx(best), "the kept weights must be the best epoch's"


@pytest.mark.parametrize("path", [["frozen_layers=3"], ["frozen_layers=0"], ["loop=trainer", "frozen_layers=0"]])
def test_runner_ups_change_training_only_where_sentences_have_one(tiny_splits, path):
    from inference.labels import LABEL_IDS

    cfg = load_config(overrides=["epochs=1", "max_length=32", "batch_size=8", "learning_rate=1e-3", *path])
    train = read_split(tiny_splits / "train.jsonl")[::5]
    dev = read_split(tiny_splits / "dev.jsonl")
    hard = [{**r, "runner_up": LABEL_IDS[(LABEL_IDS.index(r["label"]) + 1) % 4]} if i % 2 else r
            for i, r in enumerate(train)]

    def weights(records, weight):
        tuned = fine_tune(dataclasses.replace(cfg, runner_up_weight=weight), records, dev)
        return tuned.model.classifier.weight.detach().clone()

    plain = weights(train, 0.0)
    assert torch.equal(plain, weights(train, 0.3)), "without runner-ups the weight must change nothing"
    assert torch.equal(plain, weights(hard, 0.0)), "with weight 0 the runner-ups must change nothing"
    assert not torch.allclose(plain, weights(hard, 0.3)), "the runner-ups must reach the loss"


def test_dropout_disagreement_is_zero_for_agreeing_passes_symmetric_and_positive_otherwise():
    from training.finetune import dropout_disagreement

    first = torch.tensor([[2.0, 0.0, -1.0, 0.5], [0.0, 0.0, 0.0, 0.0]])
    second = torch.tensor([[0.0, 1.0, -1.0, 0.5], [1.0, 0.0, 0.0, 3.0]])
    assert dropout_disagreement(first, first).item() == pytest.approx(0.0, abs=1e-7)
    assert dropout_disagreement(first, first + 5.0).item() == pytest.approx(0.0, abs=1e-6), "logit shifts are no change"
    forward, backward = dropout_disagreement(first, second), dropout_disagreement(second, first)
    assert forward.item() > 0 and forward.item() == pytest.approx(backward.item())
    p, q = first.softmax(-1), second.softmax(-1)
    by_hand = ((p * (p / q).log()).sum(1) + (q * (q / p).log()).sum(1)).mean() / 2
    assert forward.item() == pytest.approx(by_hand.item(), rel=1e-5)


def test_rdrop_changes_training_and_stays_deterministic(tiny_splits):
    plain = _classifier_weights(tiny_splits)
    rdrop = _classifier_weights(tiny_splits, "rdrop_alpha=1.0")
    assert torch.equal(rdrop, _classifier_weights(tiny_splits, "rdrop_alpha=1.0")), "R-Drop runs must repeat exactly"
    assert not torch.allclose(plain, rdrop), "rdrop_alpha must change what is trained"
