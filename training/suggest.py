"""What to label next: the unlabelled sentences the model is least sure of, spread over sources and labels,
or a seeded random draw (what labelling rounds 7-10 used), optionally from the articles of one split.

Run: sourcing suggest --pool ../shared/corpus/ntrex.jsonl --n 200 -o data/build/suggest.jsonl
"""
from __future__ import annotations

import collections
import json
import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Protocol, Sequence

import numpy as np

from inference.labels import LABEL_IDS
from inference.paths import DATA_DIR, FEEDBACK_DIR
from training.labelled_data import (CORPUS_DIR, LABELS_DIR, DataError, Example, iter_jsonl, load_corpus, normalise,
                                    read_labels)

STRATEGIES = ("entropy", "margin", "mixed")
RANDOM = "random"  # a uniform, seeded draw; the model only annotates what was drawn
SPLIT_CHOICES = ("train", "dev", "test", "unassigned")
# Files whose ids are decided already: gold labels, second-pass labels, sentences excluded from labelling.
DECIDED_DIRS = (DATA_DIR / "agreement", DATA_DIR / "excluded")
CANDIDATE_FACTOR = 4  # spread is sought among the CANDIDATE_FACTOR * n least certain sentences
MAX_PER_DOC = 2
_NUMBERED_ID = re.compile(r"^(.*?)[-_:]?\d+$")


