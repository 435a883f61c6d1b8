"""Which ops can be int8 without moving labels: dynamic-int8 variants of the fused graph vs the fused fp32 graph.

Run: .venv/bin/python bench/int8_variants.py [--model models/default]
Prints, per variant, the share of test-split labels equal to fp32, the largest probability difference, test
macro-F1 and the speed ratio over fused fp32 (same process, same sentences). Not a test: timings are noisy.
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

VARIANTS = {"all ops": None, "MatMul only": ["MatMul"], "Attention only": ["Attention"]}


def quantise(source: Path, target: Path, op_types: list[str] | None) -> None:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    shutil.copytree(source, target)
    kwargs = {"op_types_to_quantize": op_types} if op_types else {}
    quantize_dynamic(str(source / "onnx" / "model.onnx"), str(target / "onnx" / "model.int8.onnx"),
                     weight_type=QuantType.QInt8, per_channel=True,
                     extra_options={"DefaultTensorType": TensorProto.FLOAT}, **kwargs)


def seconds(classifier: Classifier, texts: list[str]) -> float:
    started = time.perf_counter()
    classifier.predict_proba(texts)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/default"))
    parser.add_argument("--test", type=Path, default=Path("data/build/splits/test.jsonl"))
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.ERROR)  # the quantizer logs advice per tensor on the root logger
    records = [json.loads(line) for line in args.test.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts, gold = [r["text"] for r in records], [r["label"] for r in records]
    reference = Classifier.load(args.model, backend="onnx")
    p_ref = reference.predict_proba(texts)
    with tempfile.TemporaryDirectory() as work:
        for name, op_types in VARIANTS.items():
            target = Path(work) / name.replace(" ", "_")
            quantise(args.model, target, op_types)
            variant = Classifier.load(target, backend="onnx-int8")
            p = variant.predict_proba(texts)
            f1 = classification_metrics(gold, [LABEL_IDS[i] for i in p.argmax(axis=1)])["macro_f1"]
            ratio = seconds(reference, texts * 2) / seconds(variant, texts * 2)
            print(f"{name}: labels = fp32 {np.mean(p.argmax(1) == p_ref.argmax(1)):.4f}, "
                  f"max probability difference {np.abs(p - p_ref).max():.3f}, test macro-F1 {f1:.4f}, "
                  f"{ratio:.2f}x fused fp32", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
