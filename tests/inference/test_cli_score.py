"""`sourcing score` end to end: every input form, formats, the summary, bad input, and resume after SIGKILL."""
from __future__ import annotations

import csv
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inference.labels import LABEL_IDS
from inference.paths import DATA_DIR
from training.cli import main

SOURCING = Path(sys.executable).with_name("sourcing")
EXAMPLE = DATA_DIR / "examples" / "example_article.txt"
AUTHORED = DATA_DIR / "labels" / "authored_starter.jsonl"


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny model, loaded machine: one torch thread is faster, and the session's setting is restored after."""
    import torch

    threads = torch.get_num_threads()
    os.environ["SOURCING_THREADS"] = "1"
    yield
    os.environ.pop("SOURCING_THREADS", None)
    torch.set_num_threads(threads)


@pytest.fixture
def score(random_model_dir, capsysbinary, monkeypatch):
    """Run `sourcing score ... --model <random model>` in-process; returns (exit code, stdout bytes, stderr text)."""
    # The malloc tuning is process-wide: keep it out of the test session (the subprocess tests run it).
    monkeypatch.setattr("inference.cli._return_large_buffers", lambda: None)

    def run(*args: str, model: str | None = None) -> tuple[int, bytes, str]:
        code = main(["score", *args, "--model", model or str(random_model_dir)])
        out, err = capsysbinary.readouterr()
        return code, out, err.decode("utf-8")

    return run


def jsonl(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def summary_counts(err: str) -> tuple[int, int, dict[str, int]]:
    scored = next(line for line in err.splitlines() if line.startswith("scored "))
    labels = next(line for line in err.splitlines() if line.startswith("labels: "))
    articles, sentences = int(scored.split()[1]), int(scored.split()[3])
    counts = {part.rsplit(" ", 1)[0]: int(part.rsplit(" ", 1)[1]) for part in labels[len("labels: "):].split(", ")}
    return articles, sentences, counts


def test_text_file_to_stdout_with_offsets_and_summary(score):
    code, out, err = score(str(EXAMPLE))
    assert code == 0
    records = jsonl(out)
    text = EXAMPLE.read_text(encoding="utf-8")
    assert len(records) == 11
    assert {r["article_id"] for r in records} == {"example_article.txt"}
    assert [r["sentence_index"] for r in records] == list(range(11))
    assert all(text[r["start"]:r["end"]] == r["text"] for r in records)
    assert records[0]["text"] == "Port strike talks stall as shipping backlog grows"
    assert set(records[0]) == {"article_id", "sentence_index", "start", "end", "text", "label", "confidence",
                               "probabilities"}
    articles, sentences, counts = summary_counts(err)
    assert (articles, sentences) == (1, 11)
    assert counts == {label: sum(r["label"] == label for r in records) for label in LABEL_IDS}
    assert "sentences/s" in err


def test_jsonl_carries_extra_fields_and_ids(score, tmp_path):
    path = tmp_path / "batch.jsonl"
    path.write_text(json.dumps({"id": "n1", "text": "The ministry said it won. Nobody could verify that.",
                                "url": "https://example.org/n1", "tags": ["a", "b"]}) + "\n" +
                    json.dumps({"id": "n2", "text": "Analysts expect a rebound."}) + "\n", encoding="utf-8")
    code, out, _ = score(str(path))
    records = jsonl(out)
    assert code == 0
    assert [(r["article_id"], r["sentence_index"]) for r in records] == [("n1", 0), ("n1", 1), ("n2", 0)]
    assert records[0]["url"] == "https://example.org/n1" and records[1]["tags"] == ["a", "b"]
    assert "url" not in records[2]


def test_directory_of_text_and_jsonl_files(score, tmp_path):
    (tmp_path / "b.txt").write_text("Second file. Two sentences.")
    (tmp_path / "a.jsonl").write_text('{"id": "j", "text": "From JSONL."}\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.txt").write_text("Nested file.")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    code, out, err = score(str(tmp_path))
    assert code == 0
    assert [(r["article_id"], r["text"]) for r in jsonl(out)] == [
        ("j", "From JSONL."), ("b.txt", "Second file."), ("b.txt", "Two sentences."), ("c.txt", "Nested file.")]
    assert summary_counts(err)[:2] == (3, 4)


@pytest.mark.parametrize("data,expected", [
    (b"Talks stalled. Ships wait.", [("stdin", "Talks stalled."), ("stdin", "Ships wait.")]),
    (b'\n{"id": "s1", "text": "From a pipe."}\n{"id": "s2", "text": "Second record."}\n',
     [("s1", "From a pipe."), ("s2", "Second record.")]),
], ids=["text", "jsonl"])
def test_stdin_text_or_jsonl(score, monkeypatch, data, expected):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data))))
    code, out, _ = score("-")
    assert code == 0
    assert [(r["article_id"], r["text"]) for r in jsonl(out)] == expected


