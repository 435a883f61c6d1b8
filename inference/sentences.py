"""Split news text into sentences that keep character offsets into the original string.

Line structure decides first: blank lines end paragraphs, and a line break ends a sentence unless the next
line visibly continues it (hard-wrapped text). Within each run of lines, blingfire's sentence model places the
boundaries; it beat pysbd and spaCy's sentencizer on the gold articles (bench/splitters.md).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class Sentence:
    """A sentence and its end-exclusive offsets: `source[start:end] == text`."""

    text: str
    start: int
    end: int


_LINE_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_LIST_ITEM = re.compile(r"\s*(?:[-*+\u2022\u2023\u25aa\u25cf\u2013\u2014]|\(?(?:\d{1,3}|[a-zA-Z])[.)])\s")
_MARKER_ONLY = re.compile(r"\s*(?:[-*+\u2022\u2023\u25aa\u25cf\u2013\u2014]|\(?(?:\d{1,3}|[a-zA-Z])[.)])\s*")
# A line ending like this is hard-wrapped mid-sentence, whatever the next line starts with.
_CONTINUES = re.compile(
    r"(?:[,;(/&\-\u2013\u2014]|\b(?:a|an|the|of|to|and|or|but|in|on|at|for|with|by|from|that|as|is|are|was|were|"
    r"be|has|have|had|will|would|than|its|their|his|her|our|this|these|those)|"
    r"\b(?:Mr|Mrs|Ms|Dr|Prof|Gov|Sen|Rep|Gen|Lt|Col|Sgt|Capt|St|No|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.)"
    r"\s*$")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _lines(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each line, line break excluded."""
    pos = 0
    for match in _LINE_BREAK.finditer(text):
        yield pos, match.start()
        pos = match.end()
    yield pos, len(text)


def _continues(previous: str, line: str) -> bool:
    """True when `line` carries on the sentence of `previous` across a hard wrap."""
    if _LIST_ITEM.match(line):
        return False
    first = line.lstrip()[:1]
    return first.islower() or bool(_CONTINUES.search(previous))


def _runs(text: str) -> Iterator[tuple[int, int]]:
    """Spans that no sentence crosses: paragraphs, headlines, list items, and hard-wrapped line groups."""
    run_start = run_end = None
    previous = ""
    for start, end in _lines(text):
        line = text[start:end]
        if not line.strip():
            if run_start is not None:
                yield run_start, run_end
            run_start = None
            continue
        if run_start is not None and not _continues(previous, line):
            yield run_start, run_end
            run_start = None
        if run_start is None:
            run_start = start
        run_end = end
        previous = line
    if run_start is not None:
        yield run_start, run_end


def _model_ends(view: str) -> list[int]:
    """End offsets of blingfire's sentences in `view`, a single run with line breaks turned into spaces."""
    import blingfire

    return [end for _, end in blingfire.text_to_sentences_and_offsets(view)[1]]


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _split_run(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    # Same-length view: offsets map one to one; lone surrogates (possible from JSON) would break UTF-8 encoding.
    view = _SURROGATE.sub("\ufffd", _LINE_BREAK.sub(lambda m: " " * len(m.group()), text[start:end]))
    cuts = sorted({start + min(max(e, 0), len(view)) for e in _model_ends(view)} | {end})
    pieces = []
    pos = start
    for cut in cuts:
        s, e = _trimmed(text, pos, cut)
        if s < e:
            pieces.append([s, e])
        pos = cut
    # Pieces with no letter join a neighbour rather than stand alone: a list marker opening the run joins
    # the item it numbers, anything else (a stray closing quote, "9." of "5. 9.") the piece before it.
    if len(pieces) > 1 and _MARKER_ONLY.fullmatch(text[pieces[0][0]:pieces[0][1]]):
        pieces[1][0] = pieces[0][0]
        del pieces[0]
    merged: list[list[int]] = []
    for piece in pieces:
        if merged and not any(c.isalpha() for c in text[piece[0]:piece[1]]):
            merged[-1][1] = piece[1]
        else:
            merged.append(piece)
    for s, e in merged:
        yield s, e


def stream_sentences(text: str) -> Iterator[Sentence]:
    """Yield the sentences of `text` in order; whitespace between them is dropped, offsets stay exact."""
    for run_start, run_end in _runs(text):
        for s, e in _split_run(text, run_start, run_end):
            yield Sentence(text[s:e], s, e)


def split_sentences(text: str) -> list[Sentence]:
    """Split `text` into sentences; every non-space character belongs to exactly one sentence."""
    return list(stream_sentences(text))
