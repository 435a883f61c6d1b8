"""Export a fine-tuned model to ONNX: the fused BERT graph (`onnx/model.onnx`) and its dynamic int8 copy (`onnx/model.int8.onnx`).

Run: sourcing export --model models/default   (also called by `sourcing train` when export_onnx is true)
"""
from __future__ import annotations

import json
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np

from inference.backends import ONNX_FILE, ONNX_INT8_FILE
from inference.classifier import INFO_FILE

log = logging.getLogger(__name__)

OPSET = 17
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
# A few sentences of different lengths, to trace the graph and check the export against torch.
CHECK_SENTENCES = (
    "Police said the suspect was arrested on Tuesday.",
    "The minister claimed, without offering evidence, that the figures had been manipulated by rivals.",
    "Analysts expect rates to fall.",
    "Two independent laboratories confirmed the results, according to documents seen by reporters.",
)


class ExportError(RuntimeError):
    """The exported graph is missing or disagrees with the torch model."""


def _export_graph(model, encoded: dict, path: Path) -> None:
    """Trace `model` to ONNX with dynamic batch and sequence axes (TorchScript exporter: no extra packages)."""
    import torch

    names = [n for n in INPUT_NAMES if n in encoded]
    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, tuple(encoded[n] for n in names), str(path), input_names=names,
                          output_names=["logits"], dynamic_axes=axes, opset_version=OPSET, dynamo=False)


def _fuse(raw: Path, target: Path, config) -> dict[str, int]:
    """ONNX Runtime's transformer optimizer: embedding, attention, GELU and skip-LayerNorm fusion."""
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    kind = "bert" if config.model_type in ("bert", "roberta", "xlm-roberta", "electra") else config.model_type
    fused = optimizer.optimize_model(str(raw), model_type=kind, num_heads=config.num_attention_heads,
                                     hidden_size=config.hidden_size, optimization_options=FusionOptions(kind),
                                     opt_level=0)
    fused.save_model_to_file(str(target))
    return {op: n for op, n in fused.get_fused_operator_statistics().items() if n}


def _quantize(source: Path, target: Path) -> None:
    """Dynamic int8: weights quantised once, activations per batch at run time; no calibration data needed."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # the quantizer logs a line per tensor, and advice, on the root logger
    try:
        # Shape inference cannot type the outputs of fused contrib ops (Attention, SkipLayerNormalization).
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         extra_options={"DefaultTensorType": TensorProto.FLOAT})
    finally:
        root.setLevel(level)


def _onnx_logits(path: Path, encoded: dict) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    return session.run(None, {k: v.numpy().astype(np.int64) for k, v in encoded.items() if k in names})[0]


def _probabilities(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def export_onnx(model_dir: str | Path, max_length: int | None = None, int8: bool = True,
                tolerance: float = 1e-3) -> Path:
    """Write the fused fp32 `onnx/model.onnx` (the default fast path) and, with `int8`, `onnx/model.int8.onnx`.

    `max_length` only bounds the check sentences; by default it is read from the model's `model_info.json`.
    Fails with ExportError when the fused fp32 graph's probabilities on a few check sentences differ from
    torch's by `tolerance` or more, so a broken export never lands beside the weights. The int8 graph's
    difference is quantisation error, not an export bug: it is logged, and measured by `bench/run.py`.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model_dir = Path(model_dir)
    if max_length is None:
        info = model_dir / INFO_FILE
        max_length = int(json.loads(info.read_text()).get("max_length", 128)) if info.is_file() else 128
    # Eager attention traces to the MatMul/Softmax pattern the optimizer fuses into one Attention op;
    # the SDPA path does not fuse.
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    encoded = dict(tokenizer(list(CHECK_SENTENCES), padding=True, truncation=True, max_length=max_length,
                             return_tensors="pt"))
    with torch.inference_mode():
        expected = _probabilities(model(**encoded).logits.float().numpy())

    target = model_dir / ONNX_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        raw, fused, quantised = Path(tmp) / "raw.onnx", Path(tmp) / "fused.onnx", Path(tmp) / "int8.onnx"
        _export_graph(model, encoded, raw)
        fused_ops = _fuse(raw, fused, model.config)
        fp32_error = float(np.abs(_probabilities(_onnx_logits(fused, encoded)) - expected).max())
        if fp32_error >= tolerance:
            raise ExportError(f"fused ONNX probabilities differ from torch by {fp32_error:.2e} (limit {tolerance})")
        int8_error = float("nan")
        if int8:
            _quantize(fused, quantised)
            int8_error = float(np.abs(_probabilities(_onnx_logits(quantised, encoded)) - expected).max())
            quantised.replace(model_dir / ONNX_INT8_FILE)
        fused.replace(target)
    log.info("exported %s (fused %s); max probability difference to torch on %d check sentences: "
             "fp32 %.1e, int8 %.4f", target, fused_ops, len(CHECK_SENTENCES), fp32_error, int8_error)
    return target