def test_no_split_scores_each_record_as_one_sentence(score, tmp_path):
    path = tmp_path / "sentences.jsonl"
    path.write_text('{"id": "1", "text": "  One. Two.  "}\n{"id": "2", "text": "Three"}\n')
    code, out, _ = score(str(path), "--no-split")
    assert code == 0
    assert [(r["article_id"], r["sentence_index"], r["start"], r["end"], r["text"]) for r in jsonl(out)] == \
        [("1", 0, 0, 13, "  One. Two.  "), ("2", 0, 0, 5, "Three")]


def test_csv_to_output_file_matches_jsonl(score, tmp_path):
    out_csv = tmp_path / "scored.csv"
    code, out, err = score(str(EXAMPLE), "--format", "csv", "-o", str(out_csv))
    assert code == 0 and out == b"" and "scored 1 article(s), 11 sentence(s)" in err
    _, reference, _ = score(str(EXAMPLE))
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text(encoding="utf-8"))))
    records = jsonl(reference)
    assert [(r["text"], r["label"], float(r["confidence"])) for r in rows] == \
        [(r["text"], r["label"], r["confidence"]) for r in records]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scored.csv"]


def test_output_file_equals_stdout_and_leaves_no_sidecars(score, tmp_path):
    out_file = tmp_path / "deep" / "scored.jsonl"
    code, out, _ = score(str(EXAMPLE), "-o", str(out_file))
    assert code == 0 and out == b""
    _, reference, _ = score(str(EXAMPLE))
    assert out_file.read_bytes() == reference
    assert [p.name for p in out_file.parent.iterdir()] == ["scored.jsonl"]


def test_strip_html_scores_visible_text(score, tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<html><head><script>alert('x')</script></head><body><h1>Strike ends</h1>"
                    "<p>The union <b>said</b> talks resumed. Ships left.</p></body></html>")
    code, out, _ = score(str(page), "--strip-html")
    assert code == 0
    assert [r["text"] for r in jsonl(out)] == ["Strike ends", "The union said talks resumed.", "Ships left."]
    code, out, _ = score(str(page))
    assert any("<p>" in r["text"] for r in jsonl(out))


# Bad input: what each gets from `sourcing score` (default --on-error skip).
def test_empty_and_whitespace_files_are_skipped_and_counted(score, tmp_path, caplog):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_bytes(b" \n\t\n")
    (tmp_path / "good.txt").write_text("Real news.")
    code, out, err = score(str(tmp_path))
    assert code == 0
    assert [r["article_id"] for r in jsonl(out)] == ["good.txt"]
    assert "skipped 2 bad record(s)" in err
    assert "empty.txt: empty file" in caplog.text and "blank.txt: only whitespace" in caplog.text


def test_bad_jsonl_lines_are_skipped_with_file_and_line(score, tmp_path, caplog):
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"id": "a", "text": "Good one."}\n{"id": "b"}\n{"id": "c", "text": 3}\nnot json\n'
                    '{"id": "d", "text": "Good two."}\n')
    code, out, err = score(str(path))
    assert code == 0
    assert [r["article_id"] for r in jsonl(out)] == ["a", "d"]
    assert "skipped 3 bad record(s)" in err
    for line, message in ((2, "record has no 'text' field"), (3, "'text' must be a string, got int"),
                          (4, "not valid JSON")):
        assert f"{path}:{line}: {message}" in caplog.text


