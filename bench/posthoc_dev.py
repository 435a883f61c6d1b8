"""Would a saved model's dev macro-F1 rise with post-hoc fixes? Per-class logit offsets, and mixing in the TF-IDF
baseline's log-probabilities, each fitted on 4 of 5 folds of dev articles and scored on the fifth.

Run: .venv/bin/python bench/posthoc_dev.py [--model models/default]
Reads data/build/splits/{train,dev,test}.jsonl. The baseline is trained as a run trains it (train plus reviewer
feedback, default config); test sentences are read only to keep reviewer feedback on them out of it, and are
never scored. Prints the cross-validated dev macro-F1 of the model alone and of each fix.
"""
from __future__ import annotations

import argparse

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold

from inference.classifier import Classifier
from inference.labels import LABEL_IDS
from inference.paths import PROJECT_ROOT
from training.baseline import baseline_logits, train_baseline
from training.config import load_config
from training.feedback import read_feedback
from training.splits import read_split

OFFSETS = np.linspace(-1.5, 1.5, 31)
MIX_WEIGHTS = np.linspace(0.0, 1.0, 11)


def macro_f1(gold: np.ndarray, scores: np.ndarray, index: np.ndarray) -> float:
    return float(f1_score(gold[index], scores[index].argmax(axis=1), average="macro"))


def fit_offsets(gold: np.ndarray, scores: np.ndarray, index: np.ndarray, sweeps: int = 3) -> np.ndarray:
    """Per-class additive offsets by coordinate ascent on macro-F1 over `index`; of tied values, the one nearest
    the current offset (so a flat stretch does not drag an offset to the edge of the grid)."""
    offsets = np.zeros(len(LABEL_IDS))
    for _ in range(sweeps):
        for label in range(len(LABEL_IDS)):
            def score(value: float) -> tuple[float, float]:
                trial = offsets.copy()
                trial[label] = value
                return macro_f1(gold, scores + trial, index), -abs(value - offsets[label])
            offsets[label] = max(OFFSETS, key=score)
    return offsets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    splits = PROJECT_ROOT / "data/build/splits"
    train, dev = read_split(splits / "train.jsonl"), read_split(splits / "dev.jsonl")
    texts = [r["text"] for r in dev]
    model = np.log(np.clip(Classifier.load(args.model, backend="torch").predict_proba(texts), 1e-9, 1.0))
    held_out = dev + read_split(splits / "test.jsonl")  # feedback on a held-out sentence never trains
    baseline = baseline_logits(train_baseline(load_config(), train + read_feedback(held_out, train)), texts)
    gold = np.array([LABEL_IDS.index(r["label"]) for r in dev])
    results: dict[str, list[float]] = {"model alone": [], "class offsets": [], "TF-IDF mix": []}
    for fit, held in GroupKFold(args.folds).split(model, gold, [r["doc_id"] for r in dev]):
        results["model alone"].append(macro_f1(gold, model, held))
        results["class offsets"].append(macro_f1(gold, model + fit_offsets(gold, model, fit), held))
        weight = max(MIX_WEIGHTS, key=lambda w: macro_f1(gold, model + w * baseline, fit))
        results["TF-IDF mix"].append(macro_f1(gold, model + weight * baseline, held))
    print(f"dev macro-F1, {args.folds}-fold cross-validated over articles ({len(dev)} sentences, model {args.model})")
    for name, scores in results.items():
        print(f"  {name:<14} {np.mean(scores):.4f}  folds {' '.join(f'{s:.4f}' for s in scores)}")


if __name__ == "__main__":
    main()
