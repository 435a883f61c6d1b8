"""Fuzz the real server from its own OpenAPI description (schemathesis): every operation, valid and invalid input.

For requests generated for every operation in /openapi.json: no 5xx, no stack trace in any body, status codes,
content types and bodies as the schema declares them; on a server with a token, no write without it.
"""
from __future__ import annotations

from typing import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_schema_conformance, status_code_conformance)

from inference.server import create_app, running

pytestmark = pytest.mark.slow
TOKEN = "fuzz-token-0123456789-abcdef"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
OPERATIONS = {"POST /v1/classify", "GET /health", "POST /v1/feedback", "GET /v1/feedback"}
# Per operation and generation mode; derandomized so a failure reproduces, no example database in the tree.
FUZZ_SETTINGS = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(HealthCheck))
MIN_REQUESTS = 30
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


def no_stack_trace(ctx, response, case) -> bool:
    """A schemathesis check: no body shows a traceback or a Python source location, whatever the status.

    A marker the request itself carried is allowed back: classify echoes the sentences it was sent.
    """
    body = response.text or ""
    request_body = response.request.body or b""
    sent = response.request.url + (request_body.decode("utf-8", "replace") if isinstance(request_body, bytes)
                                   else request_body)
    for marker in ("Traceback", 'File "'):
        assert marker not in body or marker in sent, f"{marker!r} in a {response.status_code} body"
    return True


def fuzz_every_operation(schema, mode: GenerationMode, check: Callable, subtests) -> dict[str, int]:
    """Run `check(case)` on generated cases for each operation of `schema`; returns requests checked per operation.

    Plain `@given` over each operation's strategy: schemathesis' own pytest integration (`from_fixture`) sets
    `node._nodeid`, which pytest 9 no longer has.
    """
    checked: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()) and not len(operation.body):
            continue  # nothing to make invalid (GET /health takes no input)
        checked[label] = 0

        @FUZZ_SETTINGS
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case):
            check(case)
            checked[label] += 1

        with subtests.test(msg=f"{label} ({mode.value})"):
            run()
    return checked


def assert_fuzzed(checked: dict[str, int], mode: GenerationMode) -> None:
    """Every operation of the schema was fuzzed, each with inputs to vary getting many distinct requests."""
    expected = OPERATIONS - {"GET /health"} if mode is GenerationMode.NEGATIVE else OPERATIONS
    assert set(checked) == expected
    assert all(n >= MIN_REQUESTS for label, n in checked.items() if label != "GET /health"), checked


@pytest.fixture(scope="module")
def classifier(random_model_dir):
    from inference.classifier import Classifier

    return Classifier.load(random_model_dir, backend="torch")


def load_schema(url: str, *, with_token: bool) -> schemathesis.BaseSchema:
    """The server's own /openapi.json; invalid input must get 422 (or 413 when too large), nothing else."""
    config = schemathesis.Config.from_dict({
        "checks": {"negative_data_rejection": {"expected-statuses": [413, 422]}},
        # Without a token the declared bearer scheme is not enforced: generate no Authorization header then.
        "generation": {"with-security-parameters": with_token},
    })
    return schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)


@pytest.fixture(scope="module")
def open_api(classifier, tmp_path_factory):
    """The real app on a loopback port without a token: every operation, writes included, is open."""
    with running(create_app(classifier, tmp_path_factory.mktemp("fuzz-feedback"), max_sentences=32)) as url:
        yield load_schema(url, with_token=False)


@pytest.fixture(scope="module")
def locked_api(classifier, tmp_path_factory):
    """The real app with a token, as `sourcing serve` runs beyond loopback."""
    feedback_dir = tmp_path_factory.mktemp("fuzz-feedback-locked")
    with running(create_app(classifier, feedback_dir, token=TOKEN, max_sentences=32)) as url:
        yield load_schema(url, with_token=True)


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.value)
def test_generated_requests_get_no_5xx_no_trace_and_answers_as_declared(open_api, mode, subtests):
    def check(case):
        case.call_and_validate(checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                       response_schema_conformance, negative_data_rejection, no_stack_trace])

    assert_fuzzed(fuzz_every_operation(open_api, mode, check, subtests), mode)


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.value)
def test_without_the_token_writes_get_401_and_reads_stay_open(locked_api, mode, subtests):
    def check(case):
        case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        response = case.call()
        no_stack_trace(None, response, case)
        assert response.status_code < 500
        if case.method.upper() in WRITE_METHODS and case.operation.definition.raw.get("security"):
            assert response.status_code in (401, 403), (response.status_code, response.text[:200])
        else:
            assert response.status_code not in (401, 403), (response.status_code, response.text[:200])

    assert_fuzzed(fuzz_every_operation(locked_api, mode, check, subtests), mode)


def test_the_schema_declares_the_token_on_exactly_the_endpoints_that_write(locked_api):
    secured = {f"{op.method.upper()} {op.path}" for op in (r.ok() for r in locked_api.get_all_operations())
               if op.definition.raw.get("security")}
    assert secured == {"POST /v1/feedback"}
