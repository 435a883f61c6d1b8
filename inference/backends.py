"""Engines that turn tokenised sentences into logits: fp32 torch and ONNX Runtime (fused fp32 or int8); one shared tokenizer."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

ONNX_FILE = "onnx/model.onnx"  # fused fp32 graph: same outputs as torch to ~1e-6, the default fast path
ONNX_INT8_FILE = "onnx/model.int8.onnx"  # fused, dynamic int8: faster, but moves some labels (see bench/results.md)
Features = dict[str, np.ndarray]  # name -> (batch, seq_len) int64


def _threads() -> int:
    return int(os.environ.get("SOURCING_THREADS", os.cpu_count() or 1))


class Encoder:
    """The model's fast tokenizer (`tokenizer.json`) used directly, without importing transformers.

    Same ids as `AutoTokenizer(..., truncation=True, max_length=max_length)`; padding is to the longest
    sentence of each batch, never to a fixed length.
    """

    def __init__(self, model_dir: Path, max_length: int):
        from tokenizers import Tokenizer

        config_file = model_dir / "tokenizer_config.json"
        config = json.loads(config_file.read_text()) if config_file.is_file() else {}
        pad_token = config.get("pad_token") or "[PAD]"
        pad_token = pad_token["content"] if isinstance(pad_token, dict) else pad_token
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()  # the saved file may pad to a fixed length
        self.tokenizer.enable_truncation(max_length, direction=config.get("truncation_side", "right"))
        self.pad_id = self.tokenizer.token_to_id(pad_token) or 0
        self.pad_type_id = int(config.get("pad_token_type_id", 0))
        self.left_pad = config.get("padding_side") == "left"
        self.max_length = max_length

    def encode(self, texts: Sequence[str]) -> list:
        """Unpadded `tokenizers.Encoding`s, in parallel across cores; `.overflowing` is non-empty when truncated."""
        return self.tokenizer.encode_batch(list(texts))

    def pad(self, encodings: Sequence) -> Features:
        """Input ids, attention mask and token type ids of one batch, padded to its longest sentence."""
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        types = np.full((len(encodings), width), self.pad_type_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            span = slice(width - n, width) if self.left_pad else slice(0, n)
            ids[row, span] = encoding.ids
            types[row, span] = encoding.type_ids
            mask[row, span] = 1
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}

    def __call__(self, texts: Sequence[str]) -> Features:
        return self.pad(self.encode(texts))


class Backend(Protocol):
    name: str
    encoder: Encoder

    def run(self, features: Features) -> np.ndarray:
        """(batch, n_labels) raw scores for one encoded batch."""

    def logits(self, texts: list[str]) -> np.ndarray:
        """(batch, n_labels) raw scores for one batch of sentences, in input order."""


class TorchBackend:
    """The Hugging Face model in fp32 torch; the reference the fast path must match."""

    name = "torch"

    def __init__(self, model_dir: Path, max_length: int):
        import torch
        from transformers import AutoModelForSequenceClassification

        torch.set_num_threads(_threads())
        self._torch = torch
        self.encoder = Encoder(model_dir, max_length)
        self.model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
        self.max_length = max_length

    def run(self, features: Features) -> np.ndarray:
        with self._torch.inference_mode():
            inputs = {k: self._torch.from_numpy(v) for k, v in features.items()}
            return self.model(**inputs).logits.float().numpy()

    def logits(self, texts: list[str]) -> np.ndarray:
        return self.run(self.encoder(texts))


def onnx_session(path: Path, threads: int):
    """A CPU ONNX Runtime session with `threads` intra-op threads and every graph optimisation on."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxBackend:
    """ONNX Runtime with a fused graph exported beside the torch weights (`sourcing export`)."""

    name = "onnx"

    def __init__(self, model_dir: Path, max_length: int, onnx_file: str = ONNX_FILE):
        self.session = onnx_session(model_dir / onnx_file, _threads())
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.encoder = Encoder(model_dir, max_length)
        self.max_length = max_length

    def run(self, features: Features) -> np.ndarray:
        return self.session.run(None, {k: v for k, v in features.items() if k in self.input_names})[0]

    def logits(self, texts: list[str]) -> np.ndarray:
        return self.run(self.encoder(texts))


def open_backend(model_dir: Path, max_length: int, kind: str = "auto") -> Backend:
    """`auto` takes the fused fp32 ONNX graph when it was exported, else torch; `onnx-int8` must be asked for.

    Dynamic int8 keeps macro-F1 but changes about 2% of the trained model's labels (at any batch size) and moves
    some probabilities by up to about 0.5, outside the agreement bound, so it is never picked by default.
    """
    if kind == "onnx" or (kind == "auto" and (model_dir / ONNX_FILE).is_file()):
        return OnnxBackend(model_dir, max_length)
    if kind == "onnx-int8":
        return OnnxBackend(model_dir, max_length, ONNX_INT8_FILE)
    if kind not in ("auto", "torch"):
        raise ValueError(f"unknown backend {kind!r}; expected auto, onnx, onnx-int8 or torch")
    return TorchBackend(model_dir, max_length)
