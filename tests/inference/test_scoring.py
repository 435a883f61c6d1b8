"""score_stream and the article readers: record schema, offsets, formats, bad input, resume after a crash."""
from __future__ import annotations

import csv
import io
import json
import logging
import os
from pathlib import Path

import pytest

from inference.articles import Article, InputError, ReadStats, read_articles, resolve_inputs
from inference.html_text import strip_html
from inference.labels import LABEL_IDS
from inference.scoring import CSV_COLUMNS, ResumeError, score_stream

ARTICLES = [
    Article("a1", "Port strike talks stall\n\nTalks broke down on Tuesday, the port authority said. "
                  "\u201cWe tabled a fair offer,\u201d Dr. Lindqvist said. Ships wait.", {"source": "wire", "n": 1}),
    Article("a2", "Some of the stranded ships are reportedly carrying food worth $3.5 million.", {}),
    Article("a3", "Analysts warn the backlog could take months to clear... Prices may rise 1.2%.", {"label": "x"}),
]


@pytest.fixture(scope="module")
def classifier(random_model_dir):
    """The random tiny model on one torch thread (faster on a busy machine); the session's setting is restored."""
    import torch

    from inference.classifier import Classifier

    threads = torch.get_num_threads()
    os.environ["SOURCING_THREADS"] = "1"
    yield Classifier.load(random_model_dir)
    os.environ.pop("SOURCING_THREADS", None)
    torch.set_num_threads(threads)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_records_have_the_schema_exact_offsets_and_the_classifier_predictions(classifier, tmp_path):
    out = tmp_path / "out.jsonl"
    summary = score_stream(classifier, ARTICLES, out, progress=False)
    records = read_jsonl(out)
    by_id = {a.id: a for a in ARTICLES}
    assert [r["article_id"] for r in records] == ["a1"] * 4 + ["a2"] + ["a3"] * 2
    assert [r["sentence_index"] for r in records] == [0, 1, 2, 3, 0, 0, 1]
    predictions = classifier.predict([r["text"] for r in records])
    for record, prediction in zip(records, predictions):
        assert list(record)[:8] == ["article_id", "sentence_index", "start", "end", "text", "label", "confidence",
                                    "probabilities"]
        assert by_id[record["article_id"]].text[record["start"]:record["end"]] == record["text"]
        assert list(record["probabilities"]) == list(LABEL_IDS)
        assert record["label"] == prediction.label and record["confidence"] == prediction.confidence
        assert record["probabilities"] == prediction.probabilities
        assert record["confidence"] == max(record["probabilities"].values())
        assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert records[0]["text"] == "Port strike talks stall"
    assert summary.articles == 3 and summary.sentences == 7
    assert sum(summary.labels.values()) == 7
    assert summary.labels == {label: sum(r["label"] == label for r in records) for label in LABEL_IDS
                              if any(r["label"] == label for r in records)}


def test_extra_fields_are_carried_through_and_never_overwrite_output_fields(classifier, tmp_path):
    out = tmp_path / "out.jsonl"
    score_stream(classifier, ARTICLES, out, progress=False)
    records = read_jsonl(out)
    assert records[0]["source"] == "wire" and records[0]["n"] == 1
    assert "source" not in records[4]
    assert records[5]["input_label"] == "x" and records[5]["label"] in LABEL_IDS


def test_no_split_scores_each_record_whole(classifier, tmp_path):
    out = tmp_path / "out.jsonl"
    score_stream(classifier, ARTICLES, out, split=False, progress=False)
    records = read_jsonl(out)
    assert [(r["article_id"], r["sentence_index"], r["start"], r["end"]) for r in records] == \
        [(a.id, 0, 0, len(a.text)) for a in ARTICLES]
    assert [r["text"] for r in records] == [a.text for a in ARTICLES]


