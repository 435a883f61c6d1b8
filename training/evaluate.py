"""Metrics for a labelled set: per-class precision/recall/F1, macro-F1, confusion matrix, calibration error.

Run: sourcing evaluate --data FILE.jsonl [--model M] [--json OUT]
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from inference.labels import LABEL_IDS, LABEL_TO_ID


def classification_metrics(gold: list[str], predicted: list[str], prefix: str = "") -> dict[str, float]:
    """`{prefix}_macro_f1`, `{prefix}_accuracy` and `{prefix}_{precision,recall,f1,support}_{label}`."""
    p = f"{prefix}_" if prefix else ""
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=list(LABEL_IDS), zero_division=0)
    metrics = {f"{p}macro_f1": float(np.mean(f1)),
               f"{p}accuracy": float(np.mean([g == q for g, q in zip(gold, predicted)])) if gold else 0.0,
               f"{p}n": float(len(gold))}
    for i, label in enumerate(LABEL_IDS):
        metrics[f"{p}precision_{label}"] = float(precision[i])
        metrics[f"{p}recall_{label}"] = float(recall[i])
        metrics[f"{p}f1_{label}"] = float(f1[i])
        metrics[f"{p}support_{label}"] = float(support[i])
    return metrics


PART_TITLES = {"real": "real sentences", "authored": "authored sentences",
               "hard": "hard cases (runner-up label named)", "clear": "clear sentences (no runner-up)"}


def parts_of(records: list[dict]) -> dict[str, list[int]]:
    """Indexes of the real and authored sentences, and of the hard cases (an annotator named a runner-up label)
    and the rest: the parts every score is also reported on. Empty parts are left out, and so are hard and clear
    when no record names a runner-up (split files built before the field existed)."""
    parts = {"real": [i for i, r in enumerate(records) if r.get("origin") == "corpus"],
             "authored": [i for i, r in enumerate(records) if r.get("origin") == "authored"]}
    if any(r.get("runner_up") for r in records):
        parts["hard"] = [i for i, r in enumerate(records) if r.get("runner_up")]
        parts["clear"] = [i for i, r in enumerate(records) if not r.get("runner_up")]
    return {tag: index for tag, index in parts.items() if index}


def part_metrics(records: list[dict], gold: list[str], predicted: list[str]) -> dict[str, dict[str, float]]:
    """Part name -> `classification_metrics` of that part (see `parts_of`)."""
    return {tag: classification_metrics([gold[i] for i in index], [predicted[i] for i in index])
            for tag, index in parts_of(records).items()}


def confusion(gold: list[str], predicted: list[str]) -> np.ndarray:
    """(4, 4) counts, rows gold and columns predicted, in label order."""
    return confusion_matrix(gold, predicted, labels=list(LABEL_IDS))


def expected_calibration_error(probabilities: np.ndarray, gold: list[str], bins: int = 15) -> float:
    """ECE of the top-label confidence over equal-width bins."""
    if len(gold) == 0:
        return 0.0
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.array([LABEL_TO_ID[g] for g in gold])
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        mask = (confidence > low) & (confidence <= high)
        if mask.any():
            error += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(error)


def format_report(metrics: dict[str, float], matrix: np.ndarray, prefix: str = "") -> str:
    """A plain-text table of per-class metrics and the confusion matrix."""
    p = f"{prefix}_" if prefix else ""
    width = max(len(label) for label in LABEL_IDS)
    lines = [f"{'label':<{width}}  precision  recall     f1  support"]
    for label in LABEL_IDS:
        lines.append(f"{label:<{width}}  {metrics[p + 'precision_' + label]:9.3f}  {metrics[p + 'recall_' + label]:6.3f}"
                     f"  {metrics[p + 'f1_' + label]:5.3f}  {int(metrics[p + 'support_' + label]):7d}")
    lines.append(f"{'macro-F1':<{width}}  {metrics[p + 'macro_f1']:.3f}   accuracy {metrics[p + 'accuracy']:.3f}"
                 f"   n={int(metrics[p + 'n'])}")
    lines.append("")
    lines.append("confusion (rows gold, columns predicted): " + ", ".join(f"{i}={l}" for i, l in enumerate(LABEL_IDS)))
    for i, row in enumerate(matrix):
        lines.append(f"  {i}: " + " ".join(f"{int(v):5d}" for v in row))
    return "\n".join(lines)


def plot_confusion(matrix: np.ndarray, path: Path, title: str) -> Path:
    """Save the confusion matrix as a PNG with counts in the cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    ax.imshow(matrix, cmap="Blues")
    short = [label.replace("_", "\n") for label in LABEL_IDS]
    ax.set_xticks(range(len(LABEL_IDS)), short, fontsize=8)
    ax.set_yticks(range(len(LABEL_IDS)), short, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title)
    limit = matrix.max() / 2 if matrix.size else 0
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, int(matrix[i, j]), ha="center", va="center",
                    color="white" if matrix[i, j] > limit else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
