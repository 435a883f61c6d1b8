"""Engines that turn a batch of sentences into logits: fp32 torch, and ONNX Runtime int8."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

ONNX_FILE = "onnx/model.int8.onnx"


class Backend(Protocol):
    name: str

    def logits(self, texts: list[str]) -> np.ndarray:
        """(batch, n_labels) raw scores for one batch, in input order."""


def _threads() -> int:
    return int(os.environ.get("SOURCING_THREADS", os.cpu_count() or 1))


class TorchBackend:
    """The Hugging Face model in fp32 torch; the reference the fast path must match."""

    name = "torch"

    def __init__(self, model_dir: Path, max_length: int):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        torch.set_num_threads(_threads())
        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
        self.max_length = max_length

    def logits(self, texts: list[str]) -> np.ndarray:
        encoded = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        with self._torch.inference_mode():
            return self.model(**encoded).logits.float().numpy()


class OnnxBackend:
    """ONNX Runtime with the fused, int8-quantised graph exported beside the torch weights."""

    name = "onnx"

    def __init__(self, model_dir: Path, max_length: int):
        import onnxruntime as ort
        from transformers import AutoTokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = _threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(model_dir / ONNX_FILE), options, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.max_length = max_length

    def logits(self, texts: list[str]) -> np.ndarray:
        encoded = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="np")
        feed = {k: v.astype(np.int64) for k, v in encoded.items() if k in self.input_names}
        return self.session.run(None, feed)[0]


def open_backend(model_dir: Path, max_length: int, kind: str = "auto") -> Backend:
    """`auto` takes the ONNX int8 model when it was exported, else torch."""
    if kind == "onnx" or (kind == "auto" and (model_dir / ONNX_FILE).is_file()):
        return OnnxBackend(model_dir, max_length)
    if kind not in ("auto", "torch"):
        raise ValueError(f"unknown backend {kind!r}; expected auto, onnx or torch")
    return TorchBackend(model_dir, max_length)
