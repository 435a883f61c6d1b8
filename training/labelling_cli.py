"""Command-line adapters of the labelling loop: `sourcing data audit`, `sourcing suggest`, `sourcing data import-labelstudio`.

Run: sourcing data audit --help; sourcing suggest --help; sourcing data import-labelstudio --help
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inference.cli import fail

AUDIT_HELP = """Rank gold sentences that are likely mislabelled.

Out-of-sample probabilities come from K-fold cross-validation over data/labels, grouped by article
(doc_id), with a cheap model: TF-IDF + logistic regression, frozen MiniLM sentence embeddings + logistic
regression, or their average (`auto` measures all three and keeps the most accurate). cleanlab's
find_label_issues then flags sentences whose given label the out-of-sample model doubts.

Writes OUT_DIR/audit.jsonl (every issue, ranked) and OUT_DIR/audit.md (summary and the top issues).
Corpus sentences are written as references, never with their text.
"""


def add_audit_parsers(data_sub) -> None:
    p = data_sub.add_parser("audit", help="rank likely label errors (cross-validation + cleanlab)",
                            description=AUDIT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--audit-model", choices=["auto", "tfidf", "minilm", "ensemble"], default="auto",
                   help="out-of-sample model (default: auto, the most accurate of the three)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: 5)")
    p.add_argument("--top", type=int, default=100, help="issues listed in audit.md (default: 100)")
    p.add_argument("--labels-dir", type=Path, default=None, help="gold label folder (default: data/labels)")
    p.add_argument("--out-dir", type=Path, default=None, help="where to write the report (default: data/build)")
    p.set_defaults(handler=run_audit)


def run_audit(args: argparse.Namespace) -> int:
    from training import audit
    from training.labelled_data import LABELS_DIR, DataError, read_labels

    if args.folds < 2:
        return fail("--folds must be at least 2")
    out_dir = args.out_dir or audit.AUDIT_DIR
    try:
        examples = read_labels(args.labels_dir or LABELS_DIR)
        result = audit.audit(examples, args.audit_model, args.folds,
                             embedding_cache=audit.AUDIT_DIR / "audit_embeddings.npz")
    except (DataError, ValueError) as exc:
        return fail(str(exc))
    markdown, jsonl = audit.write_audit(result, out_dir, args.top)
    for c in result.candidates:
        chosen = " (used)" if c is result.chosen else ""
        print(f"{c.model}: out-of-sample accuracy {c.accuracy:.4f}, macro-F1 {c.macro_f1:.4f}{chosen}")
    print(f"{len(result.findings)} likely label issues in {result.n_examples} sentences; wrote {markdown} and {jsonl}")
    return 0


def add_suggest_parser(sub) -> None:
    return None


if __name__ == "__main__":
    from training.cli import main

    sys.exit(main())
