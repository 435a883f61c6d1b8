"""CLI adapters of the labelling loop: `sourcing data audit`, `sourcing suggest`, `sourcing data import-labelstudio`,
`sourcing data silver`.

Run: sourcing data audit --help; sourcing suggest --help; sourcing data import-labelstudio --help;
sourcing data silver --help
"""
from __future__ import annotations

import argparse
import collections
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
    add_import_parser(data_sub)
    add_silver_parser(data_sub)


SILVER_HELP = """Label the corpus sentences no one has labelled with a trained model (silver data, training only).

Scores every sentence of ../shared/corpus that is in an article pinned to the train split and is not labelled,
second-passed or excluded, and writes references and probabilities (never text) to
data/silver/pseudo_labels.jsonl. `sourcing data build` then resolves them into data/build/splits/silver.jsonl,
again only for train-split articles; `sourcing train --set silver_per_epoch=N` trains on N of them per epoch
(those at or above silver_min_confidence). Use a model trained without silver, so errors are not fed back on themselves.

Example:
  sourcing data silver --model models/default && sourcing data build
"""


def add_silver_parser(data_sub) -> None:
    p = data_sub.add_parser("silver", help="label unlabelled corpus sentences with a model (silver, training only)",
                            description=SILVER_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="model directory or MLflow URI (default: models/default)")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="silver file to write (default: data/silver/pseudo_labels.jsonl)")
    p.set_defaults(handler=run_silver)


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


SUGGEST_HELP = """Pick the unlabelled sentences the model is least sure of, to label next.

Sentences already labelled (data/labels), second-passed (data/agreement), excluded (data/excluded) or in
reviewer feedback are never suggested, matched by id and by normalised text; duplicates within the pool
are dropped. Picks are spread over sources and predicted labels (round robin among the 4*N least certain),
at most two per article while others remain.

Strategies (uncertainty in [0, 1]): entropy (normalised entropy of the four probabilities), margin
(1 - gap between the top two), mixed (their mean, the default). random: N drawn uniformly with --seed, in
draw order, no spreading (an unbiased sample, as labelling rounds 7-10 drew; the model only annotates them).
--split train|dev|test|unassigned keeps only sentences of articles pinned to that split (data/split_pins.json).

Output: JSONL with the model's label and probabilities as suggestions (corpus sentences also carry "ref"),
or --format label-studio: a JSON task list with the predictions pre-filled, and OUT.label_config.xml beside it.
Suggestions carry sentence text: keep them in data/build/ (not committed), never in data/labels/.

Examples:
  sourcing suggest --pool ../shared/corpus/ntrex.jsonl --n 200 -o data/build/suggest.jsonl
  sourcing suggest --pool ../shared/corpus/ecbplus.jsonl --pool ../shared/corpus/senate.jsonl \\
      --strategy margin --format label-studio -o data/build/tasks.json
  sourcing suggest --pool ../shared/corpus/ecbplus.jsonl --split train --strategy random --seed 20261209 \\
      --n 1500 -o data/build/round.jsonl
"""

IMPORT_HELP = """Turn a Label Studio JSON export of suggestion tasks into gold label records.

Every annotated task is validated: exactly one of the four labels, annotators agreeing, corpus text unchanged,
ids not labelled already in data/labels. Corpus sentences are written as references ({"ref", "label", "note"}),
never with their text; authored sentences with it. Nothing is written when any problem is found.

Example:
  sourcing data import-labelstudio ~/Downloads/project-3-at-2026-11-25.json -o data/labels/corpus_round2.jsonl
"""


def add_suggest_parser(sub) -> None:
    p = sub.add_parser("suggest", help="pick the unlabelled sentences the model is least sure of",
                       description=SUGGEST_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pool", type=Path, action="append", required=True, metavar="FILE",
                   help="JSONL of {'id', 'text', ...} (a shared corpus file works as it is); repeatable")
    p.add_argument("--n", type=int, default=200, help="how many sentences to suggest (default: 200)")
    # The choices repeat training.suggest's STRATEGIES, RANDOM and SPLIT_CHOICES (a test holds them equal): importing
    # that module here would add its numpy/sklearn imports to the start of every `sourcing` command.
    p.add_argument("--strategy", choices=["entropy", "margin", "mixed", "random"], default="mixed",
                   help="uncertainty measure, or random: a uniform draw with --seed (default: mixed)")
    p.add_argument("--seed", type=int, default=13, help="seed of a random draw or of --max-pool's sample (default: 13)")
    p.add_argument("--split", choices=["train", "dev", "test", "unassigned"], default=None,
                   help="only sentences of articles pinned to this split in data/split_pins.json "
                        "(unassigned: of articles in no split yet; default: every article)")
    p.add_argument("--model", default=None, help="model directory or MLflow URI (default: models/default)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output file (JSONL, or JSON for label-studio)")
    p.add_argument("--format", choices=["jsonl", "label-studio"], default="jsonl", help="output format (default: jsonl)")
    p.add_argument("--max-pool", type=int, default=None,
                   help="score a random sample of this many unlabelled pool sentences (default: all)")
    p.add_argument("--labels-dir", type=Path, default=None, help="gold label folder (default: data/labels)")
    p.add_argument("--corpus-dir", type=Path, default=None, help="shared corpus folder (default: ../shared/corpus)")
    p.set_defaults(handler=run_suggest)


