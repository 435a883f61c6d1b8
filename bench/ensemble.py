"""How much would averaging several saved models buy? Each model's macro-F1 and that of the mean of their
(calibrated) log-probabilities, on dev, and on test only with --test (for reporting: test chooses nothing).

Run: .venv/bin/python bench/ensemble.py MODEL_DIR MODEL_DIR [...] [--test]
The models are scored with the torch backend, so ONNX exports play no part. Dev flatters an ensemble a little:
each member kept the epoch that scored best on dev. An ensemble costs as many forward
passes per sentence as it has models; this measures whether that could ever pay, not a shipped feature.
"""
from __future__ import annotations

import argparse

import numpy as np

from inference.classifier import Classifier
from inference.labels import LABEL_IDS
from training.evaluate import classification_metrics, part_metrics
from training.splits import SPLITS_DIR, read_split


def scores(records: list[dict], log_proba: np.ndarray) -> str:
    """Macro-F1 on all records, and on real (corpus) ones."""
    gold, predicted = [r["label"] for r in records], [LABEL_IDS[i] for i in log_proba.argmax(axis=1)]
    real = part_metrics(records, gold, predicted).get("real", {}).get("macro_f1", float("nan"))
    return f"{classification_metrics(gold, predicted)['macro_f1']:.4f} (real {real:.4f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="saved model directories (models/default, a run's output_dir)")
    parser.add_argument("--test", action="store_true", help="also score the test split (reporting only)")
    args = parser.parse_args()
    for split in ("dev", "test") if args.test else ("dev",):
        records = read_split(SPLITS_DIR / f"{split}.jsonl")
        texts = [r["text"] for r in records]
        log_probas = []
        for model in args.models:
            proba = Classifier.load(model, backend="torch").predict_proba(texts)
            log_probas.append(np.log(np.clip(proba, 1e-9, 1.0)))
            print(f"{split} {model}: {scores(records, log_probas[-1])}", flush=True)
        print(f"{split} mean of {len(args.models)}: {scores(records, np.mean(log_probas, axis=0))}", flush=True)


if __name__ == "__main__":
    main()