def test_on_error_fail_exits_2_naming_file_and_line_and_writes_no_output(score, tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"id": "a", "text": "Good one."}\n{"id": "b", "text": "cut off\n')
    out_file = tmp_path / "scored.jsonl"
    code, out, err = score(str(path), "--on-error", "fail", "-o", str(out_file))
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(f"sourcing: error: {path}:2: not valid JSON")
    assert not out_file.exists()


def test_fix_the_bad_line_and_resume_completes_the_run(score, tmp_path):
    path = tmp_path / "feed.jsonl"
    good = '{"id": "a", "text": "One. Two."}\n{"id": "b", "text": "Three."}\n'
    path.write_text(good + '{"id": "c", "text": null}\n{"id": "d", "text": "Four."}\n')
    out_file = tmp_path / "scored.jsonl"
    options = ["-o", str(out_file), "--on-error", "fail", "--chunk-sentences", "1"]
    code, _, err = score(str(path), *options)
    assert code == 2 and f"{path}:3: 'text' must be a string, got NoneType" in err and "--resume" in err
    assert len((tmp_path / "scored.jsonl.partial").read_text().splitlines()) == 3
    code, _, err = score(str(path), *options, "--resume", "--batch-size", "8")
    assert code == 2 and "other options" in err
    path.write_text(good + '{"id": "c", "text": "Fixed."}\n{"id": "d", "text": "Four."}\n')
    code, _, err = score(str(path), *options, "--resume")
    assert code == 0 and "resumed after 3 already written" in err
    _, reference, _ = score(str(path), "--chunk-sentences", "1")
    assert out_file.read_bytes() == reference
    assert not (tmp_path / "scored.jsonl.partial").exists() and not (tmp_path / "scored.jsonl.progress").exists()


def test_non_utf8_bytes_are_replaced_with_a_warning(score, tmp_path, caplog):
    path = tmp_path / "latin1.txt"
    path.write_bytes("Caf\u00e9 owners said prices rose.".encode("latin-1"))
    code, out, err = score(str(path))
    assert code == 0
    assert [r["text"] for r in jsonl(out)] == ["Caf\ufffd owners said prices rose."]
    assert "not valid UTF-8" in caplog.text and "replaced undecodable characters" in err


@pytest.mark.parametrize("model,message", [
    ("{tmp}/no-such-model", "model directory {tmp}/no-such-model does not exist"),
    ("{tmp}/half-model", "model directory {tmp}/half-model is missing tokenizer.json, model.safetensors"),
], ids=["missing", "incomplete"])
def test_bad_model_path_is_a_one_line_error_and_touches_no_output(score, tmp_path, model, message):
    (tmp_path / "half-model").mkdir()
    (tmp_path / "half-model" / "config.json").write_text("{}")
    out_file = tmp_path / "scored.jsonl"
    out_file.write_text("earlier results\n")
    code, out, err = score(str(EXAMPLE), "-o", str(out_file), model=model.format(tmp=tmp_path))
    assert code == 2 and out == b""
    assert err.startswith("sourcing: error: " + message.format(tmp=tmp_path))
    assert len(err.strip().splitlines()) == 1
    assert out_file.read_text() == "earlier results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["half-model", "scored.jsonl"]


def test_missing_input_exits_2_before_touching_output(score, tmp_path):
    out_file = tmp_path / "scored.jsonl"
    out_file.write_text("earlier results\n")
    code, _, err = score(str(EXAMPLE), str(tmp_path / "nope.txt"), "-o", str(out_file))
    assert code == 2 and err.strip() == f"sourcing: error: {tmp_path / 'nope.txt'}: no such file or directory"
    assert out_file.read_text() == "earlier results\n" and not (tmp_path / "scored.jsonl.partial").exists()


@pytest.mark.parametrize("args,message", [
    (["--resume"], "--resume needs -o OUTPUT"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["-o", "{tmp}"], "is a directory"),
])
def test_usage_errors_exit_2(score, tmp_path, args, message):
    code, _, err = score(str(EXAMPLE), *[a.format(tmp=tmp_path) for a in args])
    assert code == 2 and message in err


def test_installed_command_reads_stdin_and_reports_errors(random_model_dir):
    """The real `sourcing` entry point: a pipe in, JSONL out; a bad model path is exit code 2 with no traceback."""
    env = {**os.environ, "SOURCING_THREADS": "1"}
    done = subprocess.run([str(SOURCING), "score", "-", "--model", str(random_model_dir)], input=b"One. Two.",
                          capture_output=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert [r["text"] for r in jsonl(done.stdout)] == ["One.", "Two."]
    assert "scored 1 article(s), 2 sentence(s)" in done.stderr.decode()
    done = subprocess.run([str(SOURCING), "score", str(EXAMPLE), "--model", "/nonexistent/model"],
                          capture_output=True, env=env, timeout=120)
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.decode().strip() == "sourcing: error: model directory /nonexistent/model does not exist."


def write_archive(path: Path, articles: int = 150, per_article: int = 20) -> int:
    """A JSONL archive of `articles` articles made of authored sentences; returns the sentence count."""
    sentences = [json.loads(line)["text"] for line in AUTHORED.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(5)
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(articles):
            handle.write(json.dumps({"id": f"art-{i:04d}", "text": " ".join(rng.sample(sentences, per_article)),
                                     "batch": i // 50}) + "\n")
    return articles * per_article


def run_until_killed(args: list[str], progress: Path, at_least: int, env: dict) -> int:
    """Start `sourcing score`, SIGKILL it once the progress file shows `at_least` committed sentences."""
    process = subprocess.Popen([str(SOURCING), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    committed = 0
    try:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                committed = json.loads(progress.read_text())["sentences"]
            except (FileNotFoundError, ValueError, KeyError):
                committed = 0
            if committed >= at_least:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
    finally:
        if process.poll() is None and committed < at_least:
            process.kill()
        process.wait(timeout=30)
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    return committed


def test_resume_after_sigkill_at_random_points_equals_an_uninterrupted_run(random_model_dir, tmp_path, monkeypatch,
                                                                         capsys):
    archive = tmp_path / "archive.jsonl"
    write_archive(archive)
    options = ["--model", str(random_model_dir), "--batch-size", "4", "--chunk-sentences", "16"]
    reference = tmp_path / "reference.jsonl"
    monkeypatch.setattr("inference.cli._return_large_buffers", lambda: None)
    assert main(["score", str(archive), "-o", str(reference), *options]) == 0
    total = len(reference.read_text(encoding="utf-8").splitlines())
    assert total > 2500

    out = tmp_path / "out.jsonl"
    progress = out.with_name("out.jsonl.progress")
    env = {**os.environ, "SOURCING_THREADS": "1"}
    seed = random.randrange(1 << 30)
    kill_points = sorted(random.Random(seed).sample(range(1, total - 200), 3))
    committed = []
    for i, point in enumerate(kill_points):
        resume = ["--resume"] if i else []
        committed.append(run_until_killed(["score", str(archive), "-o", str(out), *options, *resume], progress,
                                          point, env))
        assert not out.exists()
    done = subprocess.run([str(SOURCING), "score", str(archive), "-o", str(out), *options, "--resume"],
                          env=env, capture_output=True, timeout=300)
    where = f"kill points {kill_points} (seed {seed}), committed {committed}"
    assert done.returncode == 0, done.stderr.decode()
    assert f"resumed after {committed[-1]} already written" in done.stderr.decode(), where
    assert out.read_bytes().splitlines() == reference.read_bytes().splitlines(), where
    assert out.read_bytes() == reference.read_bytes(), where
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.jsonl", "out.jsonl", "reference.jsonl"]
