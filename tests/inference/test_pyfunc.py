"""The registered pyfunc: load by alias, serve with `mlflow models serve`, and match Classifier.predict."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inference.labels import LABEL_IDS

pytestmark = pytest.mark.slow

MODEL_URI = "models:/sourcing-classifier@candidate"
SENTENCES = [
    "The ministry said in a statement that the bridge would reopen on Monday.",
    "Independent auditors confirmed the figures after reviewing the accounts.",
    "The company is reportedly preparing to cut 2,000 jobs.",
    "Analysts said the move could push prices higher next year.",
    "Dr. Lee, speaking for the U.S. agency, said no decision had been made.",
    "\u201cWe will not back down,\u201d the mayor said \u2014 and left.",
]
PROBABILITY_COLUMNS = [f"p_{label}" for label in LABEL_IDS]


@pytest.fixture(scope="module")
def reference(tiny_model):
    from inference.classifier import Classifier

    return Classifier.load(tiny_model.model_dir).predict(SENTENCES)


def assert_rows_match(rows: list[dict], reference) -> None:
    assert len(rows) == len(reference)
    for row, expected in zip(rows, reference):
        assert row["label"] == expected.label
        assert row["confidence"] == pytest.approx(expected.confidence, abs=2e-6)
        assert [row[c] for c in PROBABILITY_COLUMNS] == \
            pytest.approx([expected.probabilities[label] for label in LABEL_IDS], abs=2e-6)


def test_pyfunc_by_alias_matches_the_classifier(tiny_model, mlflow_store, reference):
    import mlflow
    import pandas as pd

    model = mlflow.pyfunc.load_model(MODEL_URI)
    frame = model.predict(pd.DataFrame({"text": SENTENCES}))
    assert list(frame.columns) == ["label", "confidence"] + PROBABILITY_COLUMNS
    assert_rows_match(frame.to_dict("records"), reference)
    assert frame[PROBABILITY_COLUMNS].sum(axis=1).tolist() == pytest.approx([1.0] * len(SENTENCES), abs=1e-5)


@pytest.mark.parametrize("as_input", [list, lambda s: {"text": s}], ids=["list", "dict-of-columns"])
def test_pyfunc_takes_a_list_of_strings_or_a_dict_of_columns(tiny_model, mlflow_store, reference, as_input):
    import mlflow

    model = mlflow.pyfunc.load_model(MODEL_URI)
    assert_rows_match(model.predict(as_input(SENTENCES)).to_dict("records"), reference)


def test_pyfunc_has_a_signature_and_an_input_example(tiny_model, mlflow_store):
    import mlflow

    info = mlflow.models.get_model_info(MODEL_URI)
    (column,) = info.signature.inputs.inputs
    assert column.type.name == "string" and column.name is None  # unnamed: lists, Series and any column name pass
    assert info.signature.outputs.input_names() == ["label", "confidence"] + PROBABILITY_COLUMNS
    assert info.saved_input_example_info is not None


def test_classifier_loads_the_registered_alias(tiny_model, mlflow_store, reference):
    from inference.classifier import Classifier

    by_alias = Classifier.load(MODEL_URI)
    assert by_alias.predict(SENTENCES) == reference
    assert by_alias.info["run_id"] == tiny_model.run_id


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served_model(tiny_model, mlflow_store, tmp_path_factory):
    """`mlflow models serve --env-manager local` on a free 127.0.0.1 port; stopped when the module ends."""
    import httpx

    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    bin_dir = Path(sys.executable).parent
    # The server execs `uvicorn` by name: the venv's bin must be on PATH even when pytest was started without it.
    env = {**os.environ, "SOURCING_THREADS": "1", "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            [str(bin_dir / "mlflow"), "models", "serve", "-m", MODEL_URI, "--env-manager", "local", "-h", "127.0.0.1",
             "-p", str(port), "-w", "1"],
            stdout=handle, stderr=subprocess.STDOUT, env=env,
            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"mlflow models serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow models serve not ready after 180 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        # The server runs uvicorn workers in its own session: stop the whole group it leads.
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.mark.parametrize("payload", [
    {"inputs": SENTENCES},
    {"dataframe_split": {"columns": ["text"], "data": [[s] for s in SENTENCES]}},
    {"dataframe_records": [{"text": s} for s in SENTENCES]},
], ids=["inputs-list", "dataframe_split", "dataframe_records"])
def test_mlflow_models_serve_answers_invocations(served_model, reference, payload):
    import httpx

    response = httpx.post(f"{served_model}/invocations", json=payload, timeout=60)
    assert response.status_code == 200, response.text
    assert_rows_match(response.json()["predictions"], reference)


def test_mlflow_models_serve_rejects_a_body_without_inputs(served_model):
    import httpx

    response = httpx.post(f"{served_model}/invocations", json={"sentences": SENTENCES}, timeout=60)
    assert response.status_code == 400
    assert "error_code" in response.json()
