"""HTTP API and review page over a Classifier: `sourcing serve [--model M] [--host 127.0.0.1] [--port 8000]`.

`POST /v1/classify`, `GET /health`, `POST|GET /v1/feedback`, the OpenAPI description at `/openapi.json`
and the review page at `/` (assets in `inference/static/`). Sentences from concurrent requests are
batched into one model call by a background worker (dynamic batching).
"""
import asyncio
import hmac
import ipaddress
import logging
import os
import queue
import socket
import sys
import threading
import time
from concurrent.futures import Future
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Iterator, Literal, Sequence

import numpy as np
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from inference.classifier import ScoredSentence, to_prediction
from inference.explain import SPAN_KINDS, add_cues
from inference.feedback_store import FeedbackStore
from inference.labels import LABEL_IDS, LABELS, NEEDS_SOURCING
from inference.paths import FEEDBACK_DIR
from inference.sentences import Sentence, split_sentences

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"
TOKEN_ENV = "SOURCING_API_TOKEN"
MIN_TOKEN_CHARS = 16
MAX_BODY_BYTES = 1024 * 1024
MAX_SENTENCES = 512
MAX_ID_CHARS = 256
MAX_SENTENCE_CHARS = 20_000
LOOPBACK_NAMES = ("localhost",)
# No inline script or style, nothing from another origin, no framing.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                           "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}

LabelId = Literal[LABEL_IDS]


class ServerConfigError(RuntimeError):
    """The server cannot start as configured; the message says what to change."""


class ServerBusy(RuntimeError):
    """More sentences are queued than the server accepts; the client should retry later."""


# ---------------------------------------------------------------- request and response schemas

class ClassifyRequest(BaseModel):
    """Either `sentences` (each classified as given) or `text` (an article, split into sentences first)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": "The ministry said the bridge was hit. Analysts suggest more strikes may follow.", "article_id": "a1"},
        {"sentences": ["HIMARS launchers were reportedly destroyed near the front."]},
    ]})

    sentences: list[Annotated[str, Field(max_length=MAX_SENTENCE_CHARS)]] | None = Field(
        None, description="sentences to classify as they are; offsets are within each sentence")
    text: str | None = Field(None, description="an article to split into sentences; offsets are into this text")
    article_id: str | None = Field(None, max_length=MAX_ID_CHARS, description="carried into every record")
    explain: bool = Field(False, description="also return each label's evidence spans as 'cues' (slower)")

    @model_validator(mode="after")
    def _one_input(self) -> "ClassifyRequest":
        if (self.sentences is None) == (self.text is None):
            raise ValueError("give exactly one of 'sentences' (a list of strings) or 'text' (a string)")
        if self.sentences is not None:
            if not self.sentences:
                raise ValueError("'sentences' is an empty list")
            blank = [i for i, s in enumerate(self.sentences) if not s.strip()]
            if blank:
                raise ValueError(f"'sentences' items {blank[:10]} are empty or only whitespace")
        elif not self.text.strip():
            raise ValueError("'text' is empty or only whitespace")
        return self


class SentenceRecord(BaseModel):
    """One classified sentence: the same record `sourcing score` writes."""

    article_id: str | None
    sentence_index: int
    start: int = Field(description="character offset, inclusive")
    end: int = Field(description="character offset, exclusive: text[start:end] is the sentence")
    text: str
    label: LabelId
    confidence: float = Field(description="calibrated probability of `label`")
    probabilities: dict[str, float]
    cues: list[dict] | None = Field(None, description="with explain: [{start, end, kind, text, score}], offsets into text")


class ClassifyResponse(BaseModel):
    model_version: str
    records: list[SentenceRecord]


class FeedbackIn(BaseModel):
    """A reviewer's decision on one sentence: a correction, or an acceptance when the labels agree."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    article_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    text: str = Field(min_length=1, max_length=MAX_SENTENCE_CHARS, description="the sentence")
    sentence_index: int | None = Field(None, ge=0)
    start: int | None = Field(None, ge=0)
    end: int | None = Field(None, ge=0)
    model_label: LabelId
    model_confidence: float | None = Field(None, ge=0, le=1)
    model_version: str | None = Field(None, max_length=200, description="defaults to the served model's version")
    reviewer_label: LabelId

    @model_validator(mode="after")
    def _has_text(self) -> "FeedbackIn":
        if not self.text.strip():
            raise ValueError("'text' is only whitespace")
        return self


