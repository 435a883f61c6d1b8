"""Evidence spans: the cue words that drove a prediction, found by the cue lexicon and ranked by occlusion.

For each sentence, every candidate span from `inference.cues.find_cues` is deleted in turn and the sentence
re-scored; a span's score is the drop in the predicted label's probability without it.

A sentence with no lexicon cue falls back to single words (kind "other"), ranked the same way, unless it is
predicted `unverified_assertion`: unsourced narration has no cue to show, and no span says so
(`fallback="auto"`, the default; "always" and "never" are the alternatives measured in training/cue_eval.py).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Sequence

from inference.cues import CUE_KIND_DESCRIPTIONS, CUE_KINDS, Cue, find_cues
from inference.labels import LABEL_TO_ID, NEEDS_SOURCING

if TYPE_CHECKING:
    from inference.classifier import Classifier, Prediction

DEFAULT_TOP_K = 3
MAX_FALLBACK_WORDS = 40
FALLBACKS = ("auto", "always", "never")
NO_CUE_LABEL = NEEDS_SOURCING[0]  # the least sourced label, plain narration included: nothing to underline
FALLBACK_KIND = "other"
# Every kind a span can have, in display order, with what it means (the review page's legend and tooltips).
SPAN_KINDS: dict[str, str] = {**{kind: CUE_KIND_DESCRIPTIONS[kind] for kind in CUE_KINDS},
                              FALLBACK_KIND: "a word outside the cue lexicon that the label leaned on"}
_WORD = re.compile(r"[\w'’-]+")
_SPACES = re.compile(r"\s{2,}")


@dataclass(frozen=True)
class CueSpan:
    """A span of the sentence (end-exclusive offsets into it), its kind, and how much it drove the label."""

    start: int
    end: int
    kind: str
    text: str
    score: float  # drop in the predicted label's probability when the span is removed

    def to_dict(self) -> dict:
        return asdict(self)


def occlude(text: str, start: int, end: int) -> str:
    """`text` with `text[start:end]` removed and the gap closed."""
    return _SPACES.sub(" ", text[:start] + " " + text[end:]).strip()


def candidates(text: str, fallback: bool = False) -> list[Cue]:
    """Lexicon cues; with `fallback`, every word (kind "other") when the lexicon finds none."""
    cues = find_cues(text)
    if cues or not fallback:
        return cues
    return [Cue(m.start(), m.end(), FALLBACK_KIND) for m in _WORD.finditer(text)][:MAX_FALLBACK_WORDS]


def explain(classifier: "Classifier", texts: Sequence[str], predictions: Sequence["Prediction"] | None = None,
            top_k: int = DEFAULT_TOP_K, batch_size: int = 32, fallback: str = "auto") -> list[list[CueSpan]]:
    """For each text, up to `top_k` non-overlapping cue spans, the one that moved the label most first.

    `predictions` (from `classifier.predict(texts)`) are reused when given; otherwise computed. Spans whose
    removal does not lower the label's probability are kept only when no span does (they are still the cues).
    """
    if fallback not in FALLBACKS:
        raise ValueError(f"fallback must be one of {', '.join(FALLBACKS)}")
    texts = list(texts)
    if predictions is None:
        predictions = classifier.predict(texts, batch_size)
    spans_per_text = [candidates(t, fallback == "always" or (fallback == "auto" and p.label != NO_CUE_LABEL))
                      for t, p in zip(texts, predictions)]
    variants = [occlude(t, c.start, c.end) for t, spans in zip(texts, spans_per_text) for c in spans]
    probabilities = classifier.predict_proba(variants, batch_size) if variants else []
    results: list[list[CueSpan]] = []
    offset = 0
    for text, spans, prediction in zip(texts, spans_per_text, predictions):
        label_id = LABEL_TO_ID[prediction.label]
        base = prediction.probabilities[prediction.label]
        scored = [CueSpan(c.start, c.end, c.kind, text[c.start:c.end],
                          round(float(base - probabilities[offset + i][label_id]), 6))
                  for i, c in enumerate(spans)]
        offset += len(spans)
        # Highest drop first; a lexicon cue before a fallback word; then longer, then earlier.
        scored.sort(key=lambda s: (-s.score, s.kind == FALLBACK_KIND, -(s.end - s.start), s.start))
        if any(s.score > 0 for s in scored):
            scored = [s for s in scored if s.score > 0]
        chosen: list[CueSpan] = []
        for span in scored:
            if all(span.end <= c.start or c.end <= span.start for c in chosen):
                chosen.append(span)
            if len(chosen) == top_k:
                break
        results.append(chosen)
    return results


def add_cues(classifier: "Classifier", records: list[dict], texts: Sequence[str], probabilities,
             top_k: int = DEFAULT_TOP_K, batch_size: int = 32) -> list[dict]:
    """Set `record["cues"]` (span dicts, offsets into the record's sentence) on records already scored with
    `probabilities` (n, 4); the base prediction is not recomputed. Returns `records`."""
    from inference.classifier import to_prediction

    predictions = [to_prediction(row) for row in probabilities]
    for record, spans in zip(records, explain(classifier, texts, predictions, top_k, batch_size)):
        record["cues"] = [span.to_dict() for span in spans]
    return records
