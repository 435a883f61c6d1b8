"""Reviewer feedback as JSON lines in `data/feedback/<safe name>.jsonl`, appended with fsync so no complete record is lost."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from pathlib import Path

from inference.durable_files import fsync_dir

log = logging.getLogger(__name__)
SUFFIX = ".jsonl"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_SLUG_CHARS = 60


def safe_name(article_id: str) -> str:
    """A file stem for `article_id` that cannot leave the feedback directory.

    Only letters, digits, `_` and `-` survive (so no `/`, `..` or drive letters);
    a hash of the full id keeps ids that map to the same slug apart.
    """
    slug = _UNSAFE.sub("_", article_id).strip("_")[:_SLUG_CHARS] or "article"
    digest = hashlib.sha256(article_id.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{slug}-{digest}"


class FeedbackStore:
    """Append-only per-article JSONL files; safe for concurrent appends from one process's threads."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._lock = threading.Lock()

    def path_for(self, article_id: str) -> Path:
        path = self.directory / f"{safe_name(article_id)}{SUFFIX}"
        if os.path.dirname(os.path.normpath(path)) != os.path.normpath(self.directory):
            raise ValueError(f"article id {article_id!r} does not map into {self.directory}")
        return path

    def append(self, record: dict) -> Path:
        """Write `record` as one line and fsync it before returning; returns the file written."""
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        path = self.path_for(str(record["article_id"]))
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            created = not path.exists()
            # O_NOFOLLOW: a symlink planted in the directory is refused, not followed.
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            try:
                size = os.fstat(fd).st_size
                # A write cut short by a crash leaves a line without "\n"; end it so
                # the new record starts on its own line and stays readable.
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line
                view = memoryview(line)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                fsync_dir(self.directory)
        return path

    def read(self, article_id: str) -> list[dict]:
        """Every complete record for `article_id`, oldest first; torn or foreign lines are skipped."""
        path = self.path_for(article_id)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return []
        with os.fdopen(fd, "rb") as handle:
            data = handle.read()
        records = []
        for number, raw in enumerate(data.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                log.warning("%s:%d: skipping an incomplete or corrupt feedback line", path.name, number)
                continue
            if isinstance(record, dict) and record.get("article_id") == article_id:
                records.append(record)
        return records
