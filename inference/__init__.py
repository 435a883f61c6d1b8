"""Sourcing-language classifier runtime: `from inference import Classifier`.

Heavy dependencies load on first use, so `import inference` stays light.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from inference.labels import LABEL_IDS, LABELS

if TYPE_CHECKING:
    from inference.classifier import Classifier, Prediction

__all__ = ["Classifier", "Prediction", "LABELS", "LABEL_IDS"]


def __getattr__(name: str):
    if name in ("Classifier", "Prediction"):
        from inference import classifier

        return getattr(classifier, name)
    raise AttributeError(name)
