"""A tiny real training run into a temp sqlite MLflow store: logged, registered, aliased, loadable, promotable."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_run_logs_everything(tiny_model, mlflow_store):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_store)
    run = client.get_run(tiny_model.run_id)
    assert run.data.tags["data_version"] == tiny_model.data_version
    assert run.data.tags["git_commit"]
    assert run.data.params["epochs"] == "3" and run.data.params["max_length"] == "64"
    metrics = run.data.metrics
    for key in ("test_macro_f1", "test_authored_macro_f1", "baseline_test_macro_f1", "wall_time_seconds",
                "test_ece_before", "test_ece_after", "temperature", "dev_macro_f1", "train_loss",
                *(f"test_f1_{label}" for label in ("official_claim", "independent_confirmation",
                                                   "unverified_assertion", "analyst_speculation"))):
        assert key in metrics, key
    assert len(client.get_metric_history(tiny_model.run_id, "dev_macro_f1")) >= 1
    artifacts = {a.path for a in client.list_artifacts(tiny_model.run_id)}
    assert {"config.yaml", "confusion_test.png", "confusion_test.json", "misclassified_test.json"} <= artifacts
    # Metric floor: 160 authored sentences and 3 epochs must beat chance (0.25) clearly.
    assert metrics["test_macro_f1"] > 0.4


def test_model_dir_is_a_standard_hf_directory(tiny_model):
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model.model_dir)
    assert model.config.id2label[1] == "independent_confirmation"
    info = json.loads((tiny_model.model_dir / "model_info.json").read_text())
    assert info["data_version"] == tiny_model.data_version
    assert (tiny_model.model_dir / "README.md").read_text().startswith("# Sourcing classifier")
    assert json.loads((tiny_model.model_dir / "calibration.json").read_text())["temperature"] > 0


def test_registered_candidate_loads_back_by_alias(tiny_model, mlflow_store):
    from inference.classifier import Classifier

    assert tiny_model.registered_version is not None
    by_alias = Classifier.load("models:/sourcing-classifier@candidate")
    local = Classifier.load(tiny_model.model_dir)
    texts = ["The ministry said the talks had failed.", "Analysts expect prices to rise."]
    assert [p.label for p in by_alias.predict(texts)] == [p.label for p in local.predict(texts)]


def test_promote_sets_champion_then_refuses_a_worse_model(tiny_model, tiny_splits, mlflow_store, tmp_path):
    from mlflow.tracking import MlflowClient

    from training.config import load_config
    from training.promote import promote
    from training.trainer import train

    first = promote("sourcing-classifier", tiny_splits, "tests")
    client = MlflowClient(mlflow_store)
    champion = client.get_model_version_by_alias("sourcing-classifier", "champion").version
    assert first.promoted or "already champion" in first.reason
    # A model trained on 8 sentences for one epoch cannot beat it.
    worse_cfg = load_config(overrides=[f"splits_dir={tiny_splits}", f"output_dir={tmp_path / 'worse'}", "epochs=1",
                                       "limit_train=8", "max_length=32", "learning_rate=1e-6",
                                       "include_feedback=false", "experiment=tests"])
    worse = train(worse_cfg)
    decision = promote("sourcing-classifier", tiny_splits, "tests")
    assert not decision.promoted
    assert "does not beat" in decision.reason
    assert client.get_model_version_by_alias("sourcing-classifier", "champion").version == champion
    assert str(client.get_model_version_by_alias("sourcing-classifier", "candidate").version) == str(worse.registered_version)


def test_promote_scores_only_test_sentences_neither_model_trained_on(tiny_model, tiny_splits, mlflow_store,
                                                                     tmp_path):
    """A rebuilt split can move sentences the champion trained on into test: those are left out of the comparison."""
    from training.config import load_config
    from training.promote import promote
    from training.trainer import train

    promote("sourcing-classifier", tiny_splits, "tests")  # make sure a champion exists (trained on tiny_splits)
    lines = {name: (tiny_splits / f"{name}.jsonl").read_text().splitlines() for name in ("train", "dev", "test")}
    rebuilt = tmp_path / "rebuilt"
    rebuilt.mkdir()
    (rebuilt / "train.jsonl").write_text("\n".join(lines["train"][5:]) + "\n")
    (rebuilt / "dev.jsonl").write_text("\n".join(lines["dev"]) + "\n")
    (rebuilt / "test.jsonl").write_text("\n".join(lines["test"][:5] + lines["train"][:5]) + "\n")
    cfg = load_config(overrides=[f"splits_dir={rebuilt}", f"output_dir={tmp_path / 'model'}", "epochs=1",
                                 "max_length=32", "include_feedback=false", "experiment=tests"])
    train(cfg)

    decision = promote("sourcing-classifier", rebuilt, "tests")
    assert "(5 of 10 sentences, unseen by both)" in decision.reason


def _sourcing(*args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "training.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)


@pytest.mark.parametrize("args, message", [
    (["--set", "epochs=zero"], "'epochs' must be int"),
    (["--set", "bogus=1"], "unknown config key 'bogus'"),
    (["--set", "splits_dir=/nonexistent/splits"], "split file not found"),
    (["--set", "frozen_layers=6"], "'frozen_layers' must be below the base model's 6 layers, got 6"),
])
def test_train_bad_input_is_one_line_exit_2(args, message, tmp_path):
    result = _sourcing("train", *args, env_extra={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'm.db'}"})
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "m.db").exists() or "sourcing-classifier" not in (tmp_path / "m.db").read_bytes().decode("latin-1")


def test_train_rejects_unknown_label_in_split(tmp_path, tiny_splits):
    splits = tmp_path / "splits"
    splits.mkdir()
    for name in ("train", "dev", "test"):
        (splits / f"{name}.jsonl").write_text((tiny_splits / f"{name}.jsonl").read_text())
    with open(splits / "train.jsonl", "a") as handle:
        handle.write(json.dumps({"id": "x", "text": "Hello.", "label": "rumour"}) + "\n")
        handle.write(json.dumps({"id": "y", "text": "  ", "label": "official_claim"}) + "\n")
    result = _sourcing("train", "--set", f"splits_dir={splits}",
                       env_extra={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'm.db'}"})
    assert result.returncode == 2
    assert "train.jsonl:161: unknown label 'rumour'" in result.stderr
    assert "train.jsonl:162: empty or missing 'text'" in result.stderr


def test_evaluate_prints_per_class_scores_and_parts_and_writes_json(tiny_model, tiny_splits, tmp_path):
    records = [json.loads(line) for line in (tiny_splits / "test.jsonl").read_text().splitlines()]
    records[0]["runner_up"] = "unverified_assertion" if records[0]["label"] != "unverified_assertion" else "official_claim"
    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = _sourcing("evaluate", "--data", str(data), "--model", str(tiny_model.model_dir),
                       "--json", str(tmp_path / "m.json"))
    assert result.returncode == 0, result.stderr
    written = json.loads((tmp_path / "m.json").read_text())
    assert written["metrics"]["n"] == len(records) and len(written["confusion"]) == 4
    assert f"{written['metrics']['macro_f1']:.3f}   accuracy" in result.stdout
    assert "hard cases (runner-up label named): macro-F1" in result.stdout and "(n=1)" in result.stdout
    assert "clear sentences (no runner-up): macro-F1" in result.stdout and f"(n={len(records) - 1})" in result.stdout
    assert "authored sentences" not in result.stdout, "a part that is the whole file (all authored) is not repeated"
    assert written["parts"]["hard"]["n"] == 1 and written["parts"]["clear"]["n"] == len(records) - 1
    wrong = round((1 - written["metrics"]["accuracy"]) * len(records))
    assert written["errors"]["errors"] == wrong and written["errors"]["on_hard_cases"] <= 1
    assert f"errors: {wrong}, of which on hard cases" in result.stdout


def test_evaluate_bad_input_is_one_line_exit_2(tiny_model, tmp_path):
    missing = _sourcing("evaluate", "--data", str(tmp_path / "none.jsonl"), "--model", str(tiny_model.model_dir))
    assert missing.returncode == 2 and "none.jsonl: labelled file not found" in missing.stderr
    assert "sourcing data build" not in missing.stderr and "Traceback" not in missing.stderr
    missing_split = _sourcing("evaluate", "--data", str(tmp_path / "splits" / "dev.jsonl"),
                              "--model", str(tiny_model.model_dir))
    assert missing_split.returncode == 2 and "dev.jsonl: split file not found; check the path" in missing_split.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "The plant will close.", "label": "rumour"}) + "\n")
    result = _sourcing("evaluate", "--data", str(bad), "--model", str(tiny_model.model_dir))
    assert result.returncode == 2 and "bad.jsonl:1: unknown label 'rumour'" in result.stderr
