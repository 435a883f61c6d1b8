"""Find a model directory from a path or an MLflow model URI, with errors that say what to do."""
from __future__ import annotations

from pathlib import Path

from inference.paths import DEFAULT_MODEL_DIR, default_tracking_uri

REQUIRED_FILES = ("config.json", "tokenizer.json")
MLFLOW_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/")
MODEL_DIR_ARTIFACT = "model_dir"


class ModelLoadError(RuntimeError):
    """A model that cannot be loaded; the message says what to do about it."""


def check_model_dir(path: Path) -> Path:
    """Raise ModelLoadError unless `path` holds a complete model directory."""
    if not path.exists():
        hint = " Run `make run` (or `sourcing train`) to build it." if path == DEFAULT_MODEL_DIR else ""
        raise ModelLoadError(f"model directory {path} does not exist.{hint}")
    if not path.is_dir():
        raise ModelLoadError(f"model path {path} is not a directory")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if not any((path / name).is_file() for name in ("model.safetensors", "pytorch_model.bin")):
        missing.append("model.safetensors")
    if missing:
        raise ModelLoadError(f"model directory {path} is missing {', '.join(missing)}; retrain it with `sourcing train`")
    return path


def resolve_model_dir(source: str | Path | None = None) -> Path:
    """A local model directory for a path, `models:/name@alias`, or `runs:/id/path` URI (default `models/default`)."""
    if source is None:
        return check_model_dir(DEFAULT_MODEL_DIR)
    text = str(source)
    if not text.startswith(MLFLOW_SCHEMES):
        return check_model_dir(Path(text).expanduser())
    import mlflow
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(default_tracking_uri())
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=text))
    except MlflowException as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(f"cannot resolve MLflow model {text}: {first}. Check the name/alias with the MLflow UI or `sourcing promote --help`") from None
    except Exception as exc:  # network errors from a tracking server that is down
        raise ModelLoadError(f"cannot reach MLflow at {default_tracking_uri()} for {text}: {type(exc).__name__}. Is the tracking server up?") from None
    return check_model_dir(_pyfunc_model_dir(local))


def _pyfunc_model_dir(local: Path) -> Path:
    """The model directory inside a downloaded pyfunc model (its MLmodel names where), or `local` itself."""
    mlmodel = local / "MLmodel"
    if not mlmodel.is_file():
        return local
    import yaml

    flavor = (yaml.safe_load(mlmodel.read_text()) or {}).get("flavors", {}).get("python_function", {})
    relative = (flavor.get("artifacts") or {}).get(MODEL_DIR_ARTIFACT, {}).get("path")
    return local / relative if relative else local
