"""Hard cases' runner-up labels: read from the note, carried in split files, and trained on as soft targets."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from training.evaluate import parts_of
from training.finetune import NO_RUNNER_UP, runner_up_term
from training.frozen_layers import collate_states
from training.labelled_data import DataError, Example, runner_up
from training.splits import build_splits, read_split, serialise

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.mark.parametrize("note, label, expected", [
    ("speaker role not shown; runner-up analyst_speculation", "unverified_assertion", "analyst_speculation"),
    ("monitor on its own operations; runner-up: independent_confirmation", "official_claim", "independent_confirmation"),
    ("fragment; runner-up exclude as headline", "unverified_assertion", ""),
    ('role not shown; Runner-up "Official_Claim"', "unverified_assertion", "official_claim"),
    ("quote, no speaker, feeling; runner-up unverified_assertion", "unverified_assertion", ""),  # relabelled since
    ("writer's interpretation", "analyst_speculation", ""),
    ("", "official_claim", ""),
])
def test_the_runner_up_is_the_other_label_the_note_names(note, label, expected):
    assert runner_up(note, label) == expected


def _example(note: str) -> Example:
    return Example("ntrex-1", "The plant will close.", "unverified_assertion", "corpus", "doc-1", "ntrex", "CC",
                   note)


def test_split_files_carry_a_runner_up_only_for_hard_cases_and_read_split_keeps_it(tmp_path: Path):
    path = tmp_path / "train.jsonl"
    path.write_bytes(serialise([_example("no speaker; runner-up analyst_speculation"), _example("plain narration")]))
    hard, plain = read_split(path)
    assert hard["runner_up"] == "analyst_speculation"
    assert "runner_up" not in plain
    assert "runner_up" not in json.loads(path.read_text().splitlines()[1])


def test_the_build_writes_the_runner_up_of_a_labelled_hard_case(tmp_path: Path):
    labels = tmp_path / "labels"
    labels.mkdir()
    for source in (FIXTURES / "labels_good").glob("*.jsonl"):
        rows = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
        for row in rows:
            if row.get("id") == "fx-auth-0":
                row["note"] = "federation speaks for itself; runner-up unverified_assertion"
        (labels / source.name).write_text("".join(json.dumps(row) + "\n" for row in rows))
    build_splits(labels, tmp_path / "splits", FIXTURES / "corpus")
    records = [r for name in ("train", "dev", "test") for r in read_split(tmp_path / "splits" / f"{name}.jsonl")]
    assert {r["id"]: r.get("runner_up") for r in records if r.get("runner_up")} == {"fx-auth-0": "unverified_assertion"}


@pytest.mark.parametrize("runner, message", [
    ("rumour", "train.jsonl:2: unknown runner_up label 'rumour'"),
    ("unverified_assertion", "train.jsonl:2: runner_up is the label itself ('unverified_assertion')"),
])
def test_a_bad_runner_up_in_a_split_file_names_the_line(tmp_path: Path, runner, message):
    path = tmp_path / "train.jsonl"
    good = _example("").record()
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "runner_up": runner}) + "\n")
    with pytest.raises(DataError, match=re.escape(message)):
        read_split(path)


def test_the_term_turns_weighted_cross_entropy_into_soft_targets_for_hard_cases_only():
    torch.manual_seed(0)
    logits = torch.randn(6, 4)
    labels = torch.tensor([0, 1, 2, 3, 2, 2])
    runner_ups = torch.tensor([NO_RUNNER_UP, 2, 3, NO_RUNNER_UP, 0, NO_RUNNER_UP])
    class_weights = torch.tensor([1.5, 3.0, 0.6, 1.0])
    weight = 0.2
    targets = torch.nn.functional.one_hot(labels, 4).float()
    for i, second in enumerate(runner_ups.tolist()):
        if second != NO_RUNNER_UP:
            targets[i, labels[i]], targets[i, second] = 1 - weight, weight
    scale = class_weights[labels]
    expected = (scale * -(targets * logits.log_softmax(-1)).sum(-1)).sum() / scale.sum()
    hard_only = torch.nn.CrossEntropyLoss(weight=class_weights)(logits, labels)
    assert torch.allclose(hard_only + runner_up_term(logits, labels, runner_ups, class_weights, weight), expected)
    none = torch.full_like(labels, NO_RUNNER_UP)
    assert runner_up_term(logits, labels, none, class_weights, weight) == 0


def test_with_label_smoothing_the_scaled_term_gives_smoothed_soft_targets():
    torch.manual_seed(1)
    logits, labels = torch.randn(5, 4), torch.tensor([0, 1, 2, 3, 2])
    runner_ups = torch.tensor([2, NO_RUNNER_UP, 3, 0, NO_RUNNER_UP])
    weight, smoothing = 0.3, 0.1
    soft = torch.nn.functional.one_hot(labels, 4).float()
    for i, second in enumerate(runner_ups.tolist()):
        if second != NO_RUNNER_UP:
            soft[i, labels[i]], soft[i, second] = 1 - weight, weight
    targets = (1 - smoothing) * soft + smoothing / 4
    expected = -(targets * logits.log_softmax(-1)).sum(-1).mean()
    smoothed = torch.nn.CrossEntropyLoss(label_smoothing=smoothing)(logits, labels)
    term = runner_up_term(logits, labels, runner_ups, torch.ones(4), weight * (1 - smoothing))
    assert torch.allclose(smoothed + term, expected)


def test_cached_batches_carry_runner_ups_when_the_items_do():
    states = [torch.zeros(3, 2), torch.zeros(5, 2)]
    batch = collate_states([(states[0], 1, NO_RUNNER_UP), (states[1], 2, 3)])
    assert batch["runner_up"].tolist() == [NO_RUNNER_UP, 3] and batch["hidden"].shape == (2, 5, 2)
    assert "runner_up" not in collate_states([(states[0], 1), (states[1], 2)])


def test_runs_score_hard_cases_and_clear_ones_apart():
    import numpy as np

    from training.trainer import _evaluate_split

    records = [{"label": "official_claim", "origin": "corpus", "runner_up": "unverified_assertion"},
               {"label": "unverified_assertion", "origin": "corpus"},
               {"label": "analyst_speculation", "origin": "authored"}]
    predicted = np.eye(4)[[2, 2, 3]]  # the hard case wrong, the clear ones right
    metrics = _evaluate_split("test", records, predicted)
    assert metrics["test_hard_n"] == 1 and metrics["test_hard_accuracy"] == 0
    assert metrics["test_clear_n"] == 2 and metrics["test_clear_accuracy"] == 1
    assert metrics["test_real_n"] == 2 and metrics["test_authored_n"] == 1


def test_splits_without_any_runner_up_have_no_hard_or_clear_part():
    records = [{"label": "official_claim", "origin": "corpus"}, {"label": "unverified_assertion", "origin": "authored"}]
    assert set(parts_of(records)) == {"real", "authored"}
    assert set(parts_of([{**records[0], "runner_up": "unverified_assertion"}, records[1]])) == {
        "real", "authored", "hard", "clear"}
