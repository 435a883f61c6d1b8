"""Stream articles through the classifier into JSONL or CSV, in constant memory, resumable after a crash.

A run into OUTPUT writes OUTPUT.partial chunk by chunk (each chunk fsynced whole, then recorded in
OUTPUT.progress) and renames it to OUTPUT only when every sentence is in: OUTPUT is never half-written, and
`--resume` truncates OUTPUT.partial to the last recorded chunk and carries on from the next sentence.
"""
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
from inference.durable_files import fsync_dir
from inference.labels import LABEL_IDS
from inference.sentences import Sentence, stream_sentences

RECORD_FIELDS = ("article_id", "sentence_index", "start", "end", "text", "label", "confidence", "probabilities")
CSV_COLUMNS = ["article_id", "sentence_index", "start", "end", "text", "label", "confidence"] + \
    [f"p_{label}" for label in LABEL_IDS] + ["extra"]
DEFAULT_CHUNK_SENTENCES = 512


class ResumeError(RuntimeError):
    """The files left by an interrupted run cannot be resumed as asked."""


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
            for index, sentence in enumerate(stream_sentences(article.text)):
                yield _Pending(article, index, sentence)
        else:
            yield _Pending(article, 0, Sentence(article.text, 0, len(article.text)))


class _ResumableFile:
    """OUTPUT.partial plus OUTPUT.progress ({"bytes", "sentences", "options"} committed so far)."""

    def __init__(self, output: Path, options: dict):
        self.output = output
        self.partial = output.with_name(output.name + ".partial")
        self.progress = output.with_name(output.name + ".progress")
        self.options = options
        self.handle: IO[bytes] | None = None
        self.size = 0
        self.sentences = 0

    def open(self, resume: bool) -> int:
        """Open for appending; returns how many sentences an earlier run already committed."""
        self.output.parent.mkdir(parents=True, exist_ok=True)
        if resume and self.partial.is_file() and self.progress.is_file():
            try:
                state = json.loads(self.progress.read_text())
                size, sentences, options = int(state["bytes"]), int(state["sentences"]), state["options"]
            except (ValueError, KeyError, TypeError):
                raise ResumeError(f"{self.progress} is corrupt; delete it and {self.partial} to start over") from None
            if options != self.options:
                raise ResumeError(f"{self.partial} was written with other options ({options}); rerun with the "
                                  f"same inputs and options, or without --resume to start over")
            if self.partial.stat().st_size < size:
                raise ResumeError(f"{self.partial} is shorter than {self.progress} records; delete both to start over")
            self.handle = open(self.partial, "r+b")
            self.handle.truncate(size)
            self.handle.seek(size)
            self.size, self.sentences = size, sentences
            return sentences
        self.progress.unlink(missing_ok=True)
        self.handle = open(self.partial, "wb")
        self._record()
        return 0

    def write(self, data: bytes, sentences: int) -> None:
        self.handle.write(data)
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.size += len(data)
        self.sentences += sentences
        self._record()

    def _record(self) -> None:
        tmp = self.progress.with_name(self.progress.name + ".tmp")
        with open(tmp, "w") as handle:
            json.dump({"bytes": self.size, "sentences": self.sentences, "options": self.options}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.progress)

    def finish(self) -> None:
        self.handle.close()
        os.replace(self.partial, self.output)
        self.progress.unlink(missing_ok=True)
        fsync_dir(self.output.parent)

    def close(self) -> None:
        if self.handle and not self.handle.closed:
            self.handle.close()


def _record(item: _Pending, prediction) -> dict:
    record = {"article_id": item.article.id, "sentence_index": item.index, "start": item.sentence.start,
              "end": item.sentence.end, "text": item.sentence.text, **prediction.to_dict()}
    for key, value in item.article.extra.items():
        # An input field named like an output field is kept, renamed, rather than overwriting it.
        record[f"input_{key}" if key in RECORD_FIELDS else key] = value
    return record


def _format(records: list[dict], fmt: str, header: bool) -> bytes:
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for r in records:
        extra = {k: v for k, v in r.items() if k not in RECORD_FIELDS}
        writer.writerow([r["article_id"], r["sentence_index"], r["start"], r["end"], r["text"], r["label"],
                         r["confidence"]] + [r["probabilities"][label] for label in LABEL_IDS] +
                        [json.dumps(extra, ensure_ascii=False) if extra else ""])
    return buffer.getvalue().encode("utf-8")


def score_stream(classifier: Classifier, articles: Iterable[Article], output: Path | None, fmt: str = "jsonl",
                 split: bool = True, batch_size: int = 32, resume: bool = False,
                 chunk_sentences: int = DEFAULT_CHUNK_SENTENCES, progress: bool | None = None,
                 resume_key: object = None, explain: bool = False) -> ScoreSummary:
    """Score `articles` into `output` (stdout when None), a chunk of sentences at a time.

    `resume_key` (e.g. the input list) is stored with the progress so that a resume over other inputs fails.
    `explain` adds "cues" to each record: evidence spans with offsets into the sentence text.
    """
    summary = ScoreSummary()
    target = _ResumableFile(output, {"format": fmt, "split": split, "inputs": resume_key}) if output else None
    skip = target.open(resume) if target else 0
    summary.resumed_from = skip
    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(unit=" sentences", file=sys.stderr, initial=skip)
    started = time.time()
    header = fmt == "csv" and skip == 0
    last_article = None
    pending: list[_Pending] = []

    def flush() -> None:
        nonlocal header
        if not pending:
            return
        predictions = classifier.predict([p.sentence.text for p in pending], batch_size)
        records = [_record(item, prediction) for item, prediction in zip(pending, predictions)]
        if explain:
            from inference.explain import explain as explain_spans

            spans = explain_spans(classifier, [p.sentence.text for p in pending], predictions, batch_size=batch_size)
            for record, found in zip(records, spans):
                record["cues"] = [span.to_dict() for span in found]
        summary.labels.update(prediction.label for prediction in predictions)
        data = _format(records, fmt, header)
        header = False
        if target:
            target.write(data, len(pending))
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
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
        if target:
            target.finish()
    finally:
        if bar:
            bar.close()
        if target:
            target.close()
    summary.seconds = time.time() - started
    return summary


__all__ = ["score_stream", "iter_sentences", "ScoreSummary", "ResumeError", "to_prediction"]
