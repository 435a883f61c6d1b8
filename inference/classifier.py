"""The classifier: load a trained model, predict calibrated label probabilities, score articles."""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from inference.backends import Backend, open_backend
from inference.labels import LABEL_IDS
from inference.model_source import ModelLoadError, resolve_model_dir
from inference.sentences import Sentence, split_sentences

log = logging.getLogger(__name__)
CALIBRATION_FILE = "calibration.json"
INFO_FILE = "model_info.json"
DEFAULT_BATCH_SIZE = 32
CHUNK_SIZE = 4096  # sentences tokenised and length-sorted together


@dataclass(frozen=True)
class Prediction:
    """A label, its calibrated probability, and the probabilities of all four labels."""

    label: str
    confidence: float
    probabilities: dict[str, float]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ScoredSentence:
    """A sentence of an article with its offsets and prediction."""

    index: int
    sentence: Sentence
    prediction: Prediction

    def to_dict(self) -> dict:
        return {"sentence_index": self.index, "start": self.sentence.start, "end": self.sentence.end,
                "text": self.sentence.text, **self.prediction.to_dict()}


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    scaled = logits / temperature
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


class Classifier:
    """Sentence classifier over a model directory; the one place model logic lives at run time."""

    def __init__(self, backend: Backend, temperature: float = 1.0, info: dict | None = None,
                 model_dir: Path | None = None):
        self.backend = backend
        self.temperature = temperature
        self.info = info or {}
        self.model_dir = model_dir
        self.truncated = 0

    @classmethod
    def load(cls, source: str | Path | None = None, backend: str = "auto") -> "Classifier":
        """Load from a model directory or MLflow URI (`models:/sourcing-classifier@champion`); default `models/default/`."""
        model_dir = resolve_model_dir(source)
        try:
            info = json.loads((model_dir / INFO_FILE).read_text()) if (model_dir / INFO_FILE).is_file() else {}
            calibration = json.loads((model_dir / CALIBRATION_FILE).read_text()) if (model_dir / CALIBRATION_FILE).is_file() else {}
            config = json.loads((model_dir / "config.json").read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelLoadError(f"model directory {model_dir} has a corrupt JSON file ({exc}); retrain it with `sourcing train`") from None
        labels = [config.get("id2label", {}).get(str(i)) for i in range(len(LABEL_IDS))]
        if labels != list(LABEL_IDS):
            raise ModelLoadError(f"model at {model_dir} has labels {labels}, expected {list(LABEL_IDS)}")
        max_length = int(info.get("max_length", 128))
        try:
            engine = open_backend(model_dir, max_length, backend)
        except (OSError, ValueError, RuntimeError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelLoadError(f"cannot load model from {model_dir}: {first}; retrain it with `sourcing train`") from None
        return cls(engine, float(calibration.get("temperature", 1.0)), info, model_dir)

    @property
    def version(self) -> str:
        return str(self.info.get("version", "unversioned"))

    def predict_proba(self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """(n, 4) calibrated probabilities in input order.

        Sentences are tokenised once per chunk, sorted by token count and batched, so each batch pads
        only to its own longest sentence; chunking bounds memory on very long inputs.
        """
        texts = list(texts)
        probabilities = np.zeros((len(texts), len(LABEL_IDS)), dtype=np.float32)
        encoder = self.backend.encoder
        for start in range(0, len(texts), CHUNK_SIZE):
            encodings = encoder.encode(texts[start:start + CHUNK_SIZE])
            self.truncated += sum(1 for e in encodings if e.overflowing)
            order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
            for begin in range(0, len(order), batch_size):
                index = order[begin:begin + batch_size]
                logits = self.backend.run(encoder.pad([encodings[i] for i in index]))
                probabilities[[start + i for i in index]] = softmax(logits, self.temperature)
        return probabilities

    def predict(self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> list[Prediction]:
        """One Prediction per sentence, in input order."""
        return [to_prediction(row) for row in self.predict_proba(texts, batch_size)]

    def explain(self, texts: Sequence[str], top_k: int = 3, batch_size: int = DEFAULT_BATCH_SIZE) -> list[list]:
        """Per sentence, the cue spans that drove its prediction (`inference.explain.CueSpan`), strongest first."""
        from inference.explain import explain

        return explain(self, texts, top_k=top_k, batch_size=batch_size)

    def score_article(self, text: str, batch_size: int = DEFAULT_BATCH_SIZE) -> list[ScoredSentence]:
        """Split `text` into sentences (offsets into `text`) and predict each."""
        sentences = split_sentences(text)
        predictions = self.predict([s.text for s in sentences], batch_size)
        return [ScoredSentence(i, s, p) for i, (s, p) in enumerate(zip(sentences, predictions))]


def to_prediction(row: Iterable[float]) -> Prediction:
    values = [float(p) for p in row]
    best = int(np.argmax(values))
    return Prediction(LABEL_IDS[best], round(values[best], 6),
                      {label: round(p, 6) for label, p in zip(LABEL_IDS, values)})
