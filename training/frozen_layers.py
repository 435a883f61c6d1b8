"""Freeze the embeddings and bottom encoder layers, and run them once per sentence instead of once per epoch.

Most of a fine-tuning step on CPU is the forward and backward pass through all layers. With the bottom
`k` layers frozen their output never changes, so it is computed once (no dropout, as at inference) and
every epoch trains only the top layers, pooler and head on it. The saved model is the whole model: frozen
weights are the base model's, so nothing changes for loading or serving.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch.nn.utils.rnn import pad_sequence

from training.config import ConfigError


def check_frozen_layers(base_model_dir: Path, n_frozen: int) -> None:
    """Fail before a run starts when `n_frozen` would leave no layer of the base model to train."""
    if n_frozen == 0:
        return
    n_layers = json.loads((base_model_dir / "config.json").read_text(encoding="utf-8")).get("num_hidden_layers")
    if n_layers is not None and n_frozen >= n_layers:
        raise ConfigError(f"config key 'frozen_layers' must be below the base model's {n_layers} layers, "
                          f"got {n_frozen}")


def _parts(model: torch.nn.Module):
    """The encoder body and its layers of a BERT-style sequence classifier, or a clear error."""
    body = getattr(model, getattr(model, "base_model_prefix", ""), None)
    layers = getattr(getattr(body, "encoder", None), "layer", None)
    if body is None or layers is None or not all(hasattr(model, a) for a in ("dropout", "classifier")) \
            or not hasattr(body, "embeddings") or not hasattr(body, "pooler"):
        raise ValueError(f"frozen_layers needs a BERT-style classifier (embeddings, encoder.layer, pooler, "
                         f"dropout, classifier); {type(model).__name__} is not one")
    return body, layers


def _additive_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(batch, 1, 1, length) mask to add to attention scores: 0 for tokens, the dtype's minimum for padding."""
    return (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


class FrozenBottom:
    """Caches what the frozen bottom of `model` outputs, and runs the trainable top on it."""

    def __init__(self, model: torch.nn.Module, n_frozen: int):
        self.body, self.layers = _parts(model)
        if not 0 < n_frozen < len(self.layers):
            raise ValueError(f"frozen_layers must be between 1 and {len(self.layers) - 1} for a model with "
                             f"{len(self.layers)} layers, got {n_frozen}")
        self.model, self.n_frozen = model, n_frozen
        for module in (self.body.embeddings, *self.layers[:n_frozen]):
            module.requires_grad_(False)

    @torch.inference_mode()
    def encode(self, input_ids: list[list[int]], batch_size: int = 64) -> list[torch.Tensor]:
        """Per sentence, the (length, hidden) output of the frozen layers, without padding."""
        was_training = self.model.training
        self.model.eval()
        order = sorted(range(len(input_ids)), key=lambda i: len(input_ids[i]))
        states: list[torch.Tensor | None] = [None] * len(input_ids)
        for begin in range(0, len(order), batch_size):
            index = order[begin:begin + batch_size]
            ids = pad_sequence([torch.tensor(input_ids[i]) for i in index], batch_first=True)
            mask = pad_sequence([torch.ones(len(input_ids[i]), dtype=torch.long) for i in index], batch_first=True)
            hidden = self.body.embeddings(input_ids=ids, token_type_ids=torch.zeros_like(ids))
            additive = _additive_mask(mask, hidden.dtype)
            for layer in self.layers[:self.n_frozen]:
                hidden = layer(hidden, additive)
            for row, i in enumerate(index):
                states[i] = hidden[row, :len(input_ids[i])].clone()
        self.model.train(was_training)
        return states

    def top_logits(self, model: torch.nn.Module, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits of `model` (this model or a weight average of it) from cached, padded bottom states."""
        body, layers = _parts(model)
        additive = _additive_mask(attention_mask, hidden.dtype)
        for layer in layers[self.n_frozen:]:
            hidden = layer(hidden, additive)
        return model.classifier(model.dropout(body.pooler(hidden)))


def collate_states(items: list[tuple[torch.Tensor, int] | tuple[torch.Tensor, int, int]]) -> dict[str, torch.Tensor]:
    """Pad a batch of (cached states, label id[, runner-up id]) into hidden states, attention mask, labels
    (and runner_up when the items carry one)."""
    states = [item[0] for item in items]
    batch = {"hidden": pad_sequence(states, batch_first=True),
             "attention_mask": pad_sequence([torch.ones(len(s), dtype=torch.long) for s in states], batch_first=True),
             "labels": torch.tensor([item[1] for item in items])}
    if len(items[0]) > 2:
        batch["runner_up"] = torch.tensor([item[2] for item in items])
    return batch
