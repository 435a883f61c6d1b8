"""Distil a fine-tuned model into a student made of its first layers, trained on the teacher's probabilities.

Run: .venv/bin/python -m training.distill --teacher models/default --out /tmp/student --layers 3

The student keeps the teacher's embeddings, its first `layers` encoder layers, pooler and head, and is trained
to match the teacher's softened probabilities on the train split plus the unlabelled corpus pool (sentences of
dev or test articles left out). It is written as a complete model directory (calibrated on dev, ONNX exported),
so `Classifier.load` and `bench/run.py` take it like any other.
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import random
import shutil
from pathlib import Path

import numpy as np
import torch

from inference.classifier import CALIBRATION_FILE, INFO_FILE
from inference.labels import LABEL_IDS, LABEL_TO_ID
from inference.paths import PROJECT_ROOT
from training.calibration import fit_temperature
from training.evaluate import classification_metrics
from training.export import export_onnx
from training.finetune import optimisation_step, predict_logits, seed_everything
from training.splits import read_split

log = logging.getLogger(__name__)
CORPUS_DIR = PROJECT_ROOT.parent / "shared" / "corpus"


def distillation_pool(splits_dir: Path, corpus_dir: Path = CORPUS_DIR) -> list[str]:
    """Train-split sentences, then corpus sentences from articles that are in neither dev nor test."""
    held_out = [r for name in ("dev", "test") for r in read_split(splits_dir / f"{name}.jsonl")]
    held_docs, held_texts = {r["doc_id"] for r in held_out}, {r["text"] for r in held_out}
    texts = [r["text"] for r in read_split(splits_dir / "train.jsonl")]
    seen = set(texts)
    for path in sorted(corpus_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line) if line.strip() else None
            if record and record["doc_id"] not in held_docs and record["text"] not in held_texts \
                    and record["text"] not in seen:
                texts.append(record["text"])
                seen.add(record["text"])
    return texts


def first_layers(model: torch.nn.Module, n_layers: int) -> torch.nn.Module:
    """A copy of `model` keeping only its first `n_layers` encoder layers."""
    student = copy.deepcopy(model)
    encoder = getattr(student, student.base_model_prefix).encoder
    encoder.layer = torch.nn.ModuleList(list(encoder.layer)[:n_layers])
    student.config.num_hidden_layers = n_layers
    return student


def distill(teacher_dir: Path, out_dir: Path, n_layers: int, splits_dir: Path, epochs: int = 4,
            learning_rate: float = 1e-4, batch_size: int = 32, softness: float = 2.0, seed: int = 13,
            max_pool: int = 0) -> dict[str, float]:
    """Train the student, keep its best dev epoch, save and export it; dev/test macro-F1 of teacher and student."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    seed_everything(seed)
    info = json.loads((teacher_dir / INFO_FILE).read_text())
    max_length = int(info.get("max_length", 128))
    tokenizer = AutoTokenizer.from_pretrained(teacher_dir)
    teacher = AutoModelForSequenceClassification.from_pretrained(teacher_dir).eval()
    pool = distillation_pool(splits_dir)
    if max_pool and len(pool) > max_pool:
        pool = random.Random(seed).sample(pool, max_pool)
    log.info("teacher logits on %d pool sentences", len(pool))
    targets = torch.softmax(torch.from_numpy(predict_logits(teacher, tokenizer, pool, max_length)) / softness, dim=1)

    dev, test = (read_split(splits_dir / f"{name}.jsonl") for name in ("dev", "test"))
    metrics = {"teacher_dev_macro_f1": _macro_f1(teacher, tokenizer, dev, max_length),
               "teacher_test_macro_f1": _macro_f1(teacher, tokenizer, test, max_length)}

    student = first_layers(teacher, n_layers)
    optimiser = torch.optim.AdamW(student.parameters(), lr=learning_rate, weight_decay=0.01, fused=True)
    steps = epochs * math.ceil(len(pool) / batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: max(0.0, 1 - step / steps))
    # Batches of similar length: far less padding, so each epoch costs much less.
    order = sorted(range(len(pool)), key=lambda i: len(pool[i]))
    batches = [order[b:b + batch_size] for b in range(0, len(order), batch_size)]
    best_f1, best_state = -1.0, None
    for epoch in range(1, epochs + 1):
        student.train()
        random.Random(seed + epoch).shuffle(batches)
        total = 0.0
        for index in batches:
            encoded = tokenizer([pool[i] for i in index], padding=True, truncation=True, max_length=max_length,
                                return_tensors="pt")
            log_p = torch.log_softmax(student(**encoded).logits / softness, dim=1)
            loss = torch.nn.functional.kl_div(log_p, targets[index], reduction="batchmean") * softness ** 2
            total += optimisation_step(student, loss, optimiser, schedule)
        dev_f1 = _macro_f1(student, tokenizer, dev, max_length)
        log.info("epoch %d: distillation loss %.4f, student dev macro-F1 %.4f", epoch, total / len(batches), dev_f1)
        if dev_f1 > best_f1:
            best_f1, best_state = dev_f1, copy.deepcopy(student.state_dict())
    student.load_state_dict(best_state)
    student.eval()
    metrics.update({"student_dev_macro_f1": best_f1,
                    "student_test_macro_f1": _macro_f1(student, tokenizer, test, max_length)})

    dev_logits = predict_logits(student, tokenizer, [r["text"] for r in dev], max_length)
    temperature = fit_temperature(dev_logits, np.array([LABEL_TO_ID[r["label"]] for r in dev]))
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    student.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    (out_dir / CALIBRATION_FILE).write_text(json.dumps({"temperature": temperature}) + "\n")
    student_info = {**info, "version": f"{info.get('version', 'unversioned')}.L{n_layers}",
                    "distilled_from": str(teacher_dir), "layers": n_layers,
                    "temperature": temperature, "metrics": {k: round(v, 4) for k, v in metrics.items()}}
    (out_dir / INFO_FILE).write_text(json.dumps(student_info, indent=2) + "\n")
    export_onnx(out_dir, max_length)
    return metrics


def _macro_f1(model, tokenizer, records: list[dict], max_length: int) -> float:
    logits = predict_logits(model, tokenizer, [r["text"] for r in records], max_length)
    predicted = [LABEL_IDS[i] for i in logits.argmax(axis=1)]
    return classification_metrics([r["label"] for r in records], predicted)["macro_f1"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--max-pool", type=int, default=0, help="sample at most this many pool sentences (0: all)")
    parser.add_argument("--splits-dir", type=Path, default=PROJECT_ROOT / "data" / "build" / "splits")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    metrics = distill(args.teacher, args.out, args.layers, args.splits_dir, args.epochs, args.learning_rate,
                      max_pool=args.max_pool)
    print(json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
