"""Label Studio round trip: suggestions out as tasks, annotations back as gold records, nothing lost or invented."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from inference.labels import LABEL_IDS
from training.label_studio import from_export, label_config, to_tasks, write_gold
from training.labelled_data import DataError, load_corpus, read_labels
from training.suggest import labelled_data, read_pool, suggest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CORPUS = FIXTURES / "corpus"
AUTHORED_POOL = {"id": "pool-auth-1", "doc_id": "authored:pool-auth-1", "origin": "authored",
                 "text": "  Zoë's \"clinic\" | said—reportedly—that 3½ beds were free.\tNo one checked. "}


@pytest.fixture()
def workspace(tmp_path):
    """A labels folder with only the authored fixture labels, so the fixture corpus is unlabelled."""
    labels = tmp_path / "labels"
    labels.mkdir()
    shutil.copy(FIXTURES / "labels_good" / "authored.jsonl", labels / "authored.jsonl")
    pool = tmp_path / "pool.jsonl"
    pool.write_text((CORPUS / "fixture.jsonl").read_text() + json.dumps(AUTHORED_POOL) + "\n")
    return labels, pool


def annotate(tasks: list[dict]) -> tuple[list[dict], dict[str, tuple[str, str]]]:
    """What Label Studio exports after annotators worked: ids, annotations (one cancelled), some tasks untouched."""
    exported, expected = [], {}
    for number, task in enumerate(json.loads(json.dumps(tasks)), start=1):
        task = {"id": 1000 + number, **task, "created_at": "2026-11-25T10:00:00Z"}
        key = task["data"]["sentence_id"]
        if number % 5 == 0:
            task["annotations"] = []
        else:
            label = LABEL_IDS[number % len(LABEL_IDS)]
            note = "" if number % 3 else f"hard case #{number}: rule 4 — runner-up \"{LABEL_IDS[0]}\" | ünïcode"
            result = [{"id": f"r{number}", "from_name": "label", "to_name": "text", "type": "choices",
                       "value": {"choices": [label]}, "origin": "manual"}]
            if note:
                result.append({"id": f"n{number}", "from_name": "note", "to_name": "text", "type": "textarea",
                               "value": {"text": [note]}})
            task["annotations"] = [{"id": number, "completed_by": 1, "was_cancelled": False, "result": result}]
            if number % 4 == 0:
                task["annotations"].insert(0, {"id": -number, "was_cancelled": True, "result": [
                    {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["bogus"]}}]})
            expected[key] = (label, note)
        exported.append(task)
    return exported, expected


def test_round_trip_is_lossless(workspace, tmp_path, hash_scorer):
    labels, pool_file = workspace
    corpus = load_corpus(CORPUS)
    pool, _ = read_pool([pool_file], corpus)
    picked = suggest(hash_scorer, pool, labelled_data(labels, CORPUS), n=100)
    assert len(picked) == 29  # 28 corpus sentences and the authored one
    tasks = to_tasks(picked)
    for task, s in zip(tasks, picked):
        prediction = task["predictions"][0]
        assert prediction["result"][0]["value"]["choices"] == [s.model_label]
        assert prediction["score"] == pytest.approx(s.model_confidence, abs=1e-6)
    export, expected = annotate(tasks)
    export_file = tmp_path / "export.json"
    export_file.write_text(json.dumps(export, ensure_ascii=False))
    records, unannotated = from_export(json.loads(export_file.read_text()), CORPUS, labels)
    assert unannotated == 29 - len(expected)
    assert {r.get("ref", r.get("id")): (r["label"], r["note"]) for r in records} == expected
    for record in records:
        if "ref" in record:
            assert set(record) == {"ref", "label", "note"}  # corpus text is never copied
        else:
            assert record == {"id": "pool-auth-1", "text": AUTHORED_POOL["text"].strip(), "label": record["label"],
                              "origin": "authored", "note": record["note"]}
    write_gold(records, labels / "round1.jsonl")
    examples = {e.id: e for e in read_labels(labels, CORPUS)}
    for key, (label, note) in expected.items():
        assert (examples[key].label, examples[key].note) == (label, note)
        task_text = next(t["data"]["text"] for t in tasks if t["data"]["sentence_id"] == key)
        assert examples[key].text == task_text


def _export(data: dict, *choices: list[str]) -> list[dict]:
    return [{"id": 1, "data": data, "annotations": [
        {"result": [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": c}}]}
        for c in choices]}]


@pytest.mark.parametrize("export, problem", [
    (_export({"text": "The harbour authority said the new quay would open in June.", "ref": "fx-0001"},
             ["rumour"]), "expected one of"),
    (_export({"text": "The harbour authority said the new quay would open in June.", "ref": "fx-0001"},
             ["official_claim"], ["unverified_assertion"]), "annotators disagree"),
    (_export({"text": "The harbour authority said the new quay would open in July.", "ref": "fx-0001"},
             ["official_claim"]), "differs from the corpus"),
    (_export({"text": "x", "ref": "fx-9999"}, ["official_claim"]), "not in"),
    (_export({"text": "The federation said the final would be moved.", "sentence_id": "fx-auth-0",
              "origin": "authored"}, ["official_claim"]), "labelled already"),
    (_export({"text": "Scraped from somewhere.", "sentence_id": "web-1", "origin": "pool"}, ["official_claim"]),
     "neither a corpus reference nor authored"),
])
def test_import_rejects_bad_annotations(workspace, export, problem):
    labels, _ = workspace
    with pytest.raises(DataError) as error:
        from_export(export, CORPUS, labels)
    assert problem in str(error.value)


def test_import_command_writes_once(workspace, tmp_path):
    from training.cli import main

    labels, _ = workspace
    export = tmp_path / "export.json"
    export.write_text(json.dumps(_export({"text": "The bridge opened in 1998.", "ref": "fx-0011"},
                                         ["unverified_assertion"])))
    out = labels / "round1.jsonl"
    args = ["data", "import-labelstudio", str(export), "-o", str(out), "--labels-dir", str(labels),
            "--corpus-dir", str(CORPUS)]
    assert main(args) == 0
    assert [json.loads(l) for l in out.read_text().splitlines()] == \
        [{"ref": "fx-0011", "label": "unverified_assertion", "note": ""}]
    assert main(args) == 2  # exists: no silent overwrite
    assert main(args + ["--force"]) == 0  # its own ids do not count as labelled already


def test_label_config_names_every_label():
    config = label_config()
    assert all(f'value="{label}"' in config for label in LABEL_IDS)
    assert 'name="label"' in config and 'name="note"' in config and 'value="$text"' in config
