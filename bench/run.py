"""Scoring throughput of every candidate path against the Hugging Face pipeline, on 2,000 gold sentences.

Run: make bench   (or .venv/bin/python bench/run.py [--model models/default] [--repeats 5])

All paths score the same sentences (test, then dev, then train split, first --n) in one process, in
interleaved repetitions so that load from other users of the machine hits every path alike; the table
gives the median sentences/s and its ratio to the reference's median. Macro-F1 is on the test-split part.
Peak RSS and load time come from one fresh subprocess per path (`--one KEY`) that loads and scores once.
The model directory is copied to --work and exported to ONNX there; the original is never modified.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from inference.backends import ONNX_FILE, ONNX_INT8_FILE  # noqa: E402
from inference.labels import LABEL_IDS  # noqa: E402

SPLITS_DIR = PROJECT_ROOT / "data" / "build" / "splits"
RESULTS_JSON = PROJECT_ROOT / "bench" / "results.json"
RESULTS_MD = PROJECT_ROOT / "bench" / "results.md"
REFERENCE = "pipeline"
BASELINE = "torch-sorted"
Score = Callable[[list[str]], list[str]]


@dataclass(frozen=True)
class Candidate:
    key: str
    description: str
    build: Callable[[argparse.Namespace], Score]


def load_sentences(n: int) -> tuple[list[str], list[str], int]:
    """Texts and gold labels of the first `n` sentences of test, dev, train; and how many are from test."""
    texts, gold, n_test = [], [], 0
    for split in ("test", "dev", "train"):
        for line in (SPLITS_DIR / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip() and len(texts) < n:
                record = json.loads(line)
                texts.append(record["text"])
                gold.append(record["label"])
                n_test += split == "test"
    if len(texts) < n:
        raise SystemExit(f"only {len(texts)} sentences in {SPLITS_DIR}; run `sourcing data build`")
    return texts, gold, n_test


def _labels(probabilities: np.ndarray) -> list[str]:
    return [LABEL_IDS[i] for i in probabilities.argmax(axis=1)]


def _max_length(model_dir: Path) -> int:
    info = model_dir / "model_info.json"
    return int(json.loads(info.read_text()).get("max_length", 128)) if info.is_file() else 128


def build_pipeline(args) -> Score:
    from transformers import pipeline

    pipe = pipeline("text-classification", model=str(args.model_copy), batch_size=32, device=-1)
    return lambda texts: [row["label"] for row in pipe(texts, truncation=True)]


def build_torch_unsorted(args) -> Score:
    from inference.backends import TorchBackend

    backend = TorchBackend(args.model_copy, _max_length(args.model_copy))

    def score(texts: list[str]) -> list[str]:
        return _labels(np.concatenate([backend.logits(texts[i:i + 32]) for i in range(0, len(texts), 32)]))
    return score


def _classifier(backend_factory: Callable[[Path, int], object], batch_size: int = 32) -> Callable[[argparse.Namespace], Score]:
    def build(args) -> Score:
        from inference.classifier import Classifier

        classifier = Classifier(backend_factory(args.model_copy, _max_length(args.model_copy)))
        return lambda texts: _labels(classifier.predict_proba(texts, batch_size))
    return build


def _torch(model_dir: Path, max_length: int):
    from inference.backends import TorchBackend

    return TorchBackend(model_dir, max_length)


def _torch_qint8(model_dir: Path, max_length: int):
    import torch

    from inference.backends import TorchBackend

    backend = TorchBackend(model_dir, max_length)
    backend.model = torch.ao.quantization.quantize_dynamic(backend.model, {torch.nn.Linear}, dtype=torch.qint8)
    return backend


def _onnx(onnx_file: str):
    def factory(model_dir: Path, max_length: int):
        from inference.backends import OnnxBackend

        return OnnxBackend(model_dir, max_length, onnx_file)
    return factory


def build_default(args) -> Score:
    """Exactly what `sourcing score` and the service run: Classifier.load on the exported directory."""
    from inference.classifier import Classifier

    classifier = Classifier.load(args.model_copy)
    return lambda texts: [p.label for p in classifier.predict(texts)]


def _student(onnx_file: str) -> Callable[[argparse.Namespace], Score]:
    def build(args) -> Score:
        from inference.backends import OnnxBackend
        from inference.classifier import Classifier

        backend = OnnxBackend(args.student, _max_length(args.student), onnx_file)
        classifier = Classifier(backend)
        return lambda texts: _labels(classifier.predict_proba(texts))
    return build


PATHS = [
    Candidate(REFERENCE, 'transformers.pipeline("text-classification", batch_size=32), fp32 torch, input order (reference)',
              build_pipeline),
    Candidate("torch-unsorted", "fp32 torch, batches of 32 in input order, padded per batch", build_torch_unsorted),
    Candidate(BASELINE, "fp32 torch, length-sorted batches of 32", _classifier(_torch)),
    Candidate("torch-int8-sorted", "torch dynamic int8 (Linear layers), length-sorted batches of 32", _classifier(_torch_qint8)),
    Candidate("default", "`Classifier.load` default path: ONNX Runtime, fused fp32 graph, length-sorted batches of 32",
              build_default),
    Candidate("onnx-int8", "ONNX Runtime, fused graph with dynamic int8, length-sorted batches of 32",
              _classifier(_onnx(ONNX_INT8_FILE))),
    Candidate("onnx-int8-b64", "ONNX Runtime, fused graph with dynamic int8, length-sorted batches of 64",
              _classifier(_onnx(ONNX_INT8_FILE), 64)),
]
STUDENT_PATHS = [
    Candidate("student-onnx-fp32", "distilled student (first layers of the model), ONNX fused fp32, sorted batches of 32",
              _student(ONNX_FILE)),
    Candidate("student-onnx-int8", "distilled student, ONNX fused dynamic int8, sorted batches of 32",
              _student(ONNX_INT8_FILE)),
]


def prepare_model(source: Path, work: Path) -> tuple[Path, float]:
    """Copy `source` to `work/model` and export ONNX there (fused fp32 and int8); seconds spent exporting."""
    from training.export import export_onnx

    target = work / "model"
    fresh = target.is_dir() and (target / "model.safetensors").stat().st_mtime >= (source / "model.safetensors").stat().st_mtime \
        and (target / ONNX_FILE).is_file() and (target / ONNX_INT8_FILE).is_file()
    if fresh:
        return target, float("nan")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("onnx"))
    started = time.perf_counter()
    export_onnx(target, _max_length(target))
    return target, time.perf_counter() - started


def run_one(args) -> None:
    """Child process: load one path, score the sentences once, print load time and peak RSS as JSON."""
    texts, _, _ = load_sentences(args.n)
    path = next(p for p in PATHS + STUDENT_PATHS if p.key == args.one)
    started = time.perf_counter()
    score = path.build(args)
    loaded = time.perf_counter() - started
    score(texts)
    print(json.dumps({"load_seconds": loaded, "peak_rss_mib": peak_rss_kib() / 1024}))


def peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM); getrusage's ru_maxrss would carry the parent's over fork+exec."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


def measure_in_subprocess(args, key: str) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--one", key, "--n", str(args.n),
               "--model-copy", str(args.model_copy)] + (["--student", str(args.student)] if args.student else [])
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def macro_f1(gold: list[str], predicted: list[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(gold, predicted, labels=list(LABEL_IDS), average="macro", zero_division=0))


def machine() -> dict:
    from importlib.metadata import version

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            **{name: version(name) for name in ("torch", "transformers", "tokenizers", "onnxruntime")}}


def run(args) -> dict:
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    texts, gold, n_test = load_sentences(args.n)
    args.model_copy, export_seconds = prepare_model(args.model.resolve(), args.work)
    candidates = PATHS + (STUDENT_PATHS if args.student else [])
    paths = [p for p in candidates if not args.only or p.key in args.only or p.key == REFERENCE]
    scorers, labels, timings = {}, {}, {p.key: [] for p in paths}
    for path in paths:
        scorers[path.key] = path.build(args)
        scorers[path.key](texts[:64])  # warm-up: first-run allocations, lazy init
    load_before = os.getloadavg()
    for repeat in range(args.repeats):
        # Rotate the order each repetition so no path always runs right after another's spin-down.
        for path in paths[repeat % len(paths):] + paths[:repeat % len(paths)]:
            started = time.perf_counter()
            labels[path.key] = scorers[path.key](texts)
            timings[path.key].append(time.perf_counter() - started)
        print(f"repetition {repeat + 1}/{args.repeats} done", file=sys.stderr)
    load_after = os.getloadavg()
    del scorers

    reference = statistics.median(len(texts) / t for t in timings[REFERENCE])
    rows = []
    for path in paths:
        rates = [len(texts) / t for t in timings[path.key]]
        rate = statistics.median(rates)
        predicted = labels[path.key]
        row = {"key": path.key, "description": path.description, "sentences_per_second": rate,
               "sentences_per_second_all": rates, "ratio_to_reference": rate / reference,
               "test_macro_f1": macro_f1(gold[:n_test], predicted[:n_test]),
               "agreement_with_torch_fp32": float(np.mean([a == b for a, b in zip(predicted, labels[BASELINE])]))
               if BASELINE in labels else float("nan")}
        row.update(measure_in_subprocess(args, path.key) if not args.skip_rss else {})
        rows.append(row)
        print(f"{path.key}: {rate:.1f}/s ({rate / reference:.2f}x)", file=sys.stderr)
    return {"command": "make bench  # .venv/bin/python bench/run.py " + " ".join(sys.argv[1:]),
            "machine": machine(), "n_sentences": len(texts), "n_test": n_test, "repeats": args.repeats,
            "model": str(args.model), "student": str(args.student) if args.student else None,
            "student_info": json.loads((args.student / "model_info.json").read_text()) if args.student else None,
            "onnx_export_seconds": export_seconds,
            "load_average_before_after": [load_before[0], load_after[0]], "paths": rows}


def to_markdown(results: dict) -> str:
    m = results["machine"]
    baseline = next((r for r in results["paths"] if r["key"] == BASELINE), None)
    lines = [
        "# Scoring benchmark", "",
        f"`{results['command']}` on {m['cpu']}, {m['cores']} cores; Python {m['python']}, torch {m['torch']}, "
        f"transformers {m['transformers']}, tokenizers {m['tokenizers']}, onnxruntime {m['onnxruntime']}.", "",
        f"{results['n_sentences']} gold sentences (test, dev, train splits in order), {results['repeats']} interleaved "
        f"repetitions, median shown; macro-F1 on the {results['n_test']} test-split sentences. Load average (1 min) "
        f"{results['load_average_before_after'][0]:.2f} before, {results['load_average_before_after'][1]:.2f} after. "
        "Peak RSS and load time: one fresh process per path that loads and scores all sentences once.", "",
        "| path | sentences/s | vs reference | test macro-F1 | ΔF1 vs fp32 torch (points) | labels = fp32 torch | peak RSS (MiB) | load (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results["paths"]:
        delta = 100 * (r["test_macro_f1"] - baseline["test_macro_f1"]) if baseline else float("nan")
        rss = f"{r['peak_rss_mib']:.0f}" if "peak_rss_mib" in r else "-"
        load = f"{r['load_seconds']:.2f}" if "load_seconds" in r else "-"
        lines.append(f"| `{r['key']}` | {r['sentences_per_second']:.0f} | {r['ratio_to_reference']:.2f}x | "
                     f"{r['test_macro_f1']:.4f} | {delta:+.2f} | {100 * r['agreement_with_torch_fp32']:.1f}% | {rss} | {load} |")
    lines += ["", *[f"- `{r['key']}`: {r['description']}" for r in results["paths"]], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=PROJECT_ROOT / "models" / "default", help="trained model directory")
    parser.add_argument("--work", type=Path, default=Path("/tmp/sourcing-bench"), help="where the exported copy goes")
    parser.add_argument("--student", type=Path, help="an exported distilled model directory (python -m training.distill)")
    parser.add_argument("--n", type=int, default=2000, help="number of sentences")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="path keys to run (the reference always runs)")
    parser.add_argument("--skip-rss", action="store_true", help="skip the per-path subprocesses")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--model-copy", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        run_one(args)
        return 0
    if not (args.model / "config.json").is_file():
        raise SystemExit(f"no trained model at {args.model}; run `make train` first")
    args.work.mkdir(parents=True, exist_ok=True)
    results = run(args)
    RESULTS_JSON.write_text(json.dumps(results, indent=2) + "\n")
    RESULTS_MD.write_text(to_markdown(results))
    print(to_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
