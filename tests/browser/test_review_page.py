"""The review page in headless Chromium (Debian's chromium driven by Playwright) against the real server."""
import json
from pathlib import Path

import httpx
import pytest

from inference.cues import CUE_KINDS
from inference.explain import FALLBACK_KIND
from inference.feedback_store import FeedbackStore
from inference.labels import LABEL_IDS, NEEDS_SOURCING
from inference.paths import PROJECT_ROOT
from inference.server import CONTENT_SECURITY_POLICY, create_app, running

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EXAMPLE = PROJECT_ROOT / "data" / "examples" / "example_article.txt"
UNDERLINES = {1: "solid", 2: "double", 3: "dashed", 4: "dotted"}
SPAN_KINDS = (*CUE_KINDS, FALLBACK_KIND)
# Lexicon cues of several kinds; the flag (two code points, four UTF-16 units) sits before a cue in its sentence.
CUE_ARTICLE = ("KYIV \U0001F1FA\U0001F1E6 The ministry said on Tuesday that the bridge reopened to traffic.\n\n"
               "Satellite images verified by independent analysts show the hangar destroyed. "
               "The attack was reportedly carried out by drones, people familiar with the matter said. "
               "Analysts suggest more strikes may follow.")


@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory):
    from inference.classifier import Classifier

    feedback_dir = tmp_path_factory.mktemp("page-feedback")
    classifier = Classifier.load(tiny_model.model_dir)
    with running(create_app(classifier, feedback_dir)) as url:
        yield url, feedback_dir, classifier


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        pytest.fail(f"needs Debian's chromium at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    """A fresh browser profile on the review page; records every request and script error."""
    url = server[0]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.requests, page.errors, page.dialogs, page.console = [], [], [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: page.console.append(message.text))
    response = page.goto(url)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    page.wait_for_selector("body[data-ready=true]")
    yield page
    context.close()
    assert page.errors == []
    assert not [m for m in page.console if "Content Security Policy" in m], page.console  # nothing the CSP blocked
    assert all(u.startswith(url) or u.startswith(("blob:", "data:")) for u in page.requests), page.requests


def classify_in_page(page, text: str, article_id: str | None = None) -> None:
    page.fill("#article-text", text)
    if article_id is not None:
        page.fill("#article-id", article_id)
    page.click("#classify")
    page.wait_for_selector("#status:has-text('classified')")


def sentences(page) -> list[dict]:
    return page.eval_on_selector_all("#article .sentence", """nodes => nodes.map(n => {
        const style = getComputedStyle(n);
        return {index: Number(n.dataset.index), label: n.dataset.label, model: n.dataset.modelLabel,
                reviewed: n.dataset.reviewed, saved: n.dataset.saved, text: n.querySelector('.text').textContent,
                badge: n.querySelector('.badge').textContent, underline: style.borderBottomStyle,
                background: style.backgroundColor, classes: n.className};
    })""")


ALLOWED_IN_ARTICLE = ".sentence, .sentence > span, .sentence > .text > mark.cue"


def classify_api(url: str, text: str, article_id: str) -> list[dict]:
    response = httpx.post(f"{url}/v1/classify", json={"text": text, "article_id": article_id, "explain": True})
    response.raise_for_status()
    return response.json()["records"]


def visible_article_text(page) -> str:
    """The article as a reader sees it: every text node of #article except the label badges and screen-reader notes."""
    return page.evaluate("""() => {
        const copy = document.querySelector('#article').cloneNode(true);
        copy.querySelectorAll('.badge, .sr-only').forEach(n => n.remove());
        return copy.textContent;
    }""")


def shown_cues(page, scope: str = "#article") -> dict[int, dict]:
    """Per sentence index: its text and its underlined cue elements in document order."""
    rows = page.eval_on_selector_all(f"{scope} .sentence", """nodes => nodes.map(n => ({
        index: Number(n.dataset.index), text: n.querySelector('.text').textContent, title: n.title,
        cues: [...n.querySelectorAll('.text mark')].map(m => ({
            text: m.textContent, kind: m.dataset.kind, title: m.title, classes: m.className,
            line: getComputedStyle(m).textDecorationLine, style: getComputedStyle(m).textDecorationStyle,
            children: m.children.length}))}))""")
    return {row["index"]: row for row in rows}


def expected_cues(record: dict) -> list[tuple[str, str]]:
    return [(c["text"], c["kind"]) for c in sorted(record["cues"], key=lambda c: c["start"])]


def test_evidence_spans_underline_the_cue_words_the_api_reports(page, server):
    url = server[0]
    health = httpx.get(f"{url}/health").json()
    assert [kind["id"] for kind in health["cue_kinds"]] == list(SPAN_KINDS)
    assert all(kind["description"] for kind in health["cue_kinds"])
    legend = page.eval_on_selector_all("#cue-legend .cue", """ns => ns.map(n => ({
        text: n.textContent, title: n.title, style: getComputedStyle(n).textDecorationStyle}))""")
    assert [item["text"] for item in legend] == [f"{kind} cue" for kind in SPAN_KINDS]
    assert [item["title"] for item in legend] == [kind["description"] for kind in health["cue_kinds"]]
    legend_style = {kind: item["style"] for kind, item in zip(SPAN_KINDS, legend)}
    assert len(set(legend_style.values())) == len(SPAN_KINDS)  # each kind has its own underline

    classify_in_page(page, CUE_ARTICLE, "cue-article")
    api = classify_api(url, CUE_ARTICLE, "cue-article")
    shown = shown_cues(page)
    assert sorted(shown) == [r["sentence_index"] for r in api]
    for record in api:
        node = shown[record["sentence_index"]]
        assert node["text"] == record["text"]  # underlines add elements, never characters
        assert [(c["text"], c["kind"]) for c in node["cues"]] == expected_cues(record)
        for cue in node["cues"]:
            position = SPAN_KINDS.index(cue["kind"]) + 1
            assert cue["title"].startswith(f"{cue['kind']} cue") and f"cue-style-{position}" in cue["classes"].split()
            assert cue["line"] == "underline" and cue["style"] == legend_style[cue["kind"]]
            assert cue["children"] == 0
            assert f"\u201c{cue['text']}\u201d ({cue['kind']} cue)" in node["title"]
    assert visible_article_text(page) == CUE_ARTICLE

    # The article was written so the lexicon finds these; an empty underline set would pass the loop above.
    by_text = {record["text"]: expected_cues(record) for record in api}
    flag = next(text for text in by_text if "\U0001F1FA" in text)
    assert any(kind == "attribution" and "said" in cue for cue, kind in by_text[flag])
    kinds = {kind for cues in by_text.values() for _, kind in cues}
    assert {"attribution", "verification", "hedge"} <= kinds

    first = next(r for r in api if r["cues"])
    page.click(f"#article .sentence[data-index='{first['sentence_index']}']")
    detail = page.eval_on_selector_all("#detail .detail-text mark.cue",
                                       "ms => ms.map(m => [m.textContent, m.dataset.kind])")
    assert [tuple(item) for item in detail] == expected_cues(first)
    assert page.text_content("#detail .detail-text") == first["text"]


def test_markup_in_a_cue_sentence_is_underlined_as_text_and_never_runs(page, server):
    url = server[0]
    article = ("The ministry said <script>window.__pwned = 1; alert('script')</script> that the bridge "
               "<img src=x onerror=\"window.__pwned = 2; alert('img')\"> was hit. "
               "Satellite images <b onmouseover=\"window.__pwned = 3\">verified</b> by analysts show "
               "<svg onload=\"window.__pwned = 4\"></svg> the damage, the army said.")
    classify_in_page(page, article, "cue-markup")
    page.hover("#article mark.cue")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []
    assert page.eval_on_selector_all("#article *", "nodes => nodes.filter(n => !n.matches("
                                     f"'{ALLOWED_IN_ARTICLE}')).map(n => n.tagName)") == []
    api = classify_api(url, article, "cue-markup")
    shown = shown_cues(page)
    for record in api:
        assert shown[record["sentence_index"]]["text"] == record["text"]
        assert [(c["text"], c["kind"]) for c in shown[record["sentence_index"]]["cues"]] == expected_cues(record)
    assert any(("<script>" in r["text"] or "<img" in r["text"]) and r["cues"] for r in api)
    assert visible_article_text(page) == article


def test_malformed_cue_spans_are_skipped_without_losing_text(page, server):
    url = server[0]
    text = "The ministry said on Tuesday that the bridge reopened. Traffic resumed at noon."
    body = httpx.post(f"{url}/v1/classify", json={"text": text, "article_id": "bad-cues", "explain": True}).json()
    first, second = body["records"]
    sentence = first["text"]
    at = sentence.index

    def span(start, end, kind="attribution", **extra):
        return {"start": start, "end": end, "kind": kind, "text": sentence[start:end] if isinstance(start, int) and
                isinstance(end, int) else "", "score": 0.2, **extra}

    hostile_kind = "<img src=x onerror=\"window.__pwned = 1\">"
    first["cues"] = [
        span(at("ministry"), at("ministry") + 8),                            # kept: listed first
        span(at("ministry") + 4, at("said") + 4),                            # overlaps the one above
        span(-3, 2), span(at("reopened"), len(sentence) + 50),              # out of range
        span(5, 5), span(9, 7), span("13", "17"), span(1.5, 4),              # empty, reversed, not integers
        {**span(0, 3), "text": "Tha"},                                       # text does not match the offsets
        span(at("said"), at("said") + 4, kind=hostile_kind),                 # unknown kind: shown, as text
        span(at("bridge"), at("bridge") + 6, kind="verification"),
        None, "junk", {}, [1, 2],
    ]
    second["cues"] = "not a list"
    page.route(f"{url}/v1/classify", lambda route: route.fulfill(status=200, content_type="application/json",
                                                                 body=json.dumps(body)))
    classify_in_page(page, text, "bad-cues")
    shown = shown_cues(page)
    assert [(c["text"], c["kind"]) for c in shown[0]["cues"]] == [
        ("ministry", "attribution"), ("said", hostile_kind), ("bridge", "verification")]
    assert shown[0]["cues"][1]["title"].startswith(f"{hostile_kind} cue")
    assert "cue-style-0" in shown[0]["cues"][1]["classes"].split()
    assert shown[1]["cues"] == []
    assert (shown[0]["text"], shown[1]["text"]) == (first["text"], second["text"])
    assert visible_article_text(page) == text
    page.wait_for_timeout(200)
    assert page.evaluate("window.__pwned") is None
    assert page.eval_on_selector_all("#article *", "nodes => nodes.filter(n => !n.matches("
                                     f"'{ALLOWED_IN_ARTICLE}')).map(n => n.tagName)") == []


def test_review_an_article_with_the_keyboard_and_keep_it_across_a_reload(page, server):
    url, feedback_dir, classifier = server
    text = EXAMPLE.read_text(encoding="utf-8")
    classify_in_page(page, text, "example_article.txt")
    api = httpx.post(f"{url}/v1/classify", json={"text": text, "article_id": "example_article.txt"}).json()["records"]
    health = httpx.get(f"{url}/health").json()
    keys = {label["id"]: label["key"] for label in health["labels"]}
    shown = sentences(page)
    assert len(shown) == len(api) >= 10
    for node, record in zip(shown, api):
        assert node["index"] == record["sentence_index"]
        assert node["text"] == record["text"]
        assert node["model"] == node["label"] == record["label"]
        assert node["underline"] == UNDERLINES[keys[record["label"]]]  # not colour alone
        assert node["badge"].strip() and node["background"] not in ("rgba(0, 0, 0, 0)", "transparent")
    counts = {label: page.text_content(f"[data-count-for={label}]") for label in LABEL_IDS}
    assert counts == {label: str(sum(r["label"] == label for r in api)) for label in LABEL_IDS}

    needs = [int(i) for i in page.eval_on_selector_all("#needs-list button", "bs => bs.map(b => b.dataset.index)")]
    expected = sorted((r for r in api if r["label"] in NEEDS_SOURCING),
                      key=lambda r: (NEEDS_SOURCING.index(r["label"]), -r["confidence"], r["sentence_index"]))
    assert needs == [r["sentence_index"] for r in expected]
    page.click("h1")  # keyboard from the page, not from a form field
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.dataset.index") == "1"
    corrected = next(label for label in LABEL_IDS if label != api[1]["label"])
    page.keyboard.press(str(keys[corrected]))
    page.wait_for_selector("#article .sentence[data-index='1'][data-saved='saved']")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_selector("#article .sentence[data-index='2'][data-saved='saved']")
    page.keyboard.press("k")
    assert page.evaluate("document.activeElement.dataset.index") == "1"
    if needs:
        page.click(f"#needs-list button[data-index='{needs[-1]}']")
        assert page.evaluate("document.activeElement.dataset.index") == str(needs[-1])

    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#article .sentence[data-index='2'][data-reviewed='accepted']")
    shown = sentences(page)
    assert (shown[1]["label"], shown[1]["model"], shown[1]["reviewed"]) == (corrected, api[1]["label"], "corrected")
    assert (shown[2]["label"], shown[2]["reviewed"]) == (api[2]["label"], "accepted")
    assert all(node["reviewed"] == "" for node in shown[3:])
    assert "2 earlier decision(s) restored" in page.text_content("#status")

    records = FeedbackStore(feedback_dir).read("example_article.txt")
    assert [(r["sentence_index"], r["text"], r["model_label"], r["reviewer_label"], r["action"]) for r in records] == [
        (1, api[1]["text"], api[1]["label"], corrected, "corrected"),
        (2, api[2]["text"], api[2]["label"], api[2]["label"], "accepted")]
    assert all(r["model_version"] == classifier.version and r["timestamp"] for r in records)
    assert all(r["article_id"] == "example_article.txt" for r in records)


def test_markup_in_an_article_is_shown_as_text_and_never_runs(page):
    article = ("Officials said the <b>bridge</b> was hit. <script>window.__pwned = 1; alert('script')</script>\n\n"
               "Witnesses described <img src=x onerror=\"window.__pwned = 2; alert('img')\"> a blast. "
               "<iframe srcdoc=\"<script>parent.__pwned = 3</script>\"></iframe> It could not be verified.")
    classify_in_page(page, article)
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []
    assert page.eval_on_selector_all("#article *", "nodes => nodes.filter(n => !n.matches("
                                     f"'{ALLOWED_IN_ARTICLE}')).map(n => n.tagName)") == []
    shown = page.text_content("#article")
    assert "<script>window.__pwned = 1;" in shown and "<img src=x onerror=" in shown and "<b>bridge</b>" in shown


def test_filter_threshold_and_narrow_window(page):
    classify_in_page(page, EXAMPLE.read_text(encoding="utf-8"))
    shown = sentences(page)
    hidden_label = shown[0]["label"]
    page.uncheck(f"#legend input[data-label={hidden_label}]")
    filtered = page.eval_on_selector_all("#article .sentence.filtered-out", "ns => ns.map(n => n.dataset.label)")
    assert filtered and set(filtered) == {hidden_label}
    visible = [s["index"] for s in shown if s["label"] != hidden_label]
    page.click("h1")
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.dataset.index") == str(visible[0])  # j skips filtered sentences

    page.fill("#threshold", "1")
    assert page.text_content("#threshold-value") == "100%"
    assert page.eval_on_selector_all("#article .sentence:not(.below-threshold)", "ns => ns.length") == 0
    page.fill("#threshold", "0")
    assert page.eval_on_selector_all("#article .sentence.below-threshold", "ns => ns.length") == 0

    page.set_viewport_size({"width": 390, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    article_box = page.locator("#article").bounding_box()
    needs_box = page.locator("#needs-list").bounding_box()
    assert needs_box["y"] > article_box["y"] + article_box["height"] - 1  # the panel moves below the text
    unnamed = page.eval_on_selector_all(
        "button, input, select, textarea",
        "els => els.filter(e => !e.labels?.length && !e.getAttribute('aria-label') && !e.textContent.trim())"
        ".map(e => e.id || e.outerHTML)")
    assert unnamed == []


def test_open_a_jsonl_file_and_export_the_review(page, tmp_path):
    lines = [json.dumps({"id": "wire-1", "text": "The ministry said the bridge reopened. Analysts expect delays."}),
             "not json",
             json.dumps({"id": "wire-2", "text": "Reuters verified the video's location."})]
    page.set_input_files("#file", files=[{"name": "batch.jsonl", "mimeType": "application/x-ndjson",
                                          "buffer": "\n".join(lines).encode()}])
    page.wait_for_selector("#status:has-text('classified')")
    assert page.input_value("#article-id") == "wire-1"
    assert "Skipped 1 line(s)" in page.text_content("#status")
    assert page.eval_on_selector_all("#article-select option", "os => os.map(o => o.textContent)") == ["wire-1", "wire-2"]
    page.click("#article .sentence[data-index='0']")
    page.keyboard.press("4")
    page.wait_for_selector("#article .sentence[data-index='0'][data-saved='saved']")

    with page.expect_download() as download:
        page.click("#export-jsonl")
    rows = [json.loads(line) for line in Path(download.value.path()).read_text().splitlines()]
    assert [r["sentence_index"] for r in rows] == [0, 1]
    assert rows[0]["reviewer_label"] == rows[0]["label"] == LABEL_IDS[3] and rows[1]["reviewer_label"] == ""
    assert all(r["article_id"] == "wire-1" for r in rows)

    with page.expect_download() as download:
        page.click("#export-csv")
    csv_lines = Path(download.value.path()).read_text().splitlines()
    assert csv_lines[0].split(",")[:8] == ["article_id", "sentence_index", "start", "end", "text", "label",
                                           "model_label", "reviewer_label"]
    assert len(csv_lines) == 3

    page.select_option("#article-select", "1")
    page.wait_for_selector("#article-name:has-text('wire-2')")
    assert [s["text"] for s in sentences(page)] == ["Reuters verified the video's location."]
