"""TF-IDF + logistic regression: the floor every transformer run is compared with."""
from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from inference.labels import LABEL_IDS
from training.config import TrainConfig


def train_baseline(cfg: TrainConfig, train: list[dict]) -> Pipeline:
    """Fit word n-gram TF-IDF and a class-weighted logistic regression."""
    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, cfg.baseline_max_ngram), sublinear_tf=True, min_df=1, lowercase=True),
        LogisticRegression(C=cfg.baseline_c, max_iter=2000,
                           class_weight="balanced" if cfg.class_weighting == "balanced" else None,
                           random_state=cfg.seed),
    )
    pipeline.fit([r["text"] for r in train], [r["label"] for r in train])
    return pipeline


def baseline_logits(pipeline: Pipeline, texts: list[str]) -> np.ndarray:
    """Log-probabilities in label order, so they calibrate and score like transformer logits."""
    probabilities = pipeline.predict_proba(texts)
    order = [list(pipeline.classes_).index(label) if label in pipeline.classes_ else None for label in LABEL_IDS]
    columns = [probabilities[:, i] if i is not None else np.zeros(len(texts)) for i in order]
    return np.log(np.clip(np.stack(columns, axis=1), 1e-9, 1.0))
