"""How often the top evidence span hits a hand-marked cue, on gold sentences marked in data/agreement/cue_spans.jsonl.

Run: python -m training.cue_eval [--model models/default]

`top1_overlap` is the default explanation (lexicon cues ranked by occlusion, single words when the lexicon finds
none and the label is not unverified_assertion); the other figures are the alternatives and baselines.

The marks file holds `{"key", "cues": [[start, end, kind], ...]}` per sentence (end-exclusive offsets into the
gold sentence; corpus sentences by reference, their text read from the shared corpus). A span hits when it
overlaps a marked cue by at least one character.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from inference.cues import find_cues
from inference.paths import DATA_DIR
from training.labelled_data import iter_jsonl, read_labels

CUE_MARKS = DATA_DIR / "agreement" / "cue_spans.jsonl"


@dataclass
class Marked:
    key: str
    text: str
    label: str
    cues: list[tuple[int, int, str]]


def read_marks(path: Path = CUE_MARKS, examples: list | None = None) -> list[Marked]:
    """The marked sentences with their gold text and label; offsets are checked against the text."""
    by_id = {e.id: e for e in (examples if examples is not None else read_labels())}
    marked = []
    for number, record, error in iter_jsonl(path):
        if error:
            raise ValueError(error)
        example = by_id.get(record["key"])
        if example is None:
            raise ValueError(f"{path}:{number}: {record['key']} is not a gold sentence")
        cues = [(int(s), int(e), str(k)) for s, e, k in record["cues"]]
        for start, end, _ in cues:
            if not 0 <= start < end <= len(example.text):
                raise ValueError(f"{path}:{number}: offsets {start}:{end} outside the sentence")
        marked.append(Marked(record["key"], example.text, example.label, cues))
    return marked


def overlaps(start: int, end: int, cues: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    return [c for c in cues if start < c[1] and c[0] < end]


def evaluate(classifier, marked: list[Marked], top_k: int = 3) -> dict[str, float]:
    """Hit rates of the model-ranked top span and of baselines, on sentences with at least one marked cue."""
    from inference.explain import explain

    with_cues = [m for m in marked if m.cues]
    without = [m for m in marked if not m.cues]
    texts = [m.text for m in with_cues]
    ranked = explain(classifier, texts, top_k=top_k)  # fallback "auto", the default
    ranked_lexicon = explain(classifier, texts, top_k=1, fallback="never")
    ranked_fallback = explain(classifier, texts, top_k=1, fallback="always")
    rng = random.Random(0)
    top1 = top1_kind = topk = lexicon_only = fallback = first_cue = longest_cue = lexicon_recall = random_word = 0
    lexicon_bound = true_cues = 0
    for m, spans, spans_lex, spans_fb in zip(with_cues, ranked, ranked_lexicon, ranked_fallback):
        if spans_lex:
            lexicon_only += bool(overlaps(spans_lex[0].start, spans_lex[0].end, m.cues))
        if spans:
            hit = overlaps(spans[0].start, spans[0].end, m.cues)
            top1 += bool(hit)
            top1_kind += any(c[2] == spans[0].kind for c in hit)
            topk += any(overlaps(s.start, s.end, m.cues) for s in spans)
        if spans_fb:
            fallback += bool(overlaps(spans_fb[0].start, spans_fb[0].end, m.cues))
        lexicon = find_cues(m.text)
        lexicon_bound += any(overlaps(c.start, c.end, m.cues) for c in lexicon)
        if lexicon:
            first_cue += bool(overlaps(lexicon[0].start, lexicon[0].end, m.cues))
            longest = max(lexicon, key=lambda c: (c.end - c.start, -c.start))
            longest_cue += bool(overlaps(longest.start, longest.end, m.cues))
        for cue in m.cues:
            true_cues += 1
            lexicon_recall += any(c.start < cue[1] and cue[0] < c.end for c in lexicon)
        words = [(w.start(), w.end()) for w in re.finditer(r"\w+", m.text)]
        start, end = rng.choice(words)
        random_word += bool(overlaps(start, end, m.cues))
    n = len(with_cues)
    silent_no_cue = sum(1 for spans in explain(classifier, [m.text for m in without], top_k=1) if not spans)
    return {
        "sentences_marked": len(marked), "sentences_with_cues": n, "marked_cues": true_cues,
        "top1_overlap": top1 / n, "top1_overlap_same_kind": top1_kind / n, f"top{top_k}_any_overlap": topk / n,
        "top1_overlap_lexicon_only": lexicon_only / n, "top1_overlap_word_fallback_always": fallback / n,
        "lexicon_candidates_upper_bound": lexicon_bound / n,
        "baseline_first_lexicon_cue": first_cue / n, "baseline_longest_lexicon_cue": longest_cue / n,
        "baseline_random_word": random_word / n, "lexicon_recall_of_marked_cues": lexicon_recall / max(true_cues, 1),
        "no_cue_sentences": len(without), "no_cue_sentences_left_unmarked": silent_no_cue / max(len(without), 1),
    }


def main(argv: list[str] | None = None) -> int:
    from inference.classifier import Classifier

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model directory or MLflow URI (default: models/default)")
    parser.add_argument("--marks", type=Path, default=CUE_MARKS, help="hand-marked cue file")
    parser.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"])
    args = parser.parse_args(argv)
    classifier = Classifier.load(args.model, backend=args.backend)
    result = evaluate(classifier, read_marks(args.marks))
    print(json.dumps({"model_version": classifier.version, **{k: round(v, 4) if isinstance(v, float) else v
                                                              for k, v in result.items()}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
