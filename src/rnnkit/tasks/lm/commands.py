"""The language model's commands: ``rnnkit generate``, ``complete``, ``export``, ``ingest``."""

from __future__ import annotations

import argparse
import json

from rnnkit.tasks.base import Command
from rnnkit.tasks.lm.engine import SEARCHES
from rnnkit.tasks.runner import load_run_of

RUN_HELP = "a run directory from rnnkit train lm"


def _generate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help=RUN_HELP)
    p.add_argument("--prime", default="", help="text to start from (default: a new document)")
    p.add_argument("--length", type=int, default=50, help="tokens to add (default: %(default)s)")
    p.add_argument(
        "--temperature", type=float, default=0.8, help="0 is greedy; default %(default)s"
    )
    p.add_argument("--top-k", type=int, help="sample among the k likeliest tokens only")
    p.add_argument("--top-p", type=float, help="sample among the likeliest tokens up to mass p")
    p.add_argument("--seed", type=int, help="makes the sample repeatable")
    p.add_argument("--json", action="store_true", help="print JSON")


def _generate(args: argparse.Namespace) -> int:
    from rnnkit.tasks.lm.use import generate

    lm = load_run_of("lm", args.run)
    text = generate(
        lm, args.prime, args.length, args.temperature, args.top_k, args.top_p, args.seed
    )
    print(json.dumps({"prime": args.prime, "text": text}) if args.json else text)
    return 0


def _complete_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help=RUN_HELP)
    p.add_argument("text", help='the text typed so far, e.g. "import the" (or "import th")')
    p.add_argument("-k", type=int, default=5, help="word suggestions (default: %(default)s)")
    p.add_argument(
        "--phrases", type=int, default=3, help="phrase completions (default: %(default)s)"
    )
    p.add_argument("--words", type=int, default=3, help="words per phrase (default: %(default)s)")
    p.add_argument(
        "--search",
        choices=SEARCHES,
        default="greedy",
        help="how phrases are extended (default: %(default)s, as GET /complete)",
    )
    p.add_argument(
        "--beam", type=int, default=5, help="beam width of --search beam (default: %(default)s)"
    )
    p.add_argument("--json", action="store_true", help="print the JSON GET /complete answers")


def _complete(args: argparse.Namespace) -> int:
    from rnnkit.tasks.lm.use import format_completion

    lm = load_run_of("lm", args.run)
    options = {"k": args.k, "phrases": args.phrases, "words": args.words,
               "search": args.search, "beam": args.beam}  # fmt: skip
    (result,) = lm.task.predict(lm, [args.text], **options)
    print(json.dumps(result, indent=2) if args.json else format_completion(result))
    return 0


def _ingest_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("db", metavar="DB", help="the store: a path or sqlite:///path")
    p.add_argument("sources", nargs="*", metavar="SOURCE", help="files of queries")
    p.add_argument("--column", help="the CSV/TSV column or JSONL field (default: text)")
    p.add_argument(
        "--admit-feedback",
        action="store_true",
        help="count the feedback rnnkit serve --feedback recorded as queries (training "
        "reads none before)",
    )


def _ingest(args: argparse.Namespace) -> int:
    from rnnkit.data.store import QueryStore

    if not args.sources and not args.admit_feedback:
        raise ValueError("give files of queries to ingest, or --admit-feedback, or both")
    store = QueryStore(args.db)
    for source in args.sources:
        print(store.ingest(source, column=args.column).summary(), flush=True)
    if args.admit_feedback:
        rows, distinct = store.admit_feedback()
        print(f"feedback: {rows:,} rows admitted, {distinct:,} distinct completions counted")
    elif pending := store.pending_feedback():
        print(f"feedback: {pending:,} rows wait for admission (--admit-feedback)")
    print(f"{store.path}: {len(store):,} distinct queries, total count {store.total():,}")
    return 0


def _export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help=RUN_HELP)
    p.add_argument("--onnx", action="store_true", help="export to ONNX (required)")
    p.add_argument("--out", help="file to write (default: RUN/model.onnx)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")


def _export(args: argparse.Namespace) -> int:
    from rnnkit.tasks.lm.export import export_onnx, format_report

    if not args.onnx:
        raise ValueError("choose the format to export: pass --onnx (the only one so far)")
    lm = load_run_of("lm", args.run)
    report = export_onnx(lm, args.out or lm.run_dir / "model.onnx", overwrite=args.force)
    print(format_report(report))
    return 0


COMMANDS = (
    Command("generate", "sample text from a language-model run", _generate_arguments, _generate),
    Command(
        "complete", "next-word suggestions and phrase completions", _complete_arguments, _complete
    ),
    Command(
        "ingest",
        "add the queries of text, CSV or JSONL files to a query store (SQLite)",
        _ingest_arguments,
        _ingest,
        description="Count the queries of each SOURCE into the SQLite store DB (created when "
        "missing), which rnnkit train lm --data sqlite:///DB learns from. SOURCE: a text file "
        "(one query per line), .csv/.tsv (column 'text') or .jsonl (field 'text'); an optional "
        "'count' column adds that many. Each SOURCE goes in whole or not at all; a file whose "
        "bytes were ingested before is skipped, so rerunning after an error is safe. "
        "Feedback from rnnkit serve --feedback waits apart until --admit-feedback counts it.",
    ),
    Command(
        "export",
        "export a language-model run for serving (ONNX), checked against onnxruntime",
        _export_arguments,
        _export,
        description="Write the run's per-keystroke step (tokens and state in, next-token "
        "log-probabilities and state out) as an ONNX graph, then check that onnxruntime and "
        "torch agree on it within 1e-4 at several batch sizes and lengths; nothing is written "
        "if they do not.",
    ),
)
