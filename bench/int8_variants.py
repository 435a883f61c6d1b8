"""Which ops can be int8 without moving labels: dynamic-int8 variants of the fused graph vs the fused fp32 graph.

Run: .venv/bin/python bench/int8_variants.py [--model models/default] [--split dev]
Prints, per variant, the share of labels equal to fp32, the largest and mean probability difference, macro-F1
and the speed ratio over fused fp32 (same process, same sentences). Variants either quantise only some op types
or quantise everything except one kind of matrix product in all six layers (kept fp32). Measured on dev by
default, so choosing a variant never looks at test. Not a test: timings are noisy.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from inference.classifier import Classifier
from inference.labels import LABEL_IDS
from training.evaluate import classification_metrics

LAYERS = range(6)
KEPT_FP32 = {  # node names in the graph fused by training/export.py (BERT, 6 layers)
    "attention QKV": "Attention_{i}",
    "attention output": "/bert/encoder/layer.{i}/attention/output/dense/MatMul",
    "FFN in": "/bert/encoder/layer.{i}/intermediate/dense/MatMul",
    "FFN out": "/bert/encoder/layer.{i}/output/dense/MatMul",
}
VARIANTS: dict[str, dict] = {
    "all ops": {},
    "MatMul only": {"op_types_to_quantize": ["MatMul"]},
    "Attention only": {"op_types_to_quantize": ["Attention"]},
    **{f"all but {kind}": {"nodes_to_exclude": [pattern.format(i=i) for i in LAYERS]}
       for kind, pattern in KEPT_FP32.items()},
    "all but FFN in + out": {"nodes_to_exclude": [KEPT_FP32[k].format(i=i) for k in ("FFN in", "FFN out")
                                                  for i in LAYERS]},
}


def quantise(source: Path, target: Path, options: dict) -> None:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    shutil.copytree(source, target)
    quantize_dynamic(str(source / "onnx" / "model.onnx"), str(target / "onnx" / "model.int8.onnx"),
                     weight_type=QuantType.QInt8, per_channel=True,
                     extra_options={"DefaultTensorType": TensorProto.FLOAT}, **options)


def seconds(classifier: Classifier, texts: list[str]) -> float:
    started = time.perf_counter()
    classifier.predict_proba(texts)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/default"))
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.ERROR)  # the quantizer logs advice per tensor on the root logger
    records = [json.loads(line) for line in Path(f"data/build/splits/{args.split}.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    texts, gold = [r["text"] for r in records], [r["label"] for r in records]
    reference = Classifier.load(args.model, backend="onnx")
    p_ref = reference.predict_proba(texts)
    f1_ref = classification_metrics(gold, [LABEL_IDS[i] for i in p_ref.argmax(axis=1)])["macro_f1"]
    with tempfile.TemporaryDirectory() as work:
        for name, options in VARIANTS.items():
            target = Path(work) / name.replace(" ", "_").replace("+", "")
            quantise(args.model, target, options)
            variant = Classifier.load(target, backend="onnx-int8")
            p = variant.predict_proba(texts)
            f1 = classification_metrics(gold, [LABEL_IDS[i] for i in p.argmax(axis=1)])["macro_f1"]
            ratio = seconds(reference, texts * 2) / seconds(variant, texts * 2)
            print(f"{name}: labels = fp32 {np.mean(p.argmax(1) == p_ref.argmax(1)):.4f}, probability difference "
                  f"max {np.abs(p - p_ref).max():.3f} mean {np.abs(p - p_ref).mean():.4f}, {args.split} macro-F1 "
                  f"{f1:.4f} (fp32 {f1_ref:.4f}), {ratio:.2f}x fused fp32", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
