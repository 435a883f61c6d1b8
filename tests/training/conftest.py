"""Fixtures for the labelling-loop tests: a deterministic stand-in scorer (no weights)."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from inference.labels import LABEL_IDS


class HashScorer:
    """Deterministic stand-in for a Classifier: probabilities from a hash of the text."""

    version = "hash-test"

    def predict_proba(self, texts, batch_size=32):
        rows = []
        for text in texts:
            digest = hashlib.sha256(text.encode()).digest()
            logits = np.array([b / 64 for b in digest[:len(LABEL_IDS)]])
            rows.append(np.exp(logits) / np.exp(logits).sum())
        return np.array(rows)


@pytest.fixture()
def hash_scorer() -> HashScorer:
    return HashScorer()
