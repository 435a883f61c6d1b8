"""The HTTP API and the feedback store: fast tests with a stand-in classifier, slow ones on the real server."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from inference.feedback_store import FeedbackStore, safe_name
from inference.labels import LABEL_IDS
from inference.paths import PROJECT_ROOT
from inference.server import (CONTENT_SECURITY_POLICY, STATIC_DIR, TOKEN_ENV, Batcher, ServerConfigError,
                              bind_socket, check_access, create_app, running)

TOKEN = "test-token-0123456789-abcdef"
EXAMPLE = PROJECT_ROOT / "data" / "examples" / "example_article.txt"


class StandIn:
    """A classifier stand-in: probabilities from the text length, every call recorded."""

    version = "stand-in-1"
    info = {"data_version": "test"}

    def __init__(self, delay: float = 0.0, fail: bool = False):
        self.calls: list[int] = []
        self.delay = delay
        self.fail = fail

    def predict_proba(self, texts, batch_size=32):
        self.calls.append(len(texts))
        if self.fail:
            raise RuntimeError("secret internal detail")
        time.sleep(self.delay)
        out = np.full((len(texts), len(LABEL_IDS)), 0.1, dtype=np.float32)
        for i, text in enumerate(texts):
            out[i, len(text) % len(LABEL_IDS)] = 0.7
        return out


def feedback(article_id="a1", text="The ministry said the bridge was hit.", **overrides) -> dict:
    record = {"article_id": article_id, "text": text, "sentence_index": 0, "start": 0, "end": len(text),
              "model_label": "official_claim", "model_confidence": 0.7, "model_version": "v1",
              "reviewer_label": "unverified_assertion"}
    return {**record, **overrides}


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(StandIn(), tmp_path / "feedback", max_body_bytes=4096, max_sentences=8)) as c:
        yield c


@pytest.fixture
def locked(tmp_path):
    with TestClient(create_app(StandIn(), tmp_path / "feedback", token=TOKEN)) as c:
        yield c


# ---------------------------------------------------------------- feedback store

@pytest.mark.parametrize("article_id", ["../../etc/passwd", "/etc/passwd", "a/../../b", "..", ".", "",
                                        "C:\\Windows\\win.ini", "nul\x00byte", "\u00fcn\u00efcode \u201cid\u201d",
                                        "x" * 5000, "con", "-rf"])
def test_article_ids_never_become_paths_outside_the_feedback_dir(tmp_path, article_id):
    store = FeedbackStore(tmp_path / "feedback")
    path = store.path_for(article_id)
    assert path.parent == tmp_path / "feedback"
    assert path.name.endswith(".jsonl") and len(path.name) < 100
    assert set(path.stem) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
    store.append(feedback(article_id))
    assert [r["article_id"] for r in store.read(article_id)] == [article_id]
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [path.name]


def test_distinct_ids_with_the_same_slug_get_distinct_files():
    assert safe_name("a/b") != safe_name("a_b") != safe_name("a b")


def test_a_torn_last_line_does_not_swallow_the_next_record(tmp_path):
    store = FeedbackStore(tmp_path)
    store.append(feedback(text="First."))
    with open(store.path_for("a1"), "ab") as handle:
        handle.write(b'{"article_id": "a1", "text": "Torn')
    store.append(feedback(text="Third."))
    assert [r["text"] for r in store.read("a1")] == ["First.", "Third."]


def test_a_writer_killed_mid_stream_leaves_every_complete_record_readable(tmp_path):
    code = ("import sys; from inference.feedback_store import FeedbackStore\n"
            "store = FeedbackStore(sys.argv[1])\n"
            "i = 0\n"
            "while True:\n"
            "    store.append({'article_id': 'a1', 'text': f'Sentence {i}. ' + 'x' * 3000, 'n': i}); i += 1\n")
    writer = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=PROJECT_ROOT)
    path = FeedbackStore(tmp_path).path_for("a1")
    deadline = time.monotonic() + 20
    while (not path.exists() or path.stat().st_size < 50_000) and time.monotonic() < deadline:
        time.sleep(0.01)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    lines = path.read_bytes().split(b"\n")
    complete = [json.loads(line) for line in lines[:-1]]
    assert len(complete) >= 10
    assert [r["n"] for r in FeedbackStore(tmp_path).read("a1")] == list(range(len(complete)))


def test_a_symlink_in_the_feedback_dir_is_not_followed(tmp_path):
    store = FeedbackStore(tmp_path / "feedback")
    (tmp_path / "feedback").mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("keep\n")
    store.path_for("a1").symlink_to(outside)
    with pytest.raises(OSError):
        store.append(feedback())
    with pytest.raises(OSError):
        store.read("a1")
    assert outside.read_text() == "keep\n"


# ---------------------------------------------------------------- API with a stand-in classifier

def test_classify_text_gives_the_cli_records_with_offsets_into_the_text(client):
    text = "The ministry said the bridge was hit. Analysts suggest more strikes may follow."
    body = client.post("/v1/classify", json={"text": text, "article_id": "a1"}).json()
    records = body["records"]
    assert body["model_version"] == "stand-in-1"
    assert [r["sentence_index"] for r in records] == [0, 1]
    assert all(text[r["start"]:r["end"]] == r["text"] for r in records)
    assert set(records[0]) == {"article_id", "sentence_index", "start", "end", "text", "label", "confidence",
                               "probabilities"}
    assert records[0]["article_id"] == "a1"
    assert records[0]["label"] == LABEL_IDS[len(records[0]["text"]) % 4]
    assert records[0]["confidence"] == pytest.approx(0.7)
    assert list(records[0]["probabilities"]) == list(LABEL_IDS)


def test_classify_sentences_keeps_each_sentence_whole(client):
    sentences = ["One. Two.", "Three"]
    records = client.post("/v1/classify", json={"sentences": sentences}).json()["records"]
    assert [(r["text"], r["start"], r["end"], r["sentence_index"]) for r in records] == [
        ("One. Two.", 0, 9, 0), ("Three", 0, 5, 1)]
    assert records[0]["article_id"] is None


@pytest.mark.parametrize("body, headers, message", [
    (b'{"text": "unterminated', {"content-type": "application/json"}, "not valid JSON"),
    (b'{"text": "\xff\xfe not UTF-8"}', {"content-type": "application/json"}, "not valid JSON"),
    (b'[' * 3000, {"content-type": "application/json"}, "not valid JSON"),  # nested beyond the parser's depth
    (b'{"text": "a", "sentences": ["b"]}', {"content-type": "application/json"}, "exactly one of"),
    (b'{}', {"content-type": "application/json"}, "exactly one of"),
    (b'{"sentences": []}', {"content-type": "application/json"}, "empty list"),
    (b'{"sentences": ["ok", "  "]}', {"content-type": "application/json"}, "[1]"),
    (b'{"sentences": "not a list"}', {"content-type": "application/json"}, "sentences"),
    (b'{"sentences": [1, 2]}', {"content-type": "application/json"}, "valid string"),
    (b'{"text": 42}', {"content-type": "application/json"}, "valid string"),
    (b'{"text": " \\n\\t "}', {"content-type": "application/json"}, "empty"),
    (b'{"text": "a", "colour": "red"}', {"content-type": "application/json"}, "colour"),
    (b'["a list"]', {"content-type": "application/json"}, "valid dictionary"),
    (b'{"text": "a"}', {"content-type": "text/plain"}, "Content-Type: application/json"),
    (b'{"text": "a"}', {}, "Content-Type: application/json"),
])
def test_malformed_requests_get_422_with_a_clear_message(client, body, headers, message):
    response = client.post("/v1/classify", content=body, headers=headers)
    assert response.status_code == 422
    assert message in response.json()["detail"]
    assert "Traceback" not in response.text


def test_too_many_sentences_get_413(client):
    response = client.post("/v1/classify", json={"sentences": ["A sentence."] * 9})
    assert response.status_code == 413
    assert "limit is 8" in response.json()["detail"]
    response = client.post("/v1/classify", json={"text": "Short one. " * 9})
    assert response.status_code == 413 and "splits into 9 sentences" in response.json()["detail"]


def test_a_body_over_the_limit_gets_413_declared_or_streamed(client):
    response = client.post("/v1/classify", json={"text": "x" * 5000})
    assert response.status_code == 413
    assert "limit of 4096 bytes" in response.json()["detail"]

    def chunks():  # no Content-Length: the limit is counted as the body arrives
        for _ in range(10):
            yield b'{"text": "' + b"x" * 1000

    response = client.post("/v1/classify", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_errors_inside_the_model_give_a_500_without_details(tmp_path):
    app = create_app(StandIn(fail=True), tmp_path)
    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.post("/v1/classify", json={"sentences": ["A sentence."]})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}


def test_feedback_is_saved_with_a_timestamp_and_read_back(client, tmp_path):
    saved = client.post("/v1/feedback", json=feedback()).json()
    assert saved["action"] == "corrected" and saved["timestamp"].endswith("+00:00")
    accepted = client.post("/v1/feedback", json=feedback(text="Second.", reviewer_label="official_claim",
                                                         model_version=None)).json()
    assert accepted["action"] == "accepted" and accepted["model_version"] == "stand-in-1"
    listed = client.get("/v1/feedback", params={"article_id": "a1"}).json()
    assert [r["text"] for r in listed["records"]] == ["The ministry said the bridge was hit.", "Second."]
    lines = [json.loads(line) for line in FeedbackStore(tmp_path / "feedback").path_for("a1").read_text().splitlines()]
    assert lines[0]["reviewer_label"] == "unverified_assertion" and lines[0]["model_label"] == "official_claim"
    assert client.get("/v1/feedback", params={"article_id": "never-seen"}).json()["records"] == []


@pytest.mark.parametrize("change", [{"reviewer_label": "hearsay"}, {"model_label": None}, {"text": "   "},
                                    {"article_id": ""}, {"model_confidence": 1.5}, {"sentence_index": -1},
                                    {"path": "../x"}])
def test_bad_feedback_gets_422(client, change):
    assert client.post("/v1/feedback", json=feedback(**change)).status_code == 422


def test_writes_need_the_token_when_one_is_set_and_reads_stay_open(locked):
    assert locked.post("/v1/feedback", json=feedback()).status_code == 401
    wrong = locked.post("/v1/feedback", json=feedback(), headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert locked.post("/v1/feedback", json=feedback(), headers={"Authorization": TOKEN}).status_code == 401
    ok = locked.post("/v1/feedback", json=feedback(), headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 201
    assert len(locked.get("/v1/feedback", params={"article_id": "a1"}).json()["records"]) == 1
    assert locked.post("/v1/classify", json={"sentences": ["Open to read."]}).status_code == 200
    assert locked.get("/health").json()["writes_require_token"] is True


@pytest.mark.parametrize("body", [b'{"text": "unterminated', b'\xff\xfe', b'[' * 3000, b'{"article_id": 1}'])
def test_without_the_token_any_write_body_gets_401_not_a_parse_error(locked, body):
    response = locked.post("/v1/feedback", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 401 and "Bearer" in response.json()["detail"]
    assert locked.get("/v1/feedback", params={"article_id": "a1"}).json()["records"] == []


def test_error_answers_are_described_in_the_openapi_schema(client):
    spec = client.get("/openapi.json").json()
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for path, method, statuses in [("/v1/classify", "post", {"413", "422", "503"}),
                                   ("/v1/feedback", "post", {"401", "413", "422"}), ("/v1/feedback", "get", {"422"})]:
        responses = spec["paths"][path][method]["responses"]
        for status in statuses:
            assert responses[status]["content"]["application/json"]["schema"] == error_ref, (path, method, status)
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # FastAPI's shape, which we never send
    body = client.post("/v1/classify", json={}).json()
    assert set(body) == {"detail", "errors"} and set(body["errors"][0]) == {"loc", "msg", "type"}


def test_binding_beyond_loopback_needs_a_long_token():
    check_access("127.0.0.1", None)
    check_access("::1", None)
    check_access("localhost", None)
    for host in ("0.0.0.0", "::", "192.0.2.10", "example.org"):
        with pytest.raises(ServerConfigError, match=TOKEN_ENV):
            check_access(host, None)
        check_access(host, TOKEN)
    with pytest.raises(ServerConfigError, match="shorter than") as error:
        check_access("0.0.0.0", "short-secret")
    assert "short-secret" not in str(error.value)


def test_sourcing_serve_refuses_a_public_address_without_a_token():
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    result = subprocess.run([sys.executable, "-m", "inference.cli", "serve", "--host", "0.0.0.0", "--port", "0",
                             "--model", "/nonexistent"], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT,
                            timeout=60)
    assert result.returncode == 2
    assert f"refusing to serve on 0.0.0.0" in result.stderr and TOKEN_ENV in result.stderr
    assert "Traceback" not in result.stderr


def test_a_port_in_use_is_a_config_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ServerConfigError, match="pick another --port"):
            bind_socket("127.0.0.1", taken.getsockname()[1])


def test_unexpected_host_headers_are_refused(tmp_path):
    app = create_app(StandIn(), tmp_path, allowed_hosts={"127.0.0.1", "localhost"})
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        assert c.get("/health").status_code == 200
        assert c.get("/health", headers={"host": "localhost:8000"}).status_code == 200
        assert c.get("/health", headers={"host": "evil.example:8000"}).status_code == 400


def test_the_page_has_a_strict_csp_and_no_inline_or_third_party_code(client):
    response = client.get("/")
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    csp = response.headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in csp and "unsafe" not in csp and "http" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    html = response.text
    assert "<script>" not in html and not re.search(r"\son[a-z]+\s*=", html)  # no inline script or handlers
    assert "<style" not in html and 'style="' not in html
    for asset in STATIC_DIR.iterdir():
        text = asset.read_text(encoding="utf-8")
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text
        assert client.get(f"/static/{asset.name}").status_code == 200
    script = (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "eval(" not in script
    assert not any(label in script for label in LABEL_IDS)  # label ids come from /health


def test_health_and_openapi_describe_the_service(client):
    health = client.get("/health").json()
    assert health["model_version"] == "stand-in-1"
    assert [label["id"] for label in health["labels"]] == list(LABEL_IDS)
    assert [label["key"] for label in health["labels"]] == [1, 2, 3, 4]
    assert health["limits"] == {"max_body_bytes": 4096, "max_sentences": 8}
    spec = client.get("/openapi.json").json()
    assert {"/v1/classify", "/health", "/v1/feedback"} <= set(spec["paths"])
    assert set(spec["paths"]["/v1/feedback"]) == {"get", "post"}
    assert client.get("/docs").status_code == 404  # the Swagger page would load a CDN


def test_the_batcher_merges_concurrent_requests_into_few_model_calls():
    classifier = StandIn(delay=0.05)
    batcher = Batcher(classifier, max_wait=0.01, max_batch=64)
    texts = [[f"Sentence {i}." + "x" * i] for i in range(24)]
    try:
        with ThreadPoolExecutor(24) as pool:
            results = list(pool.map(lambda t: batcher.submit(t).result(timeout=30), texts))
    finally:
        batcher.stop()
    assert len(classifier.calls) <= 6 and sum(classifier.calls) == 24
    for t, probabilities in zip(texts, results):
        assert probabilities.shape == (1, 4) and probabilities[0].argmax() == len(t[0]) % 4


# ---------------------------------------------------------------- the real server with a tiny trained model

@pytest.fixture(scope="module")
def classifier(tiny_model):
    from inference.classifier import Classifier

    # fp32 torch: the ONNX int8 graph quantises activations per batch, so its probabilities shift with the
    # other sentences in a batch, which would blur the checks that batching routes results correctly.
    return Classifier.load(tiny_model.model_dir, backend="torch")


@pytest.fixture(scope="module")
def live(classifier, tmp_path_factory):
    feedback_dir = tmp_path_factory.mktemp("live-feedback")
    with running(create_app(classifier, feedback_dir, max_sentences=64)) as url:
        with httpx.Client(base_url=url, timeout=60) as http:
            yield http, feedback_dir


@pytest.mark.slow
def test_live_classify_text_matches_the_classifier(live, classifier):
    http, _ = live
    text = EXAMPLE.read_text(encoding="utf-8")
    response = http.post("/v1/classify", json={"text": text, "article_id": "example_article.txt"})
    assert response.status_code == 200
    records = response.json()["records"]
    expected = classifier.score_article(text)
    assert len(records) == len(expected) >= 10
    for record, scored in zip(records, expected):
        assert record["article_id"] == "example_article.txt"
        assert (record["start"], record["end"], record["text"]) == (scored.sentence.start, scored.sentence.end,
                                                                    scored.sentence.text)
        assert text[record["start"]:record["end"]] == record["text"]
        assert record["label"] == scored.prediction.label
        for label in LABEL_IDS:
            assert record["probabilities"][label] == pytest.approx(scored.prediction.probabilities[label], abs=1e-4)


@pytest.mark.slow
def test_live_classify_sentences_and_health(live, classifier):
    http, _ = live
    sentences = ["Sources within the ministry said the drones carried armed payloads.",
                 "Analysts suggest the strikes may have been meant to disrupt supply lines."]
    records = http.post("/v1/classify", json={"sentences": sentences}).json()["records"]
    assert [r["label"] for r in records] == [p.label for p in classifier.predict(sentences)]
    health = http.get("/health").json()
    assert health["status"] == "ok" and health["model_version"] == classifier.version != "unversioned"
    assert [label["id"] for label in health["labels"]] == list(LABEL_IDS)


@pytest.mark.slow
def test_live_feedback_round_trip_and_traversal(live):
    http, feedback_dir = live
    for article_id in ("example_article.txt", "../../../escape", "/tmp/absolute"):
        assert http.post("/v1/feedback", json=feedback(article_id)).status_code == 201
        assert [r["article_id"] for r in http.get("/v1/feedback", params={"article_id": article_id}).json()["records"]] \
            == [article_id]
    assert len(list(feedback_dir.iterdir())) == 3
    for outside in (feedback_dir.parent, feedback_dir.parent.parent, feedback_dir.parents[2], Path("/tmp")):
        assert not any(outside.glob("escape*")) and not any(outside.glob("absolute*"))


@pytest.mark.slow
def test_live_limits_and_errors(live):
    http, _ = live
    big = http.post("/v1/classify", json={"text": "x" * (1024 * 1024 + 10)})
    assert big.status_code == 413 and "limit" in big.json()["detail"]
    many = http.post("/v1/classify", json={"sentences": ["A sentence."] * 65})
    assert many.status_code == 413 and "limit is 64" in many.json()["detail"]
    bad = http.post("/v1/classify", content=b"{nope", headers={"content-type": "application/json"})
    assert bad.status_code == 422 and bad.json()["detail"] == "request body is not valid JSON"
    assert http.get("/health").status_code == 200  # the server is still up


@pytest.mark.slow
def test_live_concurrent_requests_are_batched_and_beat_one_at_a_time(live):
    http, _ = live
    sentences = [f"Officials said {i} drones were shot down overnight near the border." for i in range(48)]

    def one(sentence):
        response = http.post("/v1/classify", json={"sentences": [sentence]})
        assert response.status_code == 200
        return response.json()["records"][0]["probabilities"]

    one(sentences[0])  # warm up
    started = time.perf_counter()
    sequential = [one(s) for s in sentences]
    sequential_rate = len(sentences) / (time.perf_counter() - started)
    before = http.get("/health").json()["batching"]
    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        concurrent = list(pool.map(one, sentences))
    concurrent_rate = len(sentences) / (time.perf_counter() - started)
    after = http.get("/health").json()["batching"]
    print(f"one at a time {sequential_rate:.0f} req/s, 16 clients {concurrent_rate:.0f} req/s, "
          f"{after['batches'] - before['batches']} model calls for {len(sentences)} requests")
    # Padding within a batch moves probabilities by float noise only.
    for batched, alone in zip(concurrent, sequential):
        assert batched == pytest.approx(alone, abs=1e-4)
    assert after["sentences"] - before["sentences"] == len(sentences)
    assert after["batches"] - before["batches"] < len(sentences) * 0.75
    assert concurrent_rate > sequential_rate


@pytest.mark.slow
def test_sourcing_serve_needs_the_token_for_writes_and_keeps_feedback_across_a_kill(tiny_model, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, TOKEN_ENV: TOKEN, "SOURCING_FEEDBACK_DIR": str(tmp_path / "feedback")}
    command = [sys.executable, "-m", "inference.cli", "serve", "--model", str(tiny_model.model_dir),
               "--port", str(port)]
    url = f"http://127.0.0.1:{port}"

    def start() -> subprocess.Popen:
        server = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert server.poll() is None, server.stdout.read()
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    return server
            except httpx.TransportError:
                time.sleep(0.2)
        server.kill()
        pytest.fail("sourcing serve did not come up")

    server = start()
    try:
        assert httpx.post(f"{url}/v1/feedback", json=feedback()).status_code == 401
        saved = httpx.post(f"{url}/v1/feedback", json=feedback(), headers={"Authorization": f"Bearer {TOKEN}"})
        assert saved.status_code == 201
    finally:
        server.send_signal(signal.SIGKILL)
        log = server.communicate(timeout=30)[0]
    assert TOKEN not in log
    server = start()
    try:
        records = httpx.get(f"{url}/v1/feedback", params={"article_id": "a1"}).json()["records"]
        assert [r["reviewer_label"] for r in records] == ["unverified_assertion"]
    finally:
        server.send_signal(signal.SIGTERM)
        log = server.communicate(timeout=30)[0]
    assert TOKEN not in log and "Traceback" not in log
