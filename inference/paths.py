"""Where the project keeps things; paths resolve from the project root, never the cwd."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL_DIR = PROJECT_ROOT / "models" / "default"
DATA_DIR = PROJECT_ROOT / "data"
FEEDBACK_DIR = Path(os.environ.get("SOURCING_FEEDBACK_DIR", DATA_DIR / "feedback"))


def default_tracking_uri() -> str:
    """The MLflow store: `MLFLOW_TRACKING_URI` if set, else sqlite in the project root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"
