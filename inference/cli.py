"""Command-line adapters of the runtime: `sourcing score` and `sourcing serve`."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

EXIT_USAGE = 2

SCORE_HELP = """Score articles sentence by sentence and stream one JSON object per sentence:
{"article_id", "sentence_index", "start", "end", "text", "label", "confidence", "probabilities"}.

INPUT may be text files (one article each; article_id is the file name), JSONL files of
{"id", "text", ...} (extra fields are carried through), directories of either, or - for stdin.
CSV has the same fields, p_<label> columns for the probabilities, and "extra" (the carried fields as JSON).

With -o, output goes to OUTPUT.partial in fsynced chunks and is renamed to OUTPUT when complete;
after a crash, the same command with --resume continues where the last chunk ended.

Examples:
  sourcing score data/examples/example_article.txt
  sourcing score archive.jsonl -o scored.jsonl --resume
  cat article.txt | sourcing score - --format csv
"""


def add_score_parser(sub) -> None:
    p = sub.add_parser("score", help="score articles into labelled sentences (JSONL or CSV)",
                       description=SCORE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="text/JSONL files, directories, or - for stdin")
    p.add_argument("-o", "--output", type=Path,
                   help="output file, written as OUTPUT.partial and renamed when complete (default: standard output)")
    p.add_argument("--model", default=None, help="model directory or MLflow URI (default: models/default)")
    p.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="output format (default: jsonl)")
    p.add_argument("--no-split", action="store_true", help="treat each input record as one sentence")
    p.add_argument("--strip-html", action="store_true",
                   help="remove HTML markup first; offsets then point into the text that was scored")
    p.add_argument("--batch-size", type=int, default=32, help="sentences per model batch (default: 32)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run into the same -o file")
    p.add_argument("--on-error", choices=["skip", "fail"], default="skip",
                   help="bad input records: skip them with a warning (default) or stop with exit code 2")
    p.add_argument("--explain", action="store_true",
                   help='add "cues": the evidence spans behind each label, offsets into the sentence text (slower)')
    p.add_argument("--backend", choices=["auto", "onnx", "onnx-int8", "torch"], default="auto",
                   help="inference engine (default: fused fp32 ONNX when exported, else torch; onnx-int8 is faster but less exact)")
    # Sentences per fsynced chunk; small values make resume tests write often.
    p.add_argument("--chunk-sentences", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(handler=run_score)


def add_serve_parser(sub) -> None:
    p = sub.add_parser("serve", help="serve the HTTP API and the review page",
                       description="Serve POST /v1/classify, GET /health, the OpenAPI description at /openapi.json, "
                                   "and the review page at /. Binds 127.0.0.1 unless --host says otherwise; "
                                   "any other address requires SOURCING_API_TOKEN for writes.")
    p.add_argument("--model", default=None, help="model directory or MLflow URI (default: models/default)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.set_defaults(handler=run_serve)


def fail(message: str) -> int:
    print(f"sourcing: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def run_score(args: argparse.Namespace) -> int:
    from inference.articles import InputError, ReadStats, iter_articles, resolve_inputs
    from inference.classifier import Classifier
    from inference.model_source import ModelLoadError
    from inference.scoring import DEFAULT_CHUNK_SENTENCES, ResumeError, score_stream

    if args.resume and not args.output:
        return fail("--resume needs -o OUTPUT (standard output cannot be resumed)")
    if args.batch_size < 1:
        return fail("--batch-size must be at least 1")
    chunk = args.chunk_sentences or DEFAULT_CHUNK_SENTENCES
    if chunk < 1:
        return fail("--chunk-sentences must be at least 1")
    if args.output and args.output.is_dir():
        return fail(f"-o {args.output} is a directory; give a file name")
    try:
        files = resolve_inputs(args.inputs, exclude=[args.output] if args.output else [])
    except InputError as exc:
        return fail(str(exc))
    if not sys.stderr.isatty():
        # Quiet unless a person watches: no weight-loading bars in pipeline logs.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    _return_large_buffers()
    try:
        classifier = Classifier.load(args.model, backend=args.backend)
    except ModelLoadError as exc:
        return fail(str(exc))
    stats = ReadStats()
    articles = iter_articles(files, args.on_error, stats)
    if args.strip_html:
        from inference.html_text import strip_html_articles

        articles = strip_html_articles(articles)
    try:
        summary = score_stream(classifier, articles, args.output, fmt=args.format, split=not args.no_split,
                               batch_size=args.batch_size, resume=args.resume, chunk_sentences=chunk,
                               resume_key=_resume_key(args, files, classifier.version), explain=args.explain)
    except InputError as exc:
        where = f"; completed chunks are kept in {args.output}.partial: fix the input and rerun with --resume" \
            if args.output else ""
        return fail(f"{exc}{where}")
    except ResumeError as exc:
        return fail(str(exc))
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            _silence_stdout()
            return 0
        return fail(f"{exc.filename or 'output'}: {exc.strerror or exc}")
    print(summary.lines(), file=sys.stderr)
    if stats.skipped:
        print(f"skipped {len(stats.skipped)} bad record(s); see the warnings above", file=sys.stderr)
    if stats.replaced:
        print(f"replaced undecodable characters with U+FFFD in {len(stats.replaced)} file(s) or line(s)",
              file=sys.stderr)
    if classifier.truncated:
        print(f"warning: {classifier.truncated} sentence(s) were longer than the model's window and were truncated",
              file=sys.stderr)
    return 0


def _return_large_buffers() -> None:
    """Have glibc mmap allocations of 128 KiB and more, so freed activation buffers go back to the OS.

    Otherwise its adaptive threshold keeps them in a fragmenting heap and RSS creeps up over a long run
    (MiniLM: 0.65 GB after 2k sentences, 1.06 GB after 120k; with this, 0.57 GB after 20k).
    """
    import ctypes
    import ctypes.util

    m_mmap_threshold = -3
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt(m_mmap_threshold, 128 * 1024)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


def _resume_key(args: argparse.Namespace, files: list[str], model_version: str) -> dict:
    """What must not change between a run and its resume: inputs, model, and everything that shapes a batch
    (the int8 engine's outputs depend on which sentences share one)."""
    model = str(Path(args.model).resolve()) if args.model and Path(args.model).exists() else args.model
    return {"inputs": [f if f == "-" else str(Path(f).resolve()) for f in files], "strip_html": args.strip_html,
            "model": f"{model or 'default'}@{model_version}", "backend": args.backend,
            "batch_size": args.batch_size, "chunk_sentences": args.chunk_sentences,
            **({"explain": True} if args.explain else {})}


def _silence_stdout() -> None:
    """After a closed pipe, point stdout at devnull so the interpreter's final flush does not complain."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def run_serve(args: argparse.Namespace) -> int:
    from inference.server import ServerConfigError, serve

    try:
        serve(args.model, args.host, args.port)
    except ServerConfigError as exc:
        return fail(str(exc))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sourcing-runtime", description="Score and serve sourcing labels.")
    sub = parser.add_subparsers(dest="command", required=True)
    add_score_parser(sub)
    add_serve_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
