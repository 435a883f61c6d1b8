"""Read articles to score from text files, JSONL files, directories of either, or standard input."""
from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)
TEXT_SUFFIXES = {".txt", ".text", ".md", ".html", ".htm"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}


class InputError(ValueError):
    """A bad input record, named by file and line."""


@dataclass
class Article:
    """One input record: its id, text, and any extra fields to carry through to the output."""

    id: str
    text: str
    extra: dict = field(default_factory=dict)


@dataclass
class ReadStats:
    skipped: list[str] = field(default_factory=list)
    replaced_bytes: list[str] = field(default_factory=list)


def _decode(data: bytes, where: str, stats: ReadStats) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        stats.replaced_bytes.append(where)
        log.warning("%s: not valid UTF-8; undecodable bytes replaced with U+FFFD", where)
        return data.decode("utf-8", errors="replace")


def _problem(message: str, on_error: str, stats: ReadStats) -> None:
    if on_error == "fail":
        raise InputError(message)
    stats.skipped.append(message)
    log.warning("skipped %s", message)


def _jsonl_articles(lines: Iterator[bytes], name: str, on_error: str, stats: ReadStats) -> Iterator[Article]:
    for number, raw in enumerate(lines, start=1):
        where = f"{name}:{number}"
        line = _decode(raw, where, stats)
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            _problem(f"{where}: not valid JSON ({exc.msg})", on_error, stats)
            continue
        if not isinstance(record, dict):
            _problem(f"{where}: expected a JSON object with 'text'", on_error, stats)
            continue
        text = record.get("text")
        if "text" not in record:
            _problem(f"{where}: record has no 'text' field", on_error, stats)
            continue
        if not isinstance(text, str):
            _problem(f"{where}: 'text' must be a string, got {type(text).__name__}", on_error, stats)
            continue
        if not text.strip():
            _problem(f"{where}: 'text' is empty", on_error, stats)
            continue
        article_id = str(record.get("id", f"{name}:{number}"))
        extra = {k: v for k, v in record.items() if k not in ("id", "text")}
        yield Article(article_id, text, extra)


def _text_article(data: bytes, name: str, on_error: str, stats: ReadStats) -> Iterator[Article]:
    text = _decode(data, name, stats)
    if not text.strip():
        _problem(f"{name}: empty file" if not text else f"{name}: only whitespace", on_error, stats)
        return
    yield Article(Path(name).name, text)


def _expand(inputs: list[str]) -> Iterator[str]:
    for item in inputs:
        path = Path(item)
        if item == "-":
            yield item
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES | JSONL_SUFFIXES)
            if not files:
                raise InputError(f"{item}: directory holds no .txt or .jsonl files")
            yield from (str(p) for p in files)
        elif path.is_file():
            yield item
        else:
            raise InputError(f"{item}: no such file or directory")


def read_articles(inputs: list[str], on_error: str = "skip", stats: ReadStats | None = None) -> Iterator[Article]:
    """Yield articles lazily, one file or JSONL line at a time, so memory stays flat."""
    stats = stats if stats is not None else ReadStats()
    for item in _expand(inputs):
        if item == "-":
            head = sys.stdin.buffer.peek(256) if hasattr(sys.stdin.buffer, "peek") else b""
            if head.lstrip()[:1] == b"{":
                yield from _jsonl_articles(iter(sys.stdin.buffer), "<stdin>", on_error, stats)
            else:
                yield from _text_article(sys.stdin.buffer.read(), "stdin", on_error, stats)
            continue
        path = Path(item)
        if path.suffix.lower() in JSONL_SUFFIXES:
            with open(path, "rb") as handle:
                yield from _jsonl_articles(handle, str(path), on_error, stats)
        else:
            yield from _text_article(path.read_bytes(), str(path), on_error, stats)
