"""Screenshot of the review page with the example article: python docs/review_page_screenshot.py [--model DIR]

Serves the model on a free 127.0.0.1 port (feedback goes to a temporary directory), opens the page in
Debian's headless chromium, classifies data/examples/example_article.txt and writes docs/review_page.png.
"""
import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inference.classifier import Classifier  # noqa: E402
from inference.server import create_app, running  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "default"), help="model directory or MLflow URI")
    parser.add_argument("--article", type=Path, default=ROOT / "data" / "examples" / "example_article.txt")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "review_page.png")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    classifier = Classifier.load(args.model)
    with tempfile.TemporaryDirectory() as feedback_dir, running(create_app(classifier, feedback_dir)) as url, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]")
        page.fill("#article-text", args.article.read_text(encoding="utf-8"))
        page.fill("#article-id", args.article.name)
        page.click("#classify")
        page.wait_for_selector("#status:has-text('classified')")
        page.click("h1")
        for _ in range(3):
            page.keyboard.press("j")
        page.screenshot(path=str(args.output), full_page=True)
        browser.close()
    print(f"wrote {args.output} (model {classifier.version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
