"""Which ops can be int8 without moving labels: dynamic-int8 variants of the fused graph vs the fused fp32 graph.

Run: .venv/bin/python bench/int8_variants.py [--model models/default] [--split data/build/splits/dev.jsonl]
Prints, per variant, the share of labels equal to fp32, the largest and mean probability difference, macro-F1
and the speed ratio over fused fp32 (same process, same sentences). Variants either quantise only some op types
or quantise everything except one kind of matrix product in every layer (kept fp32). Measured on dev by
default, so choosing a variant never looks at test. Last, the shipped int8 graph at batch sizes 1-32 (dynamic
quantisation scales activations per batch). Not a test: timings are noisy.
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

from inference.backends import ONNX_FILE, ONNX_INT8_FILE
from inference.classifier import Classifier
from inference.labels import LABEL_IDS
from inference.paths import PROJECT_ROOT
from training.evaluate import classification_metrics
from training.splits import read_split

KEPT_FP32 = {  # node names per layer in the BERT graph fused by training/export.py
    "attention QKV": "Attention_{i}",
    "attention output": "/bert/encoder/layer.{i}/attention/output/dense/MatMul",
    "FFN in": "/bert/encoder/layer.{i}/intermediate/dense/MatMul",
    "FFN out": "/bert/encoder/layer.{i}/output/dense/MatMul",
}


def variants(n_layers: int) -> dict[str, dict]:
    """quantize_dynamic options per variant; "all but X" keeps that kind of matrix product fp32 in every layer."""
    def kept(*kinds: str) -> list[str]:
        return [KEPT_FP32[kind].format(i=i) for kind in kinds for i in range(n_layers)]

    return {
        "all ops": {},
        "MatMul only": {"op_types_to_quantize": ["MatMul"]},
        "Attention only": {"op_types_to_quantize": ["Attention"]},
        **{f"all but {kind}": {"nodes_to_exclude": kept(kind)} for kind in KEPT_FP32},
        "all but FFN in + out": {"nodes_to_exclude": kept("FFN in", "FFN out")},
    }


def quantise(source: Path, target: Path, options: dict) -> None:
    import onnx
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = source / ONNX_FILE
    missing = set(options.get("nodes_to_exclude", [])) - {node.name for node in onnx.load(graph).graph.node}
    if missing:  # quantize_dynamic ignores unknown names, which would make the variant silently "all ops"
        raise SystemExit(f"{graph}: no node named {sorted(missing)[0]!r}; was it exported by `sourcing export`?")
    shutil.copytree(source, target)
    quantize_dynamic(str(source / ONNX_FILE), str(target / ONNX_INT8_FILE),
                     weight_type=QuantType.QInt8, per_channel=True,
                     extra_options={"DefaultTensorType": TensorProto.FLOAT}, **options)


def seconds(classifier: Classifier, texts: list[str]) -> float:
    started = time.perf_counter()
    classifier.predict_proba(texts)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=PROJECT_ROOT / "models" / "default")
    parser.add_argument("--split", type=Path, default=PROJECT_ROOT / "data" / "build" / "splits" / "dev.jsonl",
                        help="labelled JSONL to measure on (default: the dev split)")
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.ERROR)  # the quantizer logs advice per tensor on the root logger
    records = read_split(args.split)
    texts, gold = [r["text"] for r in records], [r["label"] for r in records]
    reference = Classifier.load(args.model, backend="onnx")
    p_ref = reference.predict_proba(texts)
    f1_ref = classification_metrics(gold, [LABEL_IDS[i] for i in p_ref.argmax(axis=1)])["macro_f1"]
    with tempfile.TemporaryDirectory() as work:
        n_layers = json.loads((args.model / "config.json").read_text(encoding="utf-8"))["num_hidden_layers"]
        for name, options in variants(n_layers).items():
            target = Path(work) / name.replace(" ", "_").replace("+", "")
            quantise(args.model, target, options)
            variant = Classifier.load(target, backend="onnx-int8")
            p = variant.predict_proba(texts)
            f1 = classification_metrics(gold, [LABEL_IDS[i] for i in p.argmax(axis=1)])["macro_f1"]
            ratio = seconds(reference, texts * 2) / seconds(variant, texts * 2)
            print(f"{name}: labels = fp32 {np.mean(p.argmax(1) == p_ref.argmax(1)):.4f}, probability difference "
                  f"max {np.abs(p - p_ref).max():.3f} mean {np.abs(p - p_ref).mean():.4f}, {args.split.stem} macro-F1 "
                  f"{f1:.4f} (fp32 {f1_ref:.4f}), {ratio:.2f}x fused fp32", flush=True)
    # dynamic int8 scales activations per batch: does a smaller batch (finer scales) keep more labels?
    shipped = Classifier.load(args.model, backend="onnx-int8")
    for size in (1, 4, 16, 32):
        p = shipped.predict_proba(texts, batch_size=size)
        print(f"shipped int8 graph, batch {size}: labels = fp32 {np.mean(p.argmax(1) == p_ref.argmax(1)):.4f}, "
              f"probability difference max {np.abs(p - p_ref).max():.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
