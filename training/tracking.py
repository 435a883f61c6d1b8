"""Everything MLflow: the store, run parameters and metrics, artifacts, the pyfunc model, the registry."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import subprocess
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, Schema
from mlflow.tracking import MlflowClient

from inference.paths import PROJECT_ROOT, default_tracking_uri
from training.config import TrainConfig
from training.labelled_data import normalise

PYFUNC_ENTRY = PROJECT_ROOT / "inference" / "pyfunc_entry.py"
CANDIDATE, CHAMPION = "candidate", "champion"
# Which process runs a run, so a later run can tell one that was killed from one still going.
HOST_TAG, PID_TAG, INTERRUPTED_TAG = "host", "pid", "interrupted"


class TrackingError(RuntimeError):
    """The tracking store cannot be used; the message says what to do."""


@contextlib.contextmanager
def _store_lock(uri: str):
    """Serialise store creation: two runs started at once on a new sqlite store would both create its tables."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    db_path = Path(uri.removeprefix("sqlite:///"))
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with open(db_path.with_name(db_path.name + ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def setup(experiment: str) -> str:
    """Point MLflow at the store and the experiment; a local store keeps artifacts in `mlruns/` of the project."""
    uri = default_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        with _store_lock(uri):
            found = mlflow.get_experiment_by_name(experiment)
            if found is None:
                location = (PROJECT_ROOT / "mlruns").as_uri() if uri.startswith(("sqlite:", "file:")) or "://" not in uri else None
                if uri.startswith("sqlite:"):
                    # A store in a temp dir (tests) keeps its artifacts beside it.
                    db_path = Path(uri.removeprefix("sqlite:///"))
                    location = (db_path.parent / "mlruns").as_uri()
                mlflow.create_experiment(experiment, artifact_location=location)
            mlflow.set_experiment(experiment)
    except MlflowException as exc:
        raise TrackingError(f"cannot use MLflow store {uri}: {str(exc).splitlines()[0]}") from None
    except Exception as exc:
        if uri.startswith("sqlite:"):
            raise TrackingError(f"cannot use MLflow store {uri}: {type(exc).__name__}: "
                                f"{(str(exc).splitlines() or [''])[0]}") from None
        raise TrackingError(f"cannot reach MLflow store {uri} ({type(exc).__name__}); is the tracking server up? "
                            "Unset MLFLOW_TRACKING_URI to use the local sqlite store.") from None
    return uri


def git_commit() -> str:
    """HEAD's hash, with `-dirty` when the work tree has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True).stdout.strip()
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def process_tags() -> dict[str, str]:
    """Tags naming this process, read by `fail_interrupted_runs` of a later run."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def process_exists(pid: int) -> bool:
    """Whether a process with this id is running on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def fail_interrupted_runs(experiment: str) -> list[str]:
    """Mark FAILED the runs of `experiment` left RUNNING by a process of this machine that no longer exists.

    A killed `sourcing train` (SIGKILL, out of memory, power cut) cannot end its own run, which would otherwise
    show as running forever. Runs of other machines, and of live processes, are left alone. Returns their ids.
    """
    client = MlflowClient()
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    host, failed = socket.gethostname(), []
    for run in client.search_runs([found.experiment_id], "attributes.status = 'RUNNING'"):
        pid = run.data.tags.get(PID_TAG, "")
        if run.data.tags.get(HOST_TAG) == host and pid.isdigit() and not process_exists(int(pid)):
            client.set_tag(run.info.run_id, INTERRUPTED_TAG, "its training process ended without finishing it")
            client.set_terminated(run.info.run_id, status="FAILED")
            failed.append(run.info.run_id)
    return failed


def log_config(cfg: TrainConfig) -> None:
    mlflow.log_params({k: str(v) for k, v in cfg.to_dict().items()})
    mlflow.log_text(cfg.to_yaml(), "config.yaml")


def log_json(payload: dict, name: str) -> None:
    mlflow.log_text(json.dumps(payload, indent=2), name)


SEEN_ARTIFACT = "data/seen_sentences.json"


def sentence_key(text: str) -> str:
    """A short hash of a sentence's normalised text: what a model saw, without storing the text again."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()[:16]


def log_seen(records: list[dict]) -> None:
    """Record which sentences the run trained or early-stopped on, so a later test split can leave them out."""
    mlflow.log_text(json.dumps(sorted({sentence_key(r["text"]) for r in records})), SEEN_ARTIFACT)


def seen_by_run(run_id: str) -> set[str] | None:
    """The sentence keys a run logged with `log_seen`, or None for runs logged before it existed."""
    try:
        return set(json.loads(mlflow.artifacts.load_text(f"runs:/{run_id}/{SEEN_ARTIFACT}")))
    except (MlflowException, OSError, ValueError):
        return None


def log_misclassified(records: list[dict], predicted: list[str], confidence: list[float]) -> int:
    """A table of the test sentences the model got wrong; returns how many."""
    rows = [{"id": r["id"], "origin": r["origin"], "text": r["text"], "gold": r["label"], "predicted": p,
             "confidence": round(c, 4)} for r, p, c in zip(records, predicted, confidence) if p != r["label"]]
    mlflow.log_table(pd.DataFrame(rows, columns=["id", "origin", "text", "gold", "predicted", "confidence"]),
                     "misclassified_test.json")
    return len(rows)


def log_pyfunc(model_dir: Path, examples: list[str]):
    """Log the model directory as a models-from-code pyfunc with a signature and input example."""
    from inference.pyfunc import SourcingModel

    class _Context:
        artifacts = {"model_dir": str(model_dir)}

    example = pd.DataFrame({"text": examples[:3]})
    python_model = SourcingModel()
    python_model.load_context(_Context())
    output = python_model.predict(None, example)
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=str(PYFUNC_ENTRY),
        artifacts={"model_dir": str(model_dir)},
        # One unnamed string column: MLflow then takes a DataFrame (any column name), a Series or a plain list.
        signature=ModelSignature(inputs=Schema([ColSpec("string")]), outputs=infer_signature(example, output).outputs),
        input_example=example,
        code_paths=[str(PROJECT_ROOT / "inference")],
        pip_requirements=_requirements(),
    )


def _requirements() -> list[str]:
    from importlib.metadata import version

    packages = ["torch", "transformers", "tokenizers", "onnxruntime", "blingfire", "pandas", "numpy", "mlflow"]
    return [f"{name}=={version(name)}" for name in packages]


def register(model_uri: str, name: str, run_id: str) -> str:
    """Register the logged model and point alias `candidate` at the new version."""
    client = MlflowClient()
    version = mlflow.register_model(model_uri, name, tags={"run_id": run_id})
    client.set_registered_model_alias(name, CANDIDATE, version.version)
    return str(version.version)