class FeedbackRecord(FeedbackIn):
    """A saved feedback record, as written to `data/feedback/`."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    model_version: str
    action: Literal["accepted", "corrected"]
    timestamp: str = Field(description="UTC, ISO 8601, set by the server")


class FeedbackList(BaseModel):
    article_id: str
    records: list[FeedbackRecord] = Field(description="oldest first; the last record for a sentence wins")


class LabelInfo(BaseModel):
    id: str
    name: str
    colour: str
    description: str
    key: int = Field(description="keyboard shortcut on the review page")


class CueKindInfo(BaseModel):
    id: str
    description: str


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description="where the problem is, e.g. ['body', 'sentences', 1]")
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer: `detail` says what to change; a 422 also lists each problem in `errors`."""

    detail: str
    errors: list[ErrorItem] | None = None


ERROR_DESCRIPTIONS = {
    401: "missing or wrong token (when the server has one)",
    413: "body or sentence count over the limit",
    422: "malformed JSON or wrong schema",
    503: "too many sentences queued; retry",
}


def error_responses(*statuses: int) -> dict[int, dict]:
    """OpenAPI `responses` for these error statuses, all with the ErrorBody the handlers really send."""
    return {status: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[status]} for status in statuses}


class Health(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    status: Literal["ok"]
    model_version: str
    model: dict[str, Any]
    labels: list[LabelInfo]
    cue_kinds: list[CueKindInfo] = Field(description="kinds of the evidence spans ('cues') that explain returns")
    needs_sourcing: list[str] = Field(description="labels a reviewer should source first, least sourced first")
    writes_require_token: bool
    limits: dict[str, int]
    batching: dict[str, int]


# ---------------------------------------------------------------- dynamic batching

class Batcher:
    """One worker thread gathers sentences from concurrent requests for up to `max_wait` seconds into one predict call."""

    def __init__(self, classifier, max_wait: float = 0.005, max_batch: int = 64, batch_size: int = 32,
                 max_pending: int = 20_000):
        self.classifier = classifier
        self.max_wait = max_wait
        self.max_batch = max_batch
        self.batch_size = batch_size
        self.max_pending = max_pending
        self.batches = 0
        self.sentences = 0
        self._pending = 0
        self._jobs: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sourcing-batcher", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(None)
            thread.join(timeout)

    def submit(self, texts: Sequence[str]) -> Future:
        """A future of the (len(texts), 4) probabilities; raises ServerBusy when the queue is full."""
        texts = list(texts)
        future: Future = Future()
        with self._lock:
            if self._pending and self._pending + len(texts) > self.max_pending:
                raise ServerBusy(f"{self._pending} sentences are waiting; retry shortly")
            self._pending += len(texts)
        self.start()
        self._jobs.put((texts, future))
        return future

    async def predict(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.wrap_future(self.submit(texts))

    def stats(self) -> dict[str, int]:
        return {"batches": self.batches, "sentences": self.sentences, "pending": self._pending}

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._jobs.get()
            if first is None:
                break
            jobs = [first]
            size = len(first[0])
            deadline = time.monotonic() + self.max_wait
            while size < self.max_batch:
                remaining = deadline - time.monotonic()
                try:
                    job = self._jobs.get(timeout=remaining) if remaining > 0 else self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                jobs.append(job)
                size += len(job[0])
            self._predict(jobs)
        self._fail_waiting()

    def _predict(self, jobs: list[tuple[list[str], Future]]) -> None:
        queued = sum(len(texts) for texts, _ in jobs)
        # A future cancelled by a client that went away is dropped; the rest cannot be cancelled from here on.
        live = [(texts, future) for texts, future in jobs if future.set_running_or_notify_cancel()]
        texts = [t for job_texts, _ in live for t in job_texts]
        try:
            probabilities = self.classifier.predict_proba(texts, self.batch_size) if texts else \
                np.zeros((0, len(LABEL_IDS)), dtype=np.float32)
        except Exception as exc:
            log.exception("prediction failed for a batch of %d sentences", len(texts))
            for _, future in live:
                future.set_exception(exc)
        else:
            self.batches += 1 if texts else 0
            self.sentences += len(texts)
            offset = 0
            for job_texts, future in live:
                future.set_result(probabilities[offset:offset + len(job_texts)])
                offset += len(job_texts)
        finally:
            with self._lock:
                self._pending -= queued

    def _fail_waiting(self) -> None:
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None and job[1].set_running_or_notify_cancel():
                job[1].set_exception(ServerBusy("the server is shutting down"))


# ---------------------------------------------------------------- ASGI middleware

class SecurityHeaders:
    """Adds the Content-Security-Policy and related headers to every HTTP response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Answers 413 with a JSON message when a request body is over `max_bytes`, declared or streamed."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._reject(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return await self._reject(scope, receive, send)
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope, receive, send):
        response = JSONResponse({"detail": f"request body is larger than the limit of {self.max_bytes} bytes"},
                                status_code=413, headers={"Connection": "close"})
        await response(scope, receive, send)


class HostCheck:
    """Refuses requests whose Host header is not one of `allowed` (stops DNS rebinding against a loopback server)."""

    def __init__(self, app, allowed: set[str]):
        self.app = app
        self.allowed = {name.lower() for name in allowed}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and host_name(Headers(scope=scope).get("host", "")) not in self.allowed:
            response = JSONResponse({"detail": "unexpected Host header"}, status_code=400)
            return await response(scope, receive, send)
        await self.app(scope, receive, send)


def host_name(host: str) -> str:
    """`127.0.0.1:8000` -> `127.0.0.1`, `[::1]:8000` -> `[::1]`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[:host.find("]") + 1]
    return host.split(":", 1)[0]


# ---------------------------------------------------------------- the app

def create_app(classifier, feedback_dir: Path = FEEDBACK_DIR, token: str | None = None, *,
               max_body_bytes: int = MAX_BODY_BYTES, max_sentences: int = MAX_SENTENCES,
               batch_wait: float = 0.005, max_batch: int = 64, allowed_hosts: Sequence[str] | None = None) -> FastAPI:
    """The ASGI app over `classifier` (anything with `predict_proba(texts, batch_size)` and `version`).

    `token`, when set, is required as `Authorization: Bearer <token>` by every endpoint that writes.
    `allowed_hosts`, when set, restricts the Host header (the loopback names when bound to 127.0.0.1).
    """
    batcher = Batcher(classifier, max_wait=batch_wait, max_batch=max_batch)
    store = FeedbackStore(Path(feedback_dir))
    bearer = HTTPBearer(auto_error=False, description=f"the server's {TOKEN_ENV}; needed only by endpoints that write")
    expected = token.encode("utf-8") if token else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        yield
        batcher.stop()

    app = FastAPI(title="Sourcing classifier", version=classifier.version, lifespan=lifespan,
                  description="Labels news sentences by sourcing: " + ", ".join(LABEL_IDS) + ".",
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.state.batcher = batcher
    app.state.store = store

    def require_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        if expected is None:
            return
        given = credentials.credentials.encode("utf-8") if credentials else b""
        if not hmac.compare_digest(given, expected):
            raise HTTPException(401, f"this endpoint needs 'Authorization: Bearer <{TOKEN_ENV}>'",
                                headers={"WWW-Authenticate": "Bearer"})

    class TokenFirst(APIRoute):
        """Checks the token before FastAPI reads the body, so without it any body gets 401, never a parse error.

        The route's `Depends(require_token)` still declares the scheme in the OpenAPI description.
        """

        def get_route_handler(self):
            handler = super().get_route_handler()

            async def checked(request: Request) -> Response:
                require_token(await bearer(request))
                return await handler(request)

            return checked

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "").removeprefix("Value error, "),
                   "type": e.get("type", "")} for e in exc.errors()]
        content_type = request.headers.get("content-type", "")
        if any(e["type"] == "json_invalid" for e in errors):
            detail = "request body is not valid JSON"
        elif "json" not in content_type.lower() and request.method == "POST":
            detail = "send the body as JSON with 'Content-Type: application/json'"
        else:
            first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
            where = ".".join(str(part) for part in first["loc"] if part != "body")
            detail = f"{where}: {first['msg']}" if where else first["msg"]
        return JSONResponse({"detail": detail, "errors": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, (ValueError, RecursionError)):
            # FastAPI's 400 for a body json.loads cannot read at all (not UTF-8, nested too deep): the same
            # answer as any other malformed JSON.
            return JSONResponse({"detail": "request body is not valid JSON", "errors": [
                {"loc": ["body"], "msg": "JSON decode error", "type": "json_invalid"}]}, status_code=422)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return JSONResponse({"detail": "internal server error"}, status_code=500)

    @app.post("/v1/classify", response_model=ClassifyResponse, response_model_exclude_unset=True, tags=["classify"],
              responses=error_responses(413, 422, 503))
    async def classify(request: ClassifyRequest) -> dict:
        """Classify `sentences`, or split `text` into sentences and classify each."""
        if request.sentences is not None:
            if len(request.sentences) > max_sentences:
                raise HTTPException(413, f"{len(request.sentences)} sentences in one request; the limit is "
                                         f"{max_sentences}: send the rest in further requests")
            sentences = [Sentence(s, 0, len(s)) for s in request.sentences]
        else:
            sentences = await run_in_threadpool(split_sentences, request.text)
            if len(sentences) > max_sentences:
                raise HTTPException(413, f"the text splits into {len(sentences)} sentences; the limit is "
                                         f"{max_sentences} per request: send the article in parts")
        try:
            probabilities = await batcher.predict([s.text for s in sentences])
        except ServerBusy as exc:
            raise HTTPException(503, f"server busy: {exc}", headers={"Retry-After": "1"}) from None
        records = [{"article_id": request.article_id, **ScoredSentence(i, s, to_prediction(row)).to_dict()}
                   for i, (s, row) in enumerate(zip(sentences, probabilities))]
        if request.explain:
            await run_in_threadpool(add_cues, classifier, records, [s.text for s in sentences], probabilities)
        return {"model_version": classifier.version, "records": records}

    @app.get("/health", response_model=Health, tags=["service"])
    async def health() -> dict:
        """Model version, the labels (ids, names, colours, shortcut keys), the cue kinds and the server's limits."""
        info = getattr(classifier, "info", {}) or {}
        return {
            "status": "ok",
            "model_version": classifier.version,
            "model": {k: info[k] for k in ("data_version", "base_model", "max_length", "trained_at") if k in info},
            "labels": [{**asdict(label), "key": i + 1} for i, label in enumerate(LABELS)],
            "cue_kinds": [{"id": kind, "description": text} for kind, text in SPAN_KINDS.items()],
            "needs_sourcing": list(NEEDS_SOURCING),
            "writes_require_token": expected is not None,
            "limits": {"max_body_bytes": max_body_bytes, "max_sentences": max_sentences},
            "batching": batcher.stats(),
        }

    writes = APIRouter(route_class=TokenFirst, dependencies=[Depends(require_token)])

    @writes.post("/v1/feedback", response_model=FeedbackRecord, status_code=201, tags=["feedback"],
                 responses=error_responses(401, 413, 422))
    async def add_feedback(item: FeedbackIn) -> dict:
        """Save a reviewer's correction or acceptance; it is on disk (fsynced) when this returns."""
        record = {"timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                  **item.model_dump(), "model_version": item.model_version or classifier.version,
                  "action": "accepted" if item.reviewer_label == item.model_label else "corrected"}
        await run_in_threadpool(store.append, record)
        return record

    app.include_router(writes)

    @app.get("/v1/feedback", response_model=FeedbackList, tags=["feedback"], responses=error_responses(422))
    async def list_feedback(article_id: Annotated[str, Query(min_length=1, max_length=MAX_ID_CHARS)]) -> dict:
        """The saved records for one article, oldest first, so the review page can restore them."""
        records = []
        for raw in await run_in_threadpool(store.read, article_id):
            try:
                records.append(FeedbackRecord.model_validate(raw))
            except ValidationError:
                log.warning("skipping a feedback record for %r that does not match the schema", article_id)
        return {"article_id": article_id, "records": records}

    @app.get("/", include_in_schema=False)
    async def review_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(SecurityHeaders)
    if allowed_hosts:
        app.add_middleware(HostCheck, allowed=set(allowed_hosts))
    return app


# ---------------------------------------------------------------- running it

def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_access(host: str, token: str | None) -> None:
    """Raise ServerConfigError unless `host` is loopback or a long enough token is set (never shows the token)."""
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise ServerConfigError(f"{TOKEN_ENV} is shorter than {MIN_TOKEN_CHARS} characters; make one with "
                                "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    if not is_loopback(host) and token is None:
        raise ServerConfigError(f"refusing to serve on {host}: any address but 127.0.0.1 needs an access token. "
                                f"Set {TOKEN_ENV} (writes will then require 'Authorization: Bearer <token>'), "
                                "or bind --host 127.0.0.1")


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound (not yet listening) TCP socket; port 0 picks a free one."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ServerConfigError(f"cannot use host {host!r}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ServerConfigError(f"cannot bind {host}:{port}: {exc.strerror or exc}; pick another --port") from None
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if sock.family == socket.AF_INET6 else f"http://{host}:{port}"


def serve(model: str | None = None, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Load the model and serve until interrupted; ServerConfigError for anything the operator must fix."""
    from inference.classifier import Classifier
    from inference.model_source import ModelLoadError

    token = os.environ.get(TOKEN_ENV) or None
    check_access(host, token)
    sock = bind_socket(host, port)
    try:
        classifier = Classifier.load(model)
    except ModelLoadError as exc:
        sock.close()
        raise ServerConfigError(str(exc)) from None
    loopback = is_loopback(host)
    bound = f"[{host.strip('[]')}]" if ":" in host else host
    allowed = {"localhost", "127.0.0.1", "[::1]", bound.lower()} if loopback else None
    # Batching knobs for operators and the load test (bench/load_test.py compares batching on and off).
    batch_wait = float(os.environ.get("SOURCING_BATCH_WAIT_MS", "5")) / 1000
    max_batch = int(os.environ.get("SOURCING_MAX_BATCH", "64"))
    app = create_app(classifier, FEEDBACK_DIR, token, allowed_hosts=allowed, batch_wait=batch_wait, max_batch=max_batch)
    url = base_url(sock)
    writes = "need the access token" if token else "are open (loopback only)"
    print(f"sourcing: serving model {classifier.version} at {url}/ (API at {url}/v1/classify, "
          f"OpenAPI at {url}/openapi.json); writes {writes}; feedback goes to {FEEDBACK_DIR}", file=sys.stderr)
    if not loopback:
        print("sourcing: warning: plain HTTP: put a TLS proxy in front before using the token across a network",
              file=sys.stderr)
    config = uvicorn.Config(app, log_level="info", server_header=False, proxy_headers=False)
    uvicorn.Server(config).run(sockets=[sock])


@contextmanager
def running(app: FastAPI, host: str = "127.0.0.1", port: int = 0, timeout: float = 30.0) -> Iterator[str]:
    """Serve `app` with uvicorn in a background thread and yield its base URL (for tests and docs/ scripts)."""
    sock = bind_socket(host, port)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="sourcing-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield base_url(sock)
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
