"""The `sourcing` command: train, evaluate, promote, data, and the runtime's score and serve.

Run: sourcing --help
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from inference.cli import EXIT_USAGE, add_score_parser, add_serve_parser, fail
from training.labelling_cli import add_audit_parsers, add_suggest_parser


def run_train(args: argparse.Namespace) -> int:
    from training.config import ConfigError, load_config
    from training.labelled_data import DataError
    from training.tracking import TrackingError

    try:
        cfg = load_config(args.config, args.set)
    except ConfigError as exc:
        return fail(str(exc))
    try:
        from training.finetune import resolve_base_model
        from training.frozen_layers import check_frozen_layers

        if cfg.model == "transformer":
            check_frozen_layers(resolve_base_model(cfg.base_model), cfg.frozen_layers)
        from training.trainer import train

        result = train(cfg)
    except (ConfigError, DataError, TrackingError, FileNotFoundError) as exc:
        return fail(str(exc))
    m = result.metrics
    print(f"run {result.run_id} (data version {result.data_version})")
    print(f"test macro-F1 {m['test_macro_f1']:.4f} (real {m.get('test_real_macro_f1', float('nan')):.4f}, "
          f"authored {m.get('test_authored_macro_f1', float('nan')):.4f}); "
          f"TF-IDF baseline {m['baseline_test_macro_f1']:.4f}")
    if result.model_dir:
        print(f"model saved to {result.model_dir}")
    if result.registered_version:
        print(f"registered {cfg.registered_model} version {result.registered_version} with alias 'candidate'")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from inference.classifier import Classifier
    from inference.model_source import ModelLoadError
    from training.evaluate import classification_metrics, confusion, format_report, part_metrics, PART_TITLES
    from training.labelled_data import DataError
    from training.splits import read_split

    try:
        records = read_split(Path(args.data))
        classifier = Classifier.load(args.model)
    except (DataError, ModelLoadError) as exc:
        return fail(str(exc))
    predicted = [p.label for p in classifier.predict([r["text"] for r in records])]
    gold = [r["label"] for r in records]
    metrics = classification_metrics(gold, predicted)
    matrix = confusion(gold, predicted)
    print(format_report(metrics, matrix))
    parts = part_metrics(records, gold, predicted)
    for tag, part in parts.items():
        if part["n"] < len(records):
            print(f"{PART_TITLES[tag]}: macro-F1 {part['macro_f1']:.4f} (n={int(part['n'])})")
    wrong = [i for i in range(len(records)) if predicted[i] != gold[i]]
    errors = {"errors": len(wrong), "on_hard_cases": sum(1 for i in wrong if records[i].get("runner_up")),
              "predicted_the_runner_up": sum(1 for i in wrong if predicted[i] == records[i].get("runner_up"))}
    if "hard" in parts:
        print(f"errors: {errors['errors']}, of which on hard cases {errors['on_hard_cases']}, "
              f"of which the annotator's runner-up {errors['predicted_the_runner_up']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"metrics": metrics, "parts": parts, "errors": errors,
                                               "confusion": matrix.tolist(), "model_version": classifier.version},
                                              indent=2) + "\n")
    return 0


def run_promote(args: argparse.Namespace) -> int:
    from training.config import load_config
    from training.labelled_data import DataError
    from training.promote import promote
    from training.tracking import TrackingError

    cfg = load_config(None, [])
    try:
        decision = promote(args.name or cfg.registered_model, Path(args.splits_dir) if args.splits_dir else cfg.path("splits_dir"))
    except (TrackingError, DataError) as exc:
        return fail(str(exc))
    print(("promoted: " if decision.promoted else "not promoted: ") + decision.reason)
    return 0 if decision.promoted or not args.strict else 1


def run_export(args: argparse.Namespace) -> int:
    from inference.model_source import ModelLoadError, check_model_dir
    from inference.paths import DEFAULT_MODEL_DIR
    from training.export import ExportError, export_onnx

    try:
        print(f"wrote {export_onnx(check_model_dir(Path(args.model) if args.model else DEFAULT_MODEL_DIR))}")
    except (ModelLoadError, ExportError) as exc:
        return fail(str(exc))
    return 0


def run_data(args: argparse.Namespace) -> int:
    from training import data_tools
    from training.labelled_data import DataError
    from training.silver import SILVER_DIR
    from training.splits import SPLIT_PINS, build_splits

    try:
        if args.data_command == "build":
            manifest = build_splits(pins_path=SPLIT_PINS, silver_dir=SILVER_DIR)
            for note in manifest["notes"]:
                print(f"note: {note}", file=sys.stderr)
            print(f"data version {manifest['data_version']}")
            for name, counts in manifest["counts"].items():
                print(f"  {name}: {sum(counts.values())} sentences {counts} origins {manifest['origins'][name]}")
            if manifest["silver"]["count"]:
                print(f"  silver (training only): {manifest['silver']['count']} sentences, "
                      f"version {manifest['silver']['version']}")
            return 0
        if args.data_command == "check":
            problems = data_tools.check()
            for problem in problems:
                print(problem)
            print(f"{len(problems)} problem(s)", file=sys.stderr)
            return 1 if problems else 0
        print(data_tools.stats())
        return 0
    except DataError as exc:
        return fail(str(exc))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sourcing",
        description="Classify news sentences by sourcing: official_claim, independent_confirmation, "
                    "unverified_assertion, analyst_speculation.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a model from the splits and log the run to MLflow",
                       description="Fine-tune the default transformer (or --set model=baseline for TF-IDF + "
                                   "logistic regression), log the run to MLflow (sqlite:///mlflow.db unless "
                                   "MLFLOW_TRACKING_URI is set), save models/default/, register alias 'candidate'.")
    p.add_argument("--config", help="YAML config (default: training/configs/default.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set epochs=3 (repeatable)")
    p.set_defaults(handler=run_train)

    p = sub.add_parser("evaluate", help="per-class metrics of a model on a labelled JSONL file",
                       description="Print precision/recall/F1 per label, macro-F1 and the confusion matrix.")
    p.add_argument("--data", required=True, help="labelled JSONL ({'text', 'label'} per line)")
    p.add_argument("--model", default=None, help="model directory or MLflow URI (default: models/default)")
    p.add_argument("--json", help="also write the metrics as JSON to this file")
    p.set_defaults(handler=run_evaluate)

    p = sub.add_parser("promote", help="move alias 'champion' to the candidate if it is better",
                       description="Evaluate 'candidate' and 'champion' on the current test split and move "
                                   "'champion' only when the candidate's macro-F1 is strictly higher.")
    p.add_argument("--name", help="registered model name (default: from the config)")
    p.add_argument("--splits-dir", help="folder with test.jsonl (default: data/build/splits)")
    p.add_argument("--strict", action="store_true", help="exit 1 when not promoted")
    p.set_defaults(handler=run_promote)

    p = sub.add_parser("export", help="export a trained model to ONNX (the fast scoring path)",
                       description="Write onnx/model.onnx (fused attention, fp32: the default fast path) and "
                                   "onnx/model.int8.onnx (dynamic int8, opt-in) into the model directory; "
                                   "`sourcing train` already does this unless export_onnx is false.")
    p.add_argument("--model", default=None, help="model directory (default: models/default)")
    p.set_defaults(handler=run_export)

    p = sub.add_parser("data", help="build, check, count, audit or import the labelled data",
                       description="build: write data/build/splits/{train,dev,test}.jsonl; check: validate "
                                   "data/labels/; stats: counts per label, origin and split; audit: rank likely "
                                   "label errors; import-labelstudio: Label Studio annotations to gold labels.")
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="DATA_COMMAND")
    for name, text in (("build", "write the train/dev/test splits (articles keep the split pinned in "
                                 "data/split_pins.json)"),
                       ("check", "validate data/labels/"), ("stats", "counts per label, origin and split")):
        data_sub.add_parser(name, help=text, description=text).set_defaults(handler=run_data)
    add_audit_parsers(data_sub)

    add_suggest_parser(sub)
    add_score_parser(sub)
    add_serve_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO if "train" in (argv or sys.argv[1:2]) else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "urllib3", "alembic", "mlflow.store.db.utils", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
