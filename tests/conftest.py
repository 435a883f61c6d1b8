"""Shared fixtures: tiny splits from committed authored sentences, a temp sqlite MLflow store, a tiny trained model."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from inference.labels import LABEL_IDS
from inference.paths import PROJECT_ROOT

AUTHORED = PROJECT_ROOT / "data" / "labels" / "authored_starter.jsonl"


def write_tiny_splits(target: Path, per_label: dict[str, int]) -> Path:
    """Split the first sentences of each label of the committed authored set into train/dev/test files."""
    records = [json.loads(line) for line in AUTHORED.read_text(encoding="utf-8").splitlines() if line.strip()]
    target.mkdir(parents=True, exist_ok=True)
    by_label = {label: [r for r in records if r["label"] == label] for label in LABEL_IDS}
    offset = 0
    for split, n in per_label.items():
        rows = []
        for label in LABEL_IDS:
            for r in by_label[label][offset:offset + n]:
                rows.append({"id": r["id"], "text": r["text"], "label": label, "origin": "authored",
                             "doc_id": f"authored:{r['id']}", "source": "authored", "license": "test"})
        (target / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        offset += n
    return target


@pytest.fixture(scope="session")
def tiny_splits(tmp_path_factory) -> Path:
    return write_tiny_splits(tmp_path_factory.mktemp("splits"), {"train": 40, "dev": 10, "test": 10})


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory):
    """A real sqlite MLflow store in a temp dir, used by every test in the session."""
    root = tmp_path_factory.mktemp("mlflow")
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    yield os.environ["MLFLOW_TRACKING_URI"]
    if old is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = old


@pytest.fixture(scope="session")
def tiny_model(tiny_splits, mlflow_store, tmp_path_factory):
    """A model trained for two epochs on 160 sentences, registered with alias 'candidate'."""
    from training.config import load_config
    from training.trainer import train

    out = tmp_path_factory.mktemp("model") / "tiny"
    cfg = load_config(overrides=[f"splits_dir={tiny_splits}", f"output_dir={out}", "epochs=3", "max_length=64",
                                 "batch_size=16", "learning_rate=1e-4", "early_stopping_patience=3",
                                 "include_feedback=false", "experiment=tests",
                                 # every layer: on 160 sentences the top half alone stays under the metric floor
                                 # of test_run_logs_everything; frozen layers have their own tests
                                 "frozen_layers=0"])
    return train(cfg)
