"""Print scored JSONL (from `sourcing score`) as readable labelled sentences: python -m inference.show < scored.jsonl"""
from __future__ import annotations

import json
import sys

from inference.labels import BY_ID

COLOURS = {"official_claim": "34", "independent_confirmation": "32", "unverified_assertion": "31",
           "analyst_speculation": "33"}


def main() -> int:
    colour = sys.stdout.isatty()
    for line in sys.stdin:
        if not line.strip():
            continue
        record = json.loads(line)
        name = BY_ID[record["label"]].name
        tag = f"[{name} {record['confidence']:.2f}]"
        if colour:
            tag = f"\033[{COLOURS[record['label']]}m{tag}\033[0m"
        print(f"{record['sentence_index']:3d} {tag} {record['text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