class Scorer(Protocol):
    version: str

    def predict_proba(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """(n, 4) probabilities in LABEL_IDS order."""


@dataclass
class PoolSentence:
    """An unlabelled sentence; `ref` is set when it is a sentence of the shared corpus."""

    id: str
    text: str
    source: str
    doc_id: str
    ref: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class Suggestion:
    rank: int
    sentence: PoolSentence
    model_label: str
    model_confidence: float
    probabilities: dict[str, float]
    uncertainty: float
    strategy: str
    model_version: str

    def record(self) -> dict:
        s = self.sentence
        return {"rank": self.rank, "id": s.id, **({"ref": s.ref} if s.ref else {}), "text": s.text,
                "source": s.source, "doc_id": s.doc_id, "model_label": self.model_label,
                "model_confidence": round(self.model_confidence, 6),
                "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
                "uncertainty": round(self.uncertainty, 6), "strategy": self.strategy,
                "model_version": self.model_version, **s.extra}


@dataclass
class Labelled:
    """What is labelled or decided already: sentence ids and normalised texts."""

    ids: set[str]
    texts: set[str]

    def covers(self, sentence: PoolSentence) -> bool:
        return sentence.id in self.ids or (sentence.ref or "") in self.ids or normalise(sentence.text) in self.texts


def source_of(sentence_id: str, path: Path) -> str:
    """`ecbplus-00012` -> `ecbplus`; ids without a numbered tail take the pool file's name."""
    match = _NUMBERED_ID.match(sentence_id)
    return match.group(1) if match and match.group(1) else path.stem


def read_pool(paths: Iterable[Path], corpus: dict[str, dict] | None = None) -> tuple[list[PoolSentence], int]:
    """Pool sentences from JSONL files of {"id", "text", ...} (the shared corpus files work as they are).

    Returns the sentences and how many lines were skipped (bad JSON, missing id or text). A sentence whose id
    and text match the shared corpus becomes a corpus reference.
    """
    sentences, skipped = [], 0
    for path in paths:
        for _, record, error in iter_jsonl(Path(path)):
            sid, text = (record or {}).get("id"), (record or {}).get("text")
            if error or not isinstance(sid, str) or not sid or not isinstance(text, str) or not text.strip():
                skipped += 1
                continue
            row = (corpus or {}).get(sid)
            ref = sid if row is not None and normalise(row["text"]) == normalise(text) else None
            extra = {k: v for k, v in record.items() if k not in ("id", "text", "doc_id", "source", "license", "ref")}
            sentences.append(PoolSentence(sid, text.strip(), source_of(sid, Path(path)),
                                          str(record.get("doc_id") or f"{Path(path).stem}:{sid}"), ref, extra))
    return sentences, skipped


def _ids_in(folder: Path) -> set[str]:
    ids = set()
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        for _, record, error in iter_jsonl(path):
            if not error:
                ids.update(v for k in ("ref", "key", "id") if isinstance(v := record.get(k), str))
    return ids


def labelled_data(labels_dir: Path = LABELS_DIR, corpus_dir: Path = CORPUS_DIR,
                  decided_dirs: Sequence[Path] = DECIDED_DIRS, feedback_dir: Path = FEEDBACK_DIR,
                  examples: list[Example] | None = None) -> Labelled:
    """Every sentence already labelled (gold), second-passed or excluded, and reviewer feedback texts.

    `examples`: the gold labels when the caller has read them already."""
    examples = read_labels(labels_dir, corpus_dir) if examples is None else examples
    ids = {e.id for e in examples}
    texts = {normalise(e.text) for e in examples}
    decided = set().union(*(_ids_in(d) for d in decided_dirs)) - ids
    if decided and corpus_dir.is_dir():
        texts |= {normalise(r["text"]) for r in load_corpus(corpus_dir, decided).values()}
    ids |= decided
    for path in sorted(feedback_dir.rglob("*.jsonl")) if feedback_dir.is_dir() else []:
        for _, record, error in iter_jsonl(path):
            if not error and isinstance(record.get("text"), str):
                texts.add(normalise(record["text"]))
    return Labelled(ids, texts)


def uncertainty(probabilities: np.ndarray, strategy: str) -> np.ndarray:
    """(n,) in [0, 1], higher is less sure: normalised entropy, 1 - margin of the top two, or their mean."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    p = np.clip(probabilities, 1e-12, 1.0)
    entropy = -(p * np.log(p)).sum(axis=1) / math.log(p.shape[1])
    top_two = np.sort(p, axis=1)[:, -2:]
    margin = 1.0 - (top_two[:, 1] - top_two[:, 0])
    return {"entropy": entropy, "margin": margin, "mixed": (entropy + margin) / 2}[strategy]


def spread_select(scores: np.ndarray, strata: Sequence[tuple], docs: Sequence[str], n: int,
                  max_per_doc: int = MAX_PER_DOC, candidate_factor: int = CANDIDATE_FACTOR) -> list[int]:
    """Indices of `n` sentences, most uncertain first, taken in turn from each (source, predicted label) stratum.

    Only the `candidate_factor * n` most uncertain sentences compete, so spreading never picks a confident one
    over a doubtful one by much; at most `max_per_doc` come from one article while others remain.
    """
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    candidates = order[:max(n * candidate_factor, n)]
    queues: dict[tuple, collections.deque] = {}
    for i in candidates:
        queues.setdefault(strata[i], collections.deque()).append(i)
    chosen: list[int] = []
    per_doc: collections.Counter = collections.Counter()
    deferred: list[int] = []
    while len(chosen) < n and any(queues.values()):
        for key in list(queues):
            while queues[key]:
                i = queues[key].popleft()
                if per_doc[docs[i]] < max_per_doc:
                    chosen.append(i)
                    per_doc[docs[i]] += 1
                    break
                deferred.append(i)
            if len(chosen) >= n:
                break
    # Fewer strata or articles than needed: fill up with the most uncertain left over.
    rest = sorted(deferred, key=lambda i: (-scores[i], i)) + order[len(candidates):]
    chosen += rest[:n - len(chosen)]
    return sorted(chosen, key=lambda i: (-scores[i], i))


def in_split(pool: list[PoolSentence], pins: dict[str, str], split: str) -> list[PoolSentence]:
    """Pool sentences of articles pinned to `split` (data/split_pins.json); "unassigned": of articles not pinned."""
    if split not in SPLIT_CHOICES:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLIT_CHOICES)}")
    if split == "unassigned":
        return [s for s in pool if s.doc_id not in pins]
    return [s for s in pool if pins.get(s.doc_id) == split]


def suggest(scorer: Scorer, pool: list[PoolSentence], labelled: Labelled, n: int = 200, strategy: str = "mixed",
            max_pool: int | None = None, seed: int = 13, batch_size: int = 32) -> list[Suggestion]:
    """The `n` pool sentences to label next; never a labelled sentence, never two with the same normalised text.

    Strategy "random" draws `n` of them uniformly with `seed`, in draw order; the others rank by uncertainty."""
    if n < 1:
        raise ValueError("n must be at least 1")
    if strategy != RANDOM:
        uncertainty(np.full((1, len(LABEL_IDS)), 0.25), strategy)  # fail on a bad strategy before scoring
    seen: set[str] = set()
    fresh = []
    for sentence in pool:
        key = normalise(sentence.text)
        if key and key not in seen and not labelled.covers(sentence):
            seen.add(key)
            fresh.append(sentence)
    if strategy == RANDOM:
        fresh = random.Random(seed).sample(fresh, min(n, len(fresh)))
    elif max_pool is not None and len(fresh) > max_pool:
        fresh = random.Random(seed).sample(fresh, max_pool)
    if not fresh:
        return []
    probabilities = np.asarray(scorer.predict_proba([s.text for s in fresh], batch_size), dtype=float)
    scores = uncertainty(probabilities, "mixed" if strategy == RANDOM else strategy)
    predicted = probabilities.argmax(axis=1)
    if strategy == RANDOM:
        picked = list(range(len(fresh)))
    else:
        strata = [(s.source, int(label_id)) for s, label_id in zip(fresh, predicted)]
        picked = spread_select(scores, strata, [s.doc_id for s in fresh], n)
    version = str(getattr(scorer, "version", "unversioned"))
    return [Suggestion(rank, fresh[i], LABEL_IDS[int(predicted[i])], float(probabilities[i].max()),
                       dict(zip(LABEL_IDS, map(float, probabilities[i]))), float(scores[i]), strategy, version)
            for rank, i in enumerate(picked, start=1)]


def write_jsonl(suggestions: list[Suggestion], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text("".join(json.dumps(s.record(), ensure_ascii=False) + "\n" for s in suggestions), encoding="utf-8")
    tmp.replace(output)


def check_output(output: Path, labels_dir: Path = LABELS_DIR) -> None:
    """Suggestions carry corpus text, so they never go into the gold label folder."""
    if output.resolve().is_relative_to(labels_dir.resolve()):
        raise DataError([f"{output}: suggestions carry sentence text and are not gold labels; write them outside "
                         f"{labels_dir} (data/build/ is not committed)"])
