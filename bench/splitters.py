"""Sentence-boundary precision/recall/F1 of the splitters on the gold corpus articles.

Run: .venv/bin/python bench/splitters.py [--ecbplus-docs 120] [--markdown bench/splitters.md]

Each article's gold sentences (grouped by doc_id, in id order) are joined with a space, and once with a
newline; a boundary is the end offset of every sentence but the last. Predicted boundaries are the
whitespace-trimmed end offsets of each splitter's sentences. Counts are micro-averaged over articles.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

CORPUS_DIR = PROJECT_ROOT.parent / "shared" / "corpus"
Spans = list[tuple[int, int]]


def load_articles(path: Path) -> list[list[str]]:
    """Gold sentences per article, articles in first-seen order, sentences in id order."""
    docs: OrderedDict[str, list[tuple[str, str]]] = OrderedDict()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                docs.setdefault(record["doc_id"], []).append((record["id"], record["text"].strip()))
    return [[text for _, text in sorted(rows) if text] for rows in docs.values()]


def gold_boundaries(sentences: list[str], joiner: str) -> tuple[str, set[int]]:
    text, ends, pos = joiner.join(sentences), set(), 0
    for sentence in sentences[:-1]:
        pos += len(sentence)
        ends.add(pos)
        pos += len(joiner)
    return text, ends


def predicted_boundaries(text: str, spans: Spans) -> set[int]:
    ends = set()
    for start, end in spans:
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            ends.add(end)
    ends.discard(len(text.rstrip()))
    return ends


def _ours() -> Callable[[str], Spans]:
    from inference.sentences import split_sentences

    return lambda text: [(s.start, s.end) for s in split_sentences(text)]


def _pysbd() -> Callable[[str], Spans]:
    import pysbd

    segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)
    return lambda text: [(s.start, s.end) for s in segmenter.segment(text)]


def _spacy() -> Callable[[str], Spans]:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return lambda text: [(s.start_char, s.end_char) for s in nlp(text).sents]


def _blingfire() -> Callable[[str], Spans]:
    import blingfire

    return lambda text: list(blingfire.text_to_sentences_and_offsets(text)[1]) if text.strip() else []


SPLITTERS = {"ours (split_sentences)": _ours, "pysbd 0.3.4 raw": _pysbd, "spaCy blank en sentencizer": _spacy,
             "blingfire": _blingfire}


def evaluate(split: Callable[[str], Spans], articles: list[list[str]], joiner: str) -> dict:
    tp = fp = fn = 0
    seconds = 0.0
    sentences = 0
    for article in articles:
        text, gold = gold_boundaries(article, joiner)
        started = time.perf_counter()
        spans = split(text)
        seconds += time.perf_counter() - started
        predicted = predicted_boundaries(text, spans)
        tp += len(gold & predicted)
        fp += len(predicted - gold)
        fn += len(gold - predicted)
        sentences += len(article)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn,
            "sentences_per_second": sentences / seconds if seconds else 0.0}


def corpora(corpus_dir: Path, ecbplus_docs: int, seed: int) -> dict[str, list[list[str]]]:
    found = {"ntrex": load_articles(corpus_dir / "ntrex.jsonl"),
             "gum_wikinews": load_articles(corpus_dir / "gum_wikinews.jsonl")}
    ecbplus = load_articles(corpus_dir / "ecbplus.jsonl")
    found[f"ecbplus ({ecbplus_docs} of {len(ecbplus)} docs)"] = random.Random(seed).sample(ecbplus, ecbplus_docs)
    return found


def markdown(results: list[dict], command: str) -> str:
    lines = ["# Sentence splitters on the gold corpus", "",
             f"Command: `{command}`", "",
             "Boundary precision / recall / F1 (micro over articles). Each article's gold sentences are joined "
             "with one space (`space`) or one newline (`newline`); a boundary is the end of every sentence but the "
             "last. Some gold \"sentences\" are headline+sentence merges, which costs every splitter alike. "
             "Speed is sentences per second of the splitter alone on this machine (2 shared cores).", "",
             "| corpus | join | splitter | P | R | F1 | FP | FN | sent/s |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        lines.append(f"| {r['corpus']} | {r['join']} | {r['splitter']} | {r['precision']:.3f} | {r['recall']:.3f} | "
                     f"**{r['f1']:.3f}** | {r['fp']} | {r['fn']} | {r['sentences_per_second']:.0f} |"
                     if r["best"] else
                     f"| {r['corpus']} | {r['join']} | {r['splitter']} | {r['precision']:.3f} | {r['recall']:.3f} | "
                     f"{r['f1']:.3f} | {r['fp']} | {r['fn']} | {r['sentences_per_second']:.0f} |")
    lines += ["", "## Decision", "",
              "`split_sentences` uses blingfire inside line-structure rules (blank lines end paragraphs; a line break "
              "ends a sentence unless the next line continues it; list markers stay with their item). It matches "
              "raw blingfire on space-joined text and beats every raw splitter on newline-joined text, where "
              "headlines and one-sentence-per-line articles need the line rules. pysbd, the previous engine, "
              "keeps multi-sentence quotations whole (most of its misses) and is 10-40x slower; spaCy's "
              "rule-based sentencizer puts the quotation mark that opens a sentence at the end of the previous one "
              "(`million. \"` | `Never.\"`). The previous `split_sentences` "
              "(pysbd plus paragraph rules) scored the same as raw pysbd on space-joined text.",
              "", "Known misses, all splitters: a headline run into its first sentence with only a space between "
              "them, and sentences glued without a space (`deal.The`)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR, help="folder with ntrex/gum_wikinews/ecbplus.jsonl")
    parser.add_argument("--ecbplus-docs", type=int, default=120, help="ecbplus articles sampled (default: 120)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--splitters", nargs="*", default=None, help="subset of splitter names (substring match)")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)

    chosen = {}
    for name, factory in SPLITTERS.items():
        if args.splitters and not any(s.lower() in name.lower() for s in args.splitters):
            continue
        try:
            chosen[name] = factory()
        except ImportError as exc:
            print(f"skipping {name}: {exc}", file=sys.stderr)
    results = []
    for corpus, articles in corpora(args.corpus, args.ecbplus_docs, args.seed).items():
        for join, joiner in (("space", " "), ("newline", "\n")):
            rows = [{"corpus": corpus, "join": join, "splitter": name, **evaluate(split, articles, joiner)}
                    for name, split in chosen.items()]
            best = max(r["f1"] for r in rows)
            for r in rows:
                r["best"] = r["f1"] == best
                print(f"{corpus:32} {join:8} {r['splitter']:28} P {r['precision']:.3f} R {r['recall']:.3f} "
                      f"F1 {r['f1']:.3f} (fp {r['fp']}, fn {r['fn']}) {r['sentences_per_second']:.0f} sent/s")
            results.extend(rows)
    if args.markdown:
        sample = f" --ecbplus-docs {args.ecbplus_docs}" if args.ecbplus_docs != 120 else ""
        command = f".venv/bin/python bench/splitters.py{sample} --markdown {args.markdown}"
        args.markdown.write_text(markdown(results, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
