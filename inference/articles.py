"""Read articles to score from text files, JSONL files, directories of either, or standard input."""
from __future__ import annotations

import json
import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

log = logging.getLogger(__name__)
TEXT_SUFFIXES = {".txt", ".text", ".md", ".html", ".htm"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
STDIN = "-"
_SURROGATE = re.compile(r"[\ud800-\udfff]")


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
    """What reading had to skip or repair, for the summary."""

    skipped: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)


def _decode(data: bytes, where: str, stats: ReadStats) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        stats.replaced.append(where)
        log.warning("%s: not valid UTF-8; undecodable bytes replaced with U+FFFD", where)
        return data.decode("utf-8", errors="replace")


def _problem(message: str, on_error: str, stats: ReadStats) -> None:
    if on_error == "fail":
        raise InputError(message)
    stats.skipped.append(message)
    log.warning("skipped %s", message)


def _jsonl_articles(lines: Iterable[bytes], name: str, on_error: str, stats: ReadStats) -> Iterator[Article]:
    for number, raw in enumerate(lines, start=1):
        where = f"{name}:{number}"
        line = _decode(raw, where, stats)
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            _problem(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})", on_error, stats)
            continue
        if not isinstance(record, dict):
            _problem(f"{where}: expected a JSON object with 'text', got {type(record).__name__}", on_error, stats)
            continue
        if "text" not in record:
            _problem(f"{where}: record has no 'text' field", on_error, stats)
            continue
        text = record["text"]
        if not isinstance(text, str):
            _problem(f"{where}: 'text' must be a string, got {type(text).__name__}", on_error, stats)
            continue
        if not text.strip():
            problem = "'text' is empty" if not text else "'text' is only whitespace"
            _problem(f"{where}: {problem}", on_error, stats)
            continue
        if _SURROGATE.search(text):
            # "\ud800" escapes decode to lone surrogates, which cannot be written as UTF-8; same-length repair.
            stats.replaced.append(where)
            log.warning("%s: lone surrogate escapes in 'text' replaced with U+FFFD", where)
            text = _SURROGATE.sub("\ufffd", text)
        article_id = record.get("id")
        article_id = where if article_id is None else str(article_id)
        extra = {k: v for k, v in record.items() if k not in ("id", "text")}
        yield Article(article_id, text, extra)


def _text_article(data: bytes, name: str, article_id: str, on_error: str, stats: ReadStats) -> Iterator[Article]:
    text = _decode(data, name, stats)
    if not text.strip():
        _problem(f"{name}: empty file" if not text else f"{name}: only whitespace", on_error, stats)
        return
    yield Article(article_id, text)


def resolve_inputs(inputs: list[str], exclude: Iterable[Path] = ()) -> list[str]:
    """Every file to read, checked before anything is read or written; directories expand sorted."""
    skip = {p.resolve() for p in exclude}
    files: list[str] = []
    for item in inputs:
        path = Path(item)
        if item == STDIN:
            files.append(item)
        elif path.is_dir():
            found = sorted(p for p in path.rglob("*")
                           if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES | JSONL_SUFFIXES
                           and not any(part.startswith(".") for part in p.relative_to(path).parts)
                           and p.resolve() not in skip)
            if not found:
                raise InputError(f"{item}: directory holds no .txt or .jsonl files")
            files.extend(str(p) for p in found)
        elif path.is_file():
            if path.resolve() in skip:
                raise InputError(f"{item}: is also the output file")
            files.append(item)
        else:
            raise InputError(f"{item}: no such file or directory")
    if files.count(STDIN) > 1:
        raise InputError("standard input (-) given more than once")
    return files


def _read_stdin(stream: BinaryIO, on_error: str, stats: ReadStats) -> Iterator[Article]:
    head = stream.peek(256) if hasattr(stream, "peek") else b""
    if head.lstrip()[:1] == b"{":
        yield from _jsonl_articles(stream, "<stdin>", on_error, stats)
    else:
        yield from _text_article(stream.read(), "<stdin>", "stdin", on_error, stats)


def iter_articles(files: list[str], on_error: str = "skip", stats: ReadStats | None = None) -> Iterator[Article]:
    """Yield articles lazily, one file or JSONL line at a time, so memory stays flat."""
    stats = stats if stats is not None else ReadStats()
    for item in files:
        if item == STDIN:
            yield from _read_stdin(sys.stdin.buffer, on_error, stats)
            continue
        path = Path(item)
        if path.suffix.lower() in JSONL_SUFFIXES:
            with open(path, "rb") as handle:
                yield from _jsonl_articles(handle, str(path), on_error, stats)
        else:
            yield from _text_article(path.read_bytes(), str(path), path.name, on_error, stats)


def read_articles(inputs: list[str], on_error: str = "skip", stats: ReadStats | None = None,
                  exclude: Iterable[Path] = ()) -> Iterator[Article]:
    """Check every input now (InputError if one is missing), then yield its articles lazily."""
    return iter_articles(resolve_inputs(inputs, exclude), on_error, stats)
