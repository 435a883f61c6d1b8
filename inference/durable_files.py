"""Durability helper shared by the writers that must not lose work on a crash (scoring output, feedback)."""
from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry (a created or renamed file) to disk; fsync of the file alone does not."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
