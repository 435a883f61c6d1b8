"""The hand-marked cue file: gold sentences only, offsets inside them, known kinds, no copied text."""
from __future__ import annotations

import json

import pytest

from inference.cues import CUE_KINDS
from training.cue_eval import CUE_MARKS, overlaps, read_marks
from training.labelled_data import CORPUS_DIR


def test_marks_point_into_gold_sentences():
    if not CORPUS_DIR.is_dir():
        pytest.skip("../shared/corpus not available: the marked sentences' text lives there")
    marked = read_marks()
    assert len(marked) >= 150 and sum(1 for m in marked if m.cues) >= 150
    assert len({m.key for m in marked}) == len(marked)
    for m in marked:
        for start, end, kind in m.cues:
            assert kind in CUE_KINDS
            assert m.text[start:end].strip() == m.text[start:end] != ""


def test_marks_file_holds_keys_and_offsets_only():
    for line in CUE_MARKS.read_text(encoding="utf-8").splitlines():
        assert set(json.loads(line)) == {"key", "cues"}


def test_overlap_is_at_least_one_character():
    cues = [(4, 8, "hedge")]
    assert overlaps(7, 9, cues) and overlaps(0, 5, cues) and not overlaps(8, 10, cues) and not overlaps(0, 4, cues)