def add_import_parser(data_sub) -> None:
    p = data_sub.add_parser("import-labelstudio", help="Label Studio annotations to gold label records",
                            description=IMPORT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("export", type=Path, metavar="EXPORT.json", help="Label Studio export (JSON format)")
    p.add_argument("-o", "--output", type=Path, required=True, help="gold label file to write, e.g. data/labels/NAME.jsonl")
    p.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    p.add_argument("--labels-dir", type=Path, default=None, help="gold label folder (default: data/labels)")
    p.add_argument("--corpus-dir", type=Path, default=None, help="shared corpus folder (default: ../shared/corpus)")
    p.set_defaults(handler=run_import)


def run_suggest(args: argparse.Namespace) -> int:
    import os

    from inference.classifier import Classifier
    from inference.model_source import ModelLoadError
    from training import label_studio, suggest
    from training.labelled_data import CORPUS_DIR, LABELS_DIR, DataError, load_corpus

    labels_dir, corpus_dir = args.labels_dir or LABELS_DIR, args.corpus_dir or CORPUS_DIR
    if args.n < 1:
        return fail("--n must be at least 1")
    missing = [str(p) for p in args.pool if not p.is_file()]
    if missing:
        return fail(f"pool file(s) not found: {', '.join(missing)}")
    try:
        suggest.check_output(args.output, labels_dir)
        labelled = suggest.labelled_data(labels_dir, corpus_dir)
        corpus = load_corpus(corpus_dir) if corpus_dir.is_dir() else {}
        pool, skipped = suggest.read_pool(args.pool, corpus)
        if args.split:
            from training.splits import SPLIT_PINS, read_pins

            pool = suggest.in_split(pool, read_pins(SPLIT_PINS), args.split)
    except DataError as exc:
        return fail(str(exc))
    if not sys.stderr.isatty():
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        classifier = Classifier.load(args.model)
    except ModelLoadError as exc:
        return fail(str(exc))
    suggestions = suggest.suggest(classifier, pool, labelled, args.n, args.strategy, args.max_pool, args.seed)
    if args.format == "label-studio":
        config = label_studio.write_tasks(suggestions, args.output)
        extra = f" (labelling config: {config})"
    else:
        suggest.write_jsonl(suggestions, args.output)
        extra = ""
    counts = ", ".join(f"{label} {n}" for label, n in
                       sorted(collections.Counter(s.model_label for s in suggestions).items()))
    unlabelled = sum(1 for sentence in pool if not labelled.covers(sentence))
    where = {None: "", "unassigned": " of articles in no split"}.get(args.split, f" of {args.split} articles")
    print(f"suggested {len(suggestions)} of {len(pool)} pool sentence(s){where}, "
          f"{unlabelled} of them not labelled yet ({skipped} bad line(s) skipped); "
          f"model labels: {counts}; wrote {args.output}{extra}", file=sys.stderr)
    return 0


def run_silver(args: argparse.Namespace) -> int:
    from inference.classifier import Classifier
    from inference.model_source import ModelLoadError
    from training import silver, suggest
    from training.labelled_data import DataError
    from training.splits import SPLIT_PINS, read_pins

    try:
        pool = silver.unlabelled_pool(suggest.labelled_data(), read_pins(SPLIT_PINS))
        classifier = Classifier.load(args.model)
    except (DataError, ModelLoadError) as exc:
        return fail(str(exc))
    if classifier.info.get("n_silver"):
        print(f"warning: model {classifier.version} was itself trained on silver; its errors would be fed back",
              file=sys.stderr)
    records = silver.pseudo_label(classifier, pool)
    output = args.output or silver.SILVER_FILE
    silver.write_silver(records, output)
    counts = collections.Counter(silver.top_label(r["probabilities"]) for r in records)
    print(f"wrote {len(records)} silver label(s) to {output} (model {classifier.version}); most probable label: "
          + ", ".join(f"{label} {n}" for label, n in sorted(counts.items())), file=sys.stderr)
    return 0


def run_import(args: argparse.Namespace) -> int:
    import json

    from training import label_studio
    from training.labelled_data import CORPUS_DIR, LABELS_DIR, DataError

    if args.output.exists() and not args.force:
        return fail(f"{args.output} exists; pick a new name or pass --force to overwrite it")
    try:
        export = json.loads(args.export.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return fail(f"{args.export}: not found")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return fail(f"{args.export}: not valid JSON ({exc})")
    try:
        records, unannotated = label_studio.from_export(export, args.corpus_dir or CORPUS_DIR,
                                                        args.labels_dir or LABELS_DIR, args.output)
    except DataError as exc:
        return fail(str(exc))
    label_studio.write_gold(records, args.output)
    refs = sum(1 for r in records if "ref" in r)
    print(f"wrote {len(records)} gold record(s) to {args.output} ({refs} corpus reference(s), "
          f"{len(records) - refs} authored); {unannotated} task(s) not annotated yet", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from training.cli import main

    sys.exit(main())
