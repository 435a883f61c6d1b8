"""How much each sentence vector of the untouched base model knows about the four labels: a linear probe.

The classifier reads the pooler (a dense layer on the [CLS] token) as BERT does; all-MiniLM-L6-v2 was tuned
as a sentence encoder with the mean of its token vectors, and its pooler weights are the ones from before
that tuning. A logistic regression fitted on train and scored on dev, per vector, tells whether the head
reads the vector the encoder was trained to make. Dev only: this chooses what to try, not what ships.

Run: .venv/bin/python bench/pooling_probe.py [--splits data/build/splits]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from training.config import TrainConfig
from training.finetune import resolve_base_model
from training.splits import SPLITS_DIR, read_split


@torch.inference_mode()
def embed_sentences(texts: list[str], model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                    max_length: int, batch_size: int = 64) -> dict[str, np.ndarray]:
    """Per text: the mean of the last layer's token vectors, the [CLS] vector, and the pooler's output."""
    out: dict[str, list[np.ndarray]] = {"mean": [], "cls": [], "pooler": []}
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for begin in tqdm(range(0, len(order), batch_size), desc="encode", leave=False):
        index = order[begin:begin + batch_size]
        batch = tokenizer([texts[i] for i in index], padding=True, truncation=True, max_length=max_length,
                          return_tensors="pt")
        result = model(**batch)
        mask = batch["attention_mask"][..., None].float()
        out["mean"].append(((result.last_hidden_state * mask).sum(1) / mask.sum(1)).numpy())
        out["cls"].append(result.last_hidden_state[:, 0].numpy())
        out["pooler"].append(result.pooler_output.numpy())
    inverse = np.argsort(order)
    return {name: np.concatenate(parts)[inverse] for name, parts in out.items()}


def main() -> None:
    """Embed train and dev with the base model, fit one probe per sentence vector, print its dev macro-F1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=Path, default=SPLITS_DIR)
    args = parser.parse_args()
    cfg = TrainConfig()
    base = resolve_base_model(cfg.base_model)
    model, tokenizer = AutoModel.from_pretrained(base).eval(), AutoTokenizer.from_pretrained(base)
    train, dev = (read_split(args.splits / f"{name}.jsonl") for name in ("train", "dev"))
    train_vectors = embed_sentences([r["text"] for r in train], model, tokenizer, cfg.max_length)
    dev_vectors = embed_sentences([r["text"] for r in dev], model, tokenizer, cfg.max_length)
    y_train, y_dev = [r["label"] for r in train], [r["label"] for r in dev]
    for name in ("mean", "cls", "pooler"):
        scaler = StandardScaler().fit(train_vectors[name])
        probe = LogisticRegression(max_iter=2000, class_weight="balanced", C=0.1)
        probe.fit(scaler.transform(train_vectors[name]), y_train)
        predicted = probe.predict(scaler.transform(dev_vectors[name]))
        print(f"{name:7s} dev macro-F1 {f1_score(y_dev, predicted, average='macro'):.4f}")


if __name__ == "__main__":
    main()
