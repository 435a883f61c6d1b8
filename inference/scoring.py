"""Stream articles through the classifier into JSONL or CSV, in constant memory, resumable after a crash."""
from __future__ import annotations

import collections
import csv
import io
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, Iterator

from inference.articles import Article
from inference.classifier import Classifier, to_prediction
from inference.labels import LABEL_IDS
from inference.sentences import Sentence, split_sentences

CSV_COLUMNS = ["article_id", "sentence_index", "start", "end", "text", "label", "confidence"] + \
    [f"p_{label}" for label in LABEL_IDS]


@dataclass
class ScoreSummary:
    articles: int = 0
    sentences: int = 0
    resumed_from: int = 0
    seconds: float = 0.0
    labels: collections.Counter = field(default_factory=collections.Counter)

    def lines(self) -> str:
        rate = self.sentences / self.seconds if self.seconds else 0.0
        counts = ", ".join(f"{label} {self.labels.get(label, 0)}" for label in LABEL_IDS)
        resumed = f" (resumed after {self.resumed_from} already written)" if self.resumed_from else ""
        return (f"scored {self.articles} article(s), {self.sentences} sentence(s){resumed} in {self.seconds:.1f}s "
                f"({rate:.1f} sentences/s)\nlabels: {counts}")


@dataclass
class _Pending:
    article: Article
    index: int
    sentence: Sentence


def iter_sentences(articles: Iterable[Article], split: bool = True) -> Iterator[_Pending]:
    """Every sentence of every article, in a fixed order (resume counts on it)."""
    for article in articles:
        if split:
            for index, sentence in enumerate(split_sentences(article.text)):
                yield _Pending(article, index, sentence)
        else:
            yield _Pending(article, 0, Sentence(article.text, 0, len(article.text)))


class _Progress:
    """Committed bytes and sentences, written beside the output after each fsynced batch."""

    def __init__(self, output: Path):
        self.path = output.with_name(output.name + ".progress")

    def read(self) -> tuple[int, int]:
        if not self.path.is_file():
            return 0, 0
        state = json.loads(self.path.read_text())
        return int(state["bytes"]), int(state["sentences"])

    def write(self, size: int, sentences: int) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"bytes": size, "sentences": sentences}))
        os.replace(tmp, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def _format(records: list[dict], fmt: str, header: bool) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for r in records:
        writer.writerow([r["article_id"], r["sentence_index"], r["start"], r["end"], r["text"], r["label"],
                         r["confidence"]] + [r["probabilities"][label] for label in LABEL_IDS])
    return buffer.getvalue()


def score_stream(classifier: Classifier, articles: Iterable[Article], output: Path | None, fmt: str = "jsonl",
                 split: bool = True, batch_size: int = 32, resume: bool = False,
                 chunk_sentences: int = 512, progress: bool | None = None) -> ScoreSummary:
    """Score `articles` into `output` (stdout when None); each chunk is written and fsynced whole."""
    summary = ScoreSummary()
    committed_bytes = skip = 0
    tracker = _Progress(output) if output else None
    if output and resume and output.exists():
        committed_bytes, skip = tracker.read()
        with open(output, "r+b") as handle:
            handle.truncate(committed_bytes)
    elif output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(b"")
        tracker.write(0, 0)
    summary.resumed_from = skip
    sink: IO[bytes] = open(output, "ab") if output else sys.stdout.buffer
    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(unit=" sentences", file=sys.stderr, initial=skip)
    started = time.time()
    written = skip
    header = fmt == "csv" and skip == 0
    last_article = None
    pending: list[_Pending] = []

    def flush() -> None:
        nonlocal written, committed_bytes, header
        if not pending:
            return
        predictions = classifier.predict([p.sentence.text for p in pending], batch_size)
        records = []
        for item, prediction in zip(pending, predictions):
            records.append({"article_id": item.article.id, "sentence_index": item.index, "start": item.sentence.start,
                            "end": item.sentence.end, "text": item.sentence.text, **prediction.to_dict(),
                            **{k: v for k, v in item.article.extra.items() if k not in CSV_COLUMNS}})
            summary.labels[prediction.label] += 1
        data = _format(records, fmt, header).encode("utf-8")
        header = False
        sink.write(data)
        sink.flush()
        if output:
            os.fsync(sink.fileno())
            committed_bytes += len(data)
            tracker.write(committed_bytes, written + len(pending))
        written += len(pending)
        summary.sentences += len(pending)
        if bar:
            bar.update(len(pending))
        pending.clear()

    try:
        for position, item in enumerate(iter_sentences(articles, split)):
            if item.article is not last_article:
                summary.articles += 1
                last_article = item.article
            if position < skip:
                continue
            pending.append(item)
            if len(pending) >= chunk_sentences:
                flush()
        flush()
    finally:
        if bar:
            bar.close()
        if output:
            sink.close()
    if tracker:
        tracker.clear()
    summary.seconds = time.time() - started
    return summary


__all__ = ["score_stream", "iter_sentences", "ScoreSummary", "to_prediction"]
