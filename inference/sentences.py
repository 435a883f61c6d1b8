"""Split news text into sentences that keep character offsets into the original string."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Sentence:
    """A sentence and its end-exclusive offsets: `source[start:end] == text`."""

    text: str
    start: int
    end: int


# Blocks that are sentences on their own whatever their punctuation: paragraphs
# separated by blank lines, and single lines such as headlines and list items.
_BLOCK_BREAK = re.compile(r"\n[ \t]*\n|\r\n[ \t]*\r\n")
_LIST_ITEM = re.compile(r"^\s*(?:[-*\u2022\u2013\u2014]|\d{1,3}[.)])\s+")


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def _blocks(text: str) -> list[tuple[int, int]]:
    """Paragraph and single-line spans (start, end) that no sentence may cross."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for match in _BLOCK_BREAK.finditer(text):
        spans.append((pos, match.start()))
        pos = match.end()
    spans.append((pos, len(text)))
    blocks: list[tuple[int, int]] = []
    for start, end in spans:
        lines = _line_spans(text, start, end)
        # A paragraph whose lines are headlines or list items splits by line;
        # an ordinary hard-wrapped paragraph stays whole.
        if len(lines) > 1 and any(_is_standalone_line(text[s:e]) for s, e in lines):
            blocks.extend(lines)
        else:
            blocks.append((start, end))
    return blocks


def _line_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    pos = start
    for line in text[start:end].splitlines(keepends=True):
        spans.append((pos, pos + len(line)))
        pos += len(line)
    return spans


def _is_standalone_line(line: str) -> bool:
    stripped = line.strip()
    if not stripped:
        return False
    return bool(_LIST_ITEM.match(line)) or stripped[-1] not in ".!?\"'\u201d\u2019)…:;,"


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_sentences(text: str) -> list[Sentence]:
    """Split `text` into sentences; whitespace between them is dropped, offsets stay exact."""
    sentences: list[Sentence] = []
    for block_start, block_end in _blocks(text):
        start, end = _trimmed(text, block_start, block_end)
        if start == end:
            continue
        block = text[start:end]
        for span in _segmenter().segment(block):
            s, e = _trimmed(text, start + span.start, start + span.end)
            if s < e:
                sentences.append(Sentence(text[s:e], s, e))
    return sentences
