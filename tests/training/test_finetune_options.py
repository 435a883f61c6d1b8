"""Fine-tuning options change what is trained: the kept weights come from the weight average when asked."""
from __future__ import annotations

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
