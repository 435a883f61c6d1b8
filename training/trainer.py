"""Train one model from the splits, evaluate, calibrate, save, and log everything to MLflow.

Run: sourcing train [--config FILE] [--set key=value ...]
"""
from __future__ import annotations

import json
import logging
import os
import random
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import mlflow
import numpy as np

from inference.classifier import CALIBRATION_FILE, INFO_FILE, softmax
from inference.labels import LABEL_IDS, LABEL_TO_ID
from training import model_card, tracking
from training.baseline import baseline_logits, train_baseline
from training.calibration import fit_temperature
from training.config import TrainConfig
from training.evaluate import (classification_metrics, confusion, expected_calibration_error, part_metrics,
                               plot_confusion)
from training.feedback import read_feedback
from training.silver import assert_off_held_out, read_silver, silver_version
from training.splits import read_split, split_version

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    run_id: str
    data_version: str
    metrics: dict[str, float]
    model_dir: Path | None
    registered_version: str | None


def _limit(records: list[dict], n: int, seed: int) -> list[dict]:
    if not n or n >= len(records):
        return records
    picked = list(records)
    random.Random(seed).shuffle(picked)
    return picked[:n]


def _evaluate_split(name: str, records: list[dict], probabilities: np.ndarray) -> dict[str, float]:
    """Metrics on the whole split and, as `{name}_{part}_...`, on each of its parts (`evaluate.parts_of`: real and
    authored sentences, hard cases and clear ones)."""
    predicted = [LABEL_IDS[i] for i in probabilities.argmax(axis=1)]
    gold = [r["label"] for r in records]
    metrics = classification_metrics(gold, predicted, name)
    for tag, part in part_metrics(records, gold, predicted).items():
        metrics.update({f"{name}_{tag}_{key}": value for key, value in part.items()})
    return metrics


def _staging_prefix(target: Path) -> str:
    return f".{target.name}.staging-"


def _recover_model_dir(target: Path) -> None:
    """Undo what a killed run left beside `target`, so a rerun starts cleanly.

    Puts the previous model back when a kill fell between the two renames of the swap, and deletes the
    staging directories of processes that no longer exist (a kill while writing).
    """
    old = target.with_name(f".{target.name}.old")
    if old.is_dir() and not target.exists():
        old.rename(target)
        log.warning("restored %s from %s: a run was stopped while swapping it", target, old.name)
    for staging in target.parent.glob(_staging_prefix(target) + "*"):
        pid = staging.name.removeprefix(_staging_prefix(target)).split("-", 1)[0]
        if pid.isdigit() and not tracking.process_exists(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)
            log.warning("removed %s, left by a run that was stopped while writing the model", staging)


