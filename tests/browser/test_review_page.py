"""The review page in headless Chromium (Debian's chromium driven by Playwright) against the real server."""
import json
from pathlib import Path

import httpx
import pytest

from inference.feedback_store import FeedbackStore
from inference.labels import LABEL_IDS, NEEDS_SOURCING
from inference.paths import PROJECT_ROOT
from inference.server import create_app, running

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EXAMPLE = PROJECT_ROOT / "data" / "examples" / "example_article.txt"
UNDERLINES = {1: "solid", 2: "double", 3: "dashed", 4: "dotted"}


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
    page.requests, page.errors, page.dialogs = [], [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    yield page
    context.close()
    assert page.errors == []
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
                                     "'.sentence, .sentence > span')).map(n => n.tagName)") == []
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
