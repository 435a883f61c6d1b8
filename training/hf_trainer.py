"""The same fine-tuning as `training.finetune`, driven by `transformers.Trainer` (config `loop: trainer`).

Kept beside the plain loop so the two can be measured against each other on one machine and one config
(the issue asks for whichever measures better; README "Retraining" has the measurement).
Same optimiser settings, linear schedule (warmup rounded up here, down in the plain loop), class-weighted loss
(with the runner-up term for hard cases when `runner_up_weight` is set), length-grouped batches, early stopping on
dev macro-F1.
"""
from __future__ import annotations

import tempfile
from typing import Callable

import numpy as np
import torch
from datasets import Dataset
from transformers import (DataCollatorWithPadding, EarlyStoppingCallback, PreTrainedTokenizerBase, Trainer,
                          TrainerCallback, TrainingArguments)

from inference.labels import LABEL_IDS
from training.config import TrainConfig
from training.evaluate import classification_metrics
from training.finetune import runner_up_term

OnEpoch = Callable[[int, dict[str, float]], None]


class _WeightedLossTrainer(Trainer):
    """Trainer whose loss is the plain loop's: class-weighted (and optionally smoothed) cross-entropy, plus the
    runner-up term for hard cases when `runner_up_weight` is set."""

    def __init__(self, *args, loss_fn: torch.nn.CrossEntropyLoss, runner_up_weight: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_fn, self.runner_up_weight = loss_fn, runner_up_weight

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels, runner_up = inputs.pop("labels"), inputs.pop("runner_up", None)
        outputs = model(**inputs)
        loss = self.loss_fn(outputs.logits, labels)
        if runner_up is not None and self.runner_up_weight > 0:
            loss = loss + runner_up_term(outputs.logits, labels, runner_up, self.loss_fn.weight,
                                         self.runner_up_weight * (1 - self.loss_fn.label_smoothing))
        return (loss, outputs) if return_outputs else loss


class _EpochReport(TrainerCallback):
    """Hands each epoch's mean train loss and dev metrics to `on_epoch`, as the plain loop does."""

    def __init__(self, on_epoch: OnEpoch | None):
        self.on_epoch, self.train_loss, self.history = on_epoch, float("nan"), []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.train_loss = float(logs["loss"])

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        dev = {key.removeprefix("eval_"): float(value) for key, value in (metrics or {}).items()
               if key.startswith("eval_dev_")}
        report = {"train_loss": self.train_loss, **dev}
        self.history.append(report)
        if self.on_epoch:
            self.on_epoch(round(state.epoch), report)


def train_with_trainer(cfg: TrainConfig, model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase,
                       train_set: Dataset, dev_set: Dataset, loss_fn: torch.nn.CrossEntropyLoss,
                       on_epoch: OnEpoch | None) -> tuple[torch.nn.Module, int, list]:
    """Fine-tune `model` with `transformers.Trainer`; return the best model, its epoch and the per-epoch history.
    A `runner_up` column in `train_set` (hard cases' runner-up ids) reaches the loss as in the plain loop."""
    def dev_metrics(prediction) -> dict[str, float]:
        # label_ids, not the dev order: predictions are matched to the labels the Trainer hands back
        gold = [LABEL_IDS[i] for i in np.asarray(prediction.label_ids)]
        predicted = [LABEL_IDS[i] for i in np.asarray(prediction.predictions).argmax(axis=1)]
        return classification_metrics(gold, predicted, "dev")

    report = _EpochReport(on_epoch)
    with tempfile.TemporaryDirectory(prefix="sourcing-trainer-") as checkpoints:
        args = TrainingArguments(
            output_dir=checkpoints, num_train_epochs=cfg.epochs, per_device_train_batch_size=cfg.batch_size,
            per_device_eval_batch_size=cfg.eval_batch_size, learning_rate=cfg.learning_rate,
            weight_decay=cfg.weight_decay, warmup_steps=cfg.warmup_ratio, lr_scheduler_type="linear",
            max_grad_norm=1.0, train_sampling_strategy="group_by_length", eval_strategy="epoch",
            save_strategy="epoch", save_only_model=True, save_total_limit=cfg.early_stopping_patience + 1,
            load_best_model_at_end=True, metric_for_best_model="dev_macro_f1", greater_is_better=True,
            logging_strategy="epoch", report_to="none", use_cpu=True, seed=cfg.seed, data_seed=cfg.seed,
            dataloader_num_workers=0, disable_tqdm=None,
            # keep `runner_up`, which the model's forward does not take, for compute_loss
            remove_unused_columns=False, label_names=["labels"])
        trainer = _WeightedLossTrainer(
            model=model, args=args, train_dataset=train_set, eval_dataset=dev_set,
            data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer,
            compute_metrics=dev_metrics, loss_fn=loss_fn, runner_up_weight=cfg.runner_up_weight,
            callbacks=[EarlyStoppingCallback(cfg.early_stopping_patience), report])
        trainer.train()  # with load_best_model_at_end, trainer.model ends as the best epoch's weights
        model = trainer.model
    scores = [h["dev_macro_f1"] for h in report.history]
    best_epoch = 1 + scores.index(max(scores))  # the first best, as Trainer keeps it
    model.eval()
    return model, best_epoch, report.history