def test_csv_has_a_header_and_the_same_values_as_jsonl(classifier, tmp_path):
    score_stream(classifier, ARTICLES, tmp_path / "out.jsonl", progress=False)
    score_stream(classifier, ARTICLES, tmp_path / "out.csv", fmt="csv", progress=False, chunk_sentences=3)
    expected = read_jsonl(tmp_path / "out.jsonl")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text(encoding="utf-8"))))
    assert list(rows[0]) == CSV_COLUMNS
    assert len(rows) == len(expected)
    for row, record in zip(rows, expected):
        assert row["article_id"] == record["article_id"] and row["text"] == record["text"]
        assert (int(row["start"]), int(row["end"]), row["label"]) == (record["start"], record["end"], record["label"])
        # Other chunks pad batches differently, which moves probabilities by float noise (seen: 1e-6 at 6 decimals).
        assert float(row["confidence"]) == pytest.approx(record["confidence"], abs=2e-6)
        assert [float(row[f"p_{label}"]) for label in LABEL_IDS] == \
            pytest.approx(list(record["probabilities"].values()), abs=2e-6)
    assert json.loads(rows[0]["extra"]) == {"source": "wire", "n": 1} and rows[4]["extra"] == ""


def test_output_appears_only_when_complete(classifier, tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("previous run\n")

    def failing():
        yield ARTICLES[0]
        raise RuntimeError("crawler died")

    with pytest.raises(RuntimeError):
        score_stream(classifier, failing(), out, progress=False, chunk_sentences=2)
    assert out.read_text() == "previous run\n"
    partial = tmp_path / "out.jsonl.partial"
    progress = json.loads((tmp_path / "out.jsonl.progress").read_text())
    assert progress["sentences"] == 4 and progress["bytes"] == partial.stat().st_size
    assert len(partial.read_text().splitlines()) == 4
    score_stream(classifier, ARTICLES, out, progress=False)
    assert not partial.exists() and not (tmp_path / "out.jsonl.progress").exists()
    assert len(read_jsonl(out)) == 7


class CrashAfter:
    """A classifier that dies on its n-th predict call, as a killed process would mid-run."""

    def __init__(self, classifier, calls: int):
        self.classifier, self.calls = classifier, calls

    def predict(self, texts, batch_size=32):
        self.calls -= 1
        if self.calls < 0:
            raise KeyboardInterrupt
        return self.classifier.predict(texts, batch_size)


@pytest.mark.parametrize("crash_after_chunks", [0, 1, 3])
def test_resume_after_a_crash_gives_the_uninterrupted_output(classifier, tmp_path, crash_after_chunks):
    articles = ARTICLES * 3
    score_stream(classifier, articles, tmp_path / "full.jsonl", progress=False, chunk_sentences=2)
    out = tmp_path / "out.jsonl"
    with pytest.raises(KeyboardInterrupt):
        score_stream(CrashAfter(classifier, crash_after_chunks), articles, out, progress=False, chunk_sentences=2)
    partial = tmp_path / "out.jsonl.partial"
    with open(partial, "ab") as handle:  # a chunk cut off mid-write by the kill
        handle.write(b'{"article_id": "a1", "sentence_in')
    summary = score_stream(classifier, articles, out, resume=True, progress=False, chunk_sentences=2)
    assert summary.resumed_from == 2 * crash_after_chunks
    assert summary.sentences == 21 - 2 * crash_after_chunks
    assert out.read_bytes() == (tmp_path / "full.jsonl").read_bytes()


def test_resume_of_csv_writes_the_header_once(classifier, tmp_path):
    score_stream(classifier, ARTICLES, tmp_path / "full.csv", fmt="csv", progress=False, chunk_sentences=2)
    out = tmp_path / "out.csv"
    with pytest.raises(KeyboardInterrupt):
        score_stream(CrashAfter(classifier, 2), ARTICLES, out, fmt="csv", progress=False, chunk_sentences=2)
    score_stream(classifier, ARTICLES, out, fmt="csv", resume=True, progress=False, chunk_sentences=2)
    assert out.read_bytes() == (tmp_path / "full.csv").read_bytes()


def test_resume_refuses_other_options_and_a_short_partial_file(classifier, tmp_path):
    out = tmp_path / "out.jsonl"
    with pytest.raises(KeyboardInterrupt):
        score_stream(CrashAfter(classifier, 1), ARTICLES, out, progress=False, chunk_sentences=2)
    with pytest.raises(ResumeError, match="other options"):
        score_stream(classifier, ARTICLES, out, fmt="csv", resume=True, progress=False)
    (tmp_path / "out.jsonl.partial").write_bytes(b"")
    with pytest.raises(ResumeError, match="shorter"):
        score_stream(classifier, ARTICLES, out, resume=True, progress=False)


def test_resume_without_leftovers_starts_over(classifier, tmp_path):
    out = tmp_path / "out.jsonl"
    summary = score_stream(classifier, ARTICLES, out, resume=True, progress=False)
    assert summary.resumed_from == 0 and len(read_jsonl(out)) == 7


# Bad input: (file name, bytes, the message of the skipped record)
BAD_INPUTS = [
    ("empty.txt", b"", "empty.txt: empty file"),
    ("blank.txt", b"  \n\t \n", "blank.txt: only whitespace"),
    ("no_text.jsonl", b'{"id": "x", "body": "hi"}\n', "no_text.jsonl:1: record has no 'text' field"),
    ("string.jsonl", b'\n"just a string"\n', "string.jsonl:2: expected a JSON object with 'text', got str"),
    ("not_json.jsonl", b'{"id": "ok", "text": "Fine."}\n{"id": "x", "text": "cut\n', "not_json.jsonl:2: not valid JSON"),
    ("array.jsonl", b'["a", "b"]\n', "array.jsonl:1: expected a JSON object with 'text', got list"),
    ("empty_text.jsonl", b'{"id": "x", "text": ""}\n', "empty_text.jsonl:1: 'text' is empty"),
    ("space_text.jsonl", b'{"id": "x", "text": " \\n "}\n', "space_text.jsonl:1: 'text' is only whitespace"),
]


@pytest.mark.parametrize("name,data,message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_records_are_skipped_with_file_and_line(tmp_path, name, data, message, caplog):
    path = tmp_path / name
    path.write_bytes(data)
    stats = ReadStats()
    with caplog.at_level(logging.WARNING):
        articles = list(read_articles([str(path)], "skip", stats))
    assert stats.skipped and stats.skipped[0].startswith(str(tmp_path / message.split(":")[0]))
    assert message.split(":", 1)[1] in stats.skipped[0]
    assert message.split(":", 1)[1] in caplog.text
    assert [a.text for a in articles] == (["Fine."] if name == "not_json.jsonl" else [])


@pytest.mark.parametrize("name,data,message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_records_fail_with_file_and_line(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputError) as failure:
        list(read_articles([str(path)], "fail"))
    assert str(failure.value).startswith(str(tmp_path / message.split(":")[0]))
    assert message.split(":", 1)[1] in str(failure.value)


def test_wrong_type_of_text_names_the_type(tmp_path):
    path = tmp_path / "types.jsonl"
    path.write_text('{"id": "a", "text": 42}\n{"id": "b", "text": ["x"]}\n{"id": "c", "text": null}\n')
    stats = ReadStats()
    assert list(read_articles([str(path)], "skip", stats)) == []
    assert stats.skipped == [f"{path}:1: 'text' must be a string, got int", f"{path}:2: 'text' must be a string, got list",
                             f"{path}:3: 'text' must be a string, got NoneType"]


def test_non_utf8_bytes_are_replaced_with_a_warning(tmp_path, caplog):
    (tmp_path / "latin1.txt").write_bytes("Caf\u00e9 owners said prices rose.".encode("latin-1"))
    (tmp_path / "mixed.jsonl").write_bytes(b'{"id": "m", "text": "Bad \xff byte here."}\n')
    stats = ReadStats()
    with caplog.at_level(logging.WARNING):
        articles = list(read_articles([str(tmp_path)], "fail", stats))
    assert [a.text for a in articles] == ["Caf\ufffd owners said prices rose.", "Bad \ufffd byte here."]
    assert stats.replaced == [f"{tmp_path / 'latin1.txt'}", f"{tmp_path / 'mixed.jsonl'}:1"]
    assert "not valid UTF-8" in caplog.text


def test_lone_surrogate_escapes_are_replaced_so_output_stays_utf8(classifier, tmp_path):
    path = tmp_path / "surrogate.jsonl"
    path.write_text('{"id": "s", "text": "Broken \\ud83d emoji. Next one."}\n')
    stats = ReadStats()
    out = tmp_path / "out.jsonl"
    score_stream(classifier, read_articles([str(path)], "skip", stats), out, progress=False)
    assert [r["text"] for r in read_jsonl(out)] == ["Broken \ufffd emoji.", "Next one."]
    assert stats.replaced == [f"{path}:1"]


def test_article_ids_default_to_file_name_and_line(tmp_path):
    (tmp_path / "story.txt").write_text("One sentence.")
    (tmp_path / "batch.jsonl").write_text('{"text": "No id."}\n{"id": 7, "text": "Numeric id."}\n')
    articles = list(read_articles([str(tmp_path)]))
    assert [(a.id, a.extra) for a in articles] == [(f"{tmp_path / 'batch.jsonl'}:1", {}), ("7", {}), ("story.txt", {})]


def test_inputs_are_checked_before_anything_is_read(tmp_path):
    (tmp_path / "ok.txt").write_text("Fine.")
    with pytest.raises(InputError, match="missing.txt: no such file or directory"):
        read_articles([str(tmp_path / "ok.txt"), str(tmp_path / "missing.txt")])
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(InputError, match="holds no .txt or .jsonl files"):
        resolve_inputs([str(tmp_path / "empty_dir")])
    with pytest.raises(InputError, match="is also the output file"):
        resolve_inputs([str(tmp_path / "ok.txt")], exclude=[tmp_path / "ok.txt"])


def test_directory_inputs_skip_the_output_file_and_hidden_files(tmp_path):
    (tmp_path / "a.txt").write_text("A.")
    (tmp_path / "scored.jsonl").write_text('{"text": "old output"}\n')
    (tmp_path / ".hidden.txt").write_text("Hidden.")
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "state.json").write_text("{}")
    assert resolve_inputs([str(tmp_path)], exclude=[tmp_path / "scored.jsonl"]) == [str(tmp_path / "a.txt")]


HTML = """<html><head><title>Ignored</title><style>p {color: red}</style></head><body>
<h1>Port strike talks stall</h1><p>Talks broke down on <b>Tuesday</b>, the port&nbsp;authority said.
Ships wait offshore.</p><script>document.write("<p>injected</p>")</script>
<ul><li>Prices rose</li><li>Jobs fell</li></ul><p>A &amp; B<br>said so.</p></body></html>"""


def test_strip_html_keeps_visible_text_and_paragraphs():
    text = strip_html(HTML)
    assert text == ("Port strike talks stall\n\nTalks broke down on Tuesday, the port\u00a0authority said. Ships wait "
                    "offshore.\n\nPrices rose\n\nJobs fell\n\nA & B\nsaid so.")


def test_strip_html_offsets_point_into_the_scored_text(classifier, tmp_path):
    from inference.html_text import strip_html_articles

    out = tmp_path / "out.jsonl"
    score_stream(classifier, strip_html_articles([Article("h", HTML)]), out, progress=False)
    records = read_jsonl(out)
    scored = strip_html(HTML)
    assert [r["text"] for r in records] == ["Port strike talks stall", "Talks broke down on Tuesday, the port\u00a0"
                                            "authority said.", "Ships wait offshore.", "Prices rose", "Jobs fell",
                                            "A & B\nsaid so."]
    assert all(scored[r["start"]:r["end"]] == r["text"] for r in records)