def _save_model_dir(target: Path, writer) -> None:
    """Write into a temporary sibling, then swap it in, so a crash never leaves a half-written model."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{_staging_prefix(target)}{os.getpid()}-", dir=target.parent))
    try:
        writer(staging)
        old = target.with_name(f".{target.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def train(cfg: TrainConfig) -> TrainResult:
    """One run: data, model, calibration, metrics, artifacts, registration."""
    splits_dir = cfg.path("splits_dir")
    train_set, dev, test = (read_split(splits_dir / f"{name}.jsonl") for name in ("train", "dev", "test"))
    version = split_version(splits_dir)
    feedback = read_feedback(dev + test, train_set) if cfg.include_feedback else []
    train_set = _limit(train_set, cfg.limit_train, cfg.seed) + feedback
    silver_path = splits_dir / "silver.jsonl"
    silver = []
    if cfg.model == "transformer" and cfg.silver_per_epoch > 0:
        silver = read_silver(silver_path, cfg.silver_min_confidence)
        assert_off_held_out(silver, dev + test, silver_path)
    silver_hash = silver_version(silver_path) if silver else "none"
    tracking.setup(cfg.experiment)
    for run_id in tracking.fail_interrupted_runs(cfg.experiment):
        log.warning("run %s was interrupted (its process is gone); marked it FAILED", run_id)
    if cfg.model == "transformer":
        _recover_model_dir(cfg.path("output_dir"))
    started = time.time()
    # The process tags go in with the run itself, so a run killed at any point can be told from a live one.
    with mlflow.start_run(run_name=f"{cfg.model}-{version}", tags=tracking.process_tags()) as run:
        run_id = run.info.run_id
        mlflow.set_tags({"data_version": version, "git_commit": tracking.git_commit(), "model_kind": cfg.model})
        tracking.log_config(cfg)
        tracking.log_seen(train_set + dev + silver)
        mlflow.log_params({"data_version": version, "n_train": len(train_set), "n_dev": len(dev),
                           "n_test": len(test), "n_feedback": len(feedback), "n_silver": len(silver),
                           "silver_version": silver_hash,
                           "imbalance_handling": f"{cfg.class_weighting} class-weighted cross-entropy"})
        dev_gold = np.array([LABEL_TO_ID[r["label"]] for r in dev])

        baseline = train_baseline(cfg, train_set)
        baseline_metrics = _evaluate_split("test", test, softmax(baseline_logits(baseline, [r["text"] for r in test])))
        if cfg.model == "baseline":
            dev_logits = baseline_logits(baseline, [r["text"] for r in dev])
            test_logits = baseline_logits(baseline, [r["text"] for r in test])
            mlflow.log_metrics({k: v for k, v in _evaluate_split("dev", dev, softmax(dev_logits)).items()}, step=0)
        else:
            from training.finetune import fine_tune, predict_logits

            tuned = fine_tune(cfg, train_set, dev, on_epoch=lambda epoch, m: mlflow.log_metrics(m, step=epoch),
                              silver=silver)
            mlflow.log_params({"best_epoch": tuned.best_epoch,
                               "class_weights": json.dumps(dict(zip(LABEL_IDS, [round(w, 4) for w in tuned.class_weights])))})
            dev_logits = predict_logits(tuned.model, tuned.tokenizer, [r["text"] for r in dev], cfg.max_length, cfg.eval_batch_size)
            test_logits = predict_logits(tuned.model, tuned.tokenizer, [r["text"] for r in test], cfg.max_length, cfg.eval_batch_size)

        temperature = fit_temperature(dev_logits, dev_gold)
        test_probabilities = softmax(test_logits, temperature)
        metrics = _evaluate_split("test", test, test_probabilities)
        metrics.update({f"baseline_{k}": v for k, v in baseline_metrics.items() if k.startswith("test_")})
        test_gold = [r["label"] for r in test]
        metrics.update({
            "temperature": temperature,
            "dev_ece_before": expected_calibration_error(softmax(dev_logits), [r["label"] for r in dev]),
            "dev_ece_after": expected_calibration_error(softmax(dev_logits, temperature), [r["label"] for r in dev]),
            "test_ece_before": expected_calibration_error(softmax(test_logits), test_gold),
            "test_ece_after": expected_calibration_error(test_probabilities, test_gold),
        })
        predicted = [LABEL_IDS[i] for i in test_probabilities.argmax(axis=1)]
        with tempfile.TemporaryDirectory() as tmp:
            matrix = confusion(test_gold, predicted)
            mlflow.log_artifact(str(plot_confusion(matrix, Path(tmp) / "confusion_test.png",
                                                   f"{cfg.model} test (data {version})")))
            tracking.log_json({"labels": list(LABEL_IDS), "matrix": matrix.tolist()}, "confusion_test.json")
        metrics["test_misclassified"] = tracking.log_misclassified(test, predicted, test_probabilities.max(axis=1).tolist())

        model_dir, registered = None, None
        if cfg.model == "transformer":
            info = {"version": f"{version}.{run_id[:8]}", "data_version": version, "run_id": run_id,
                    "base_model": cfg.base_model, "max_length": cfg.max_length, "temperature": temperature,
                    "n_train": len(train_set), "n_feedback": len(feedback), "n_silver": len(silver),
                    "silver_version": silver_hash,
                    "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "metrics": {k: round(v, 4) for k, v in metrics.items() if "macro_f1" in k or k.startswith("test_f1_")}}

            def write(staging: Path) -> None:
                tuned.model.save_pretrained(staging, safe_serialization=True)
                tuned.tokenizer.save_pretrained(staging)
                (staging / CALIBRATION_FILE).write_text(json.dumps({"temperature": temperature}) + "\n")
                (staging / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
                (staging / "config.yaml").write_text(cfg.to_yaml())
                (staging / "README.md").write_text(model_card.render(cfg, info, metrics))
                if cfg.export_onnx:
                    from training.export import export_onnx

                    export_onnx(staging, cfg.max_length)

            model_dir = cfg.path("output_dir")
            _save_model_dir(model_dir, write)
            logged = tracking.log_pyfunc(model_dir, [r["text"] for r in test[:3]])
            metrics["wall_time_seconds"] = time.time() - started
            mlflow.log_metrics(metrics)
            if cfg.register:
                registered = tracking.register(logged.model_uri, cfg.registered_model, run_id)
        else:
            import joblib

            with tempfile.TemporaryDirectory() as tmp:
                joblib.dump(baseline, Path(tmp) / "baseline.joblib")
                mlflow.log_artifact(str(Path(tmp) / "baseline.joblib"), "model")
            metrics["wall_time_seconds"] = time.time() - started
            mlflow.log_metrics(metrics)
    return TrainResult(run_id, version, metrics, model_dir, registered)
