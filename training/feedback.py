"""Reviewer corrections from `data/feedback/` as extra training sentences (never dev or test)."""
from __future__ import annotations

import logging
from pathlib import Path

from inference.labels import LABEL_IDS
from inference.paths import FEEDBACK_DIR
from training.labelled_data import iter_jsonl, normalise

log = logging.getLogger(__name__)


def read_feedback(held_out: list[dict], gold_train: list[dict], feedback_dir: Path = FEEDBACK_DIR) -> list[dict]:
    """The latest reviewer label per sentence, minus sentences already in any gold split."""
    if not feedback_dir.is_dir():
        return []
    latest: dict[str, dict] = {}
    for path in sorted(feedback_dir.glob("*.jsonl")):
        for number, record, error in iter_jsonl(path):
            if error:
                log.warning("skipping %s", error)
                continue
            text, label = record.get("text"), record.get("reviewer_label")
            if not isinstance(text, str) or not text.strip() or label not in LABEL_IDS:
                log.warning("skipping %s:%d: needs 'text' and a known 'reviewer_label'", path, number)
                continue
            latest[normalise(text)] = {"id": f"feedback:{path.stem}:{number}", "text": text.strip(), "label": label,
                                       "origin": "feedback", "doc_id": f"feedback:{record.get('article_id', path.stem)}",
                                       "source": "review page", "license": "project feedback"}
    taken = {normalise(r["text"]) for r in held_out + gold_train}
    return [record for key, record in sorted(latest.items()) if key not in taken]
