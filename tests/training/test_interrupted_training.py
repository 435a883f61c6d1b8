"""`sourcing train` killed with SIGKILL: the model dir is never half-written, nothing half-logged is registered,
the killed runs end up FAILED, and rerunning the same command starts cleanly and registers a loadable model."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from inference.paths import PROJECT_ROOT
from training.trainer import _recover_model_dir, _save_model_dir

MODEL_NAME = "sourcing-classifier"


# ---------------------------------------------------------------- the model dir swap, without training

def test_a_failed_write_leaves_the_previous_model_dir_and_no_staging_dir(tmp_path):
    target = tmp_path / "default"
    target.mkdir()
    (target / "model.safetensors").write_text("previous")

    def fails_half_way(staging: Path) -> None:
        (staging / "model.safetensors").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _save_model_dir(target, fails_half_way)
    assert [p.name for p in tmp_path.iterdir()] == ["default"]
    assert (target / "model.safetensors").read_text() == "previous"
    _save_model_dir(target, lambda staging: (staging / "model.safetensors").write_text("new"))
    assert [p.name for p in tmp_path.iterdir()] == ["default"]
    assert (target / "model.safetensors").read_text() == "new"


def test_a_kill_between_the_two_renames_of_the_swap_is_undone(tmp_path):
    old = tmp_path / ".default.old"  # the previous model, moved aside; the new one not yet in place
    old.mkdir()
    (old / "model.safetensors").write_text("previous")
    _recover_model_dir(tmp_path / "default")
    assert [p.name for p in tmp_path.iterdir()] == ["default"]
    assert (tmp_path / "default" / "model.safetensors").read_text() == "previous"


def test_staging_dirs_of_dead_processes_are_removed_and_those_of_live_ones_kept(tmp_path):
    exited = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(exited.stdout)
    for pid in (dead_pid, os.getpid()):
        staging = tmp_path / f".default.staging-{pid}-x1y2"
        staging.mkdir()
        (staging / "model.safetensors").write_text("half")
    (tmp_path / "default").mkdir()
    (tmp_path / "default" / "model.safetensors").write_text("current")
    _recover_model_dir(tmp_path / "default")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".default.staging-{os.getpid()}-x1y2", "default"]
    assert (tmp_path / "default" / "model.safetensors").read_text() == "current"


# ---------------------------------------------------------------- a real tiny run, killed and rerun

def train_command(splits: Path, output: Path) -> list[str]:
    """A run of a few seconds of training: 32 sentences, one epoch, 32 tokens, no ONNX export."""
    settings = [f"splits_dir={splits}", f"output_dir={output}", "limit_train=32", "epochs=1", "max_length=32",
                "batch_size=16", "include_feedback=false", "export_onnx=false", "experiment=tests"]
    return [sys.executable, "-m", "training.cli", "train", *(arg for s in settings for arg in ("--set", s))]


def run_ids(db: Path) -> list[str]:
    """Runs in the store, oldest first: plain read-only sqlite, so polling never touches the store being created."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as connection:
            return [row[0] for row in connection.execute("SELECT run_uuid FROM runs ORDER BY start_time")]
    except sqlite3.Error:  # no file or no tables yet, or locked for a moment
        return []


def model_run_id(model_dir: Path) -> str | None:
    try:
        return json.loads((model_dir / "model_info.json").read_text()).get("run_id")
    except (OSError, ValueError):
        return None


def files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def kill_when(command: list[str], env: dict, ready: Callable[[], bool], log: Path, timeout: float = 240) -> None:
    """Start `command` and SIGKILL it as soon as `ready()` holds; fail if it ends or stalls before that."""
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert process.poll() is None, f"training ended before the kill:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"training never got there:\n{log.read_text()[-3000:]}"
            time.sleep(0.05)
    finally:
        process.kill()
        process.wait(30)
    assert process.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_killed_training_leaves_nothing_half_done_and_the_rerun_registers_a_loadable_model(tiny_splits, tmp_path,
                                                                                            monkeypatch):
    from mlflow.tracking import MlflowClient

    from inference.classifier import Classifier
    from inference.model_source import resolve_model_dir

    output = tmp_path / "models" / "default"
    output.mkdir(parents=True)
    (output / "model_info.json").write_text(json.dumps({"version": "previous"}))
    (output / "model.safetensors").write_bytes(os.urandom(4096))
    previous = files(output)
    db = tmp_path / "mlflow.db"
    uri = f"sqlite:///{db}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    command = train_command(tiny_splits, output)

    # Killed while training: its MLflow run exists, the model is not written yet.
    kill_when(command, env, lambda: len(run_ids(db)) == 1, tmp_path / "first.log")
    assert files(output) == previous
    assert sorted(p.name for p in output.parent.iterdir()) == ["default"]

    # Killed after the new model dir is swapped in, while the model is being logged to MLflow.
    kill_when(command, env, lambda: len(run_ids(db)) == 2 and model_run_id(output) == run_ids(db)[1],
              tmp_path / "second.log")
    first, second = run_ids(db)
    assert model_run_id(output) == second
    resolve_model_dir(output)  # complete: config, tokenizer and weights
    assert not list(output.parent.glob(".default.staging-*"))
    client = MlflowClient(uri, uri)
    assert client.search_model_versions(f"name='{MODEL_NAME}'") == []  # nothing half-logged was registered
    assert client.get_run(first).info.status == "FAILED"  # ended by the second run's start
    assert client.get_run(second).info.status == "RUNNING"

    # The same command again runs to completion.
    rerun = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"registered {MODEL_NAME} version 1 with alias 'candidate'" in rerun.stdout
    third = run_ids(db)[2]
    assert {run: client.get_run(run).info.status for run in (first, second, third)} == {
        first: "FAILED", second: "FAILED", third: "FINISHED"}
    assert client.get_run(second).data.tags["interrupted"]
    assert model_run_id(output) == third
    assert sorted(p.name for p in output.parent.iterdir()) == ["default"]

    # Every registered version's artifacts are there and load; the candidate is the rerun's model.
    versions = client.search_model_versions(f"name='{MODEL_NAME}'")
    assert [(str(v.version), v.run_id) for v in versions] == [("1", third)]
    for version in versions:
        downloaded = resolve_model_dir(f"models:/{MODEL_NAME}/{version.version}")
        assert model_run_id(downloaded) == version.run_id
    texts = ["The ministry said the talks had failed.", "Analysts expect prices to rise."]
    by_alias = Classifier.load(f"models:/{MODEL_NAME}@candidate", backend="torch").predict(texts)
    local = Classifier.load(output, backend="torch").predict(texts)
    for alias_prediction, local_prediction in zip(by_alias, local, strict=True):
        assert alias_prediction.probabilities == pytest.approx(local_prediction.probabilities, abs=1e-5)
