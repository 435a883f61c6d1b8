"""Turn HTML into plain text for scoring: markup removed, block elements become paragraph breaks."""
from __future__ import annotations

import logging
import re
from dataclasses import replace
from html.parser import HTMLParser
from typing import Iterable, Iterator

from inference.articles import Article

log = logging.getLogger(__name__)

_SKIP = {"script", "style", "noscript", "template", "svg", "head"}
_BLOCK = {"address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption", "figure", "footer",
          "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
          "section", "table", "td", "th", "title", "tr", "ul"}
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_BREAKS = re.compile(r" *\n[ \n]*")


class _TextCollector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP:
            self.skipping.append(tag)
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if self.skipping and tag == self.skipping[-1]:
            self.skipping.pop()
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(_SPACES.sub(" ", data))


def strip_html(html: str) -> str:
    """Visible text of `html`: tags and script/style removed, entities decoded, paragraphs kept apart."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    text = "".join(collector.parts)
    text = _BREAKS.sub(lambda m: "\n\n" if m.group().count("\n") > 1 else "\n", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


def strip_html_articles(articles: Iterable[Article]) -> Iterator[Article]:
    for article in articles:
        text = strip_html(article.text)
        if text:
            yield replace(article, text=text)
        else:
            log.warning("skipped article %s: no text left after removing HTML markup", article.id)
