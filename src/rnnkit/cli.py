"""The `rnnkit` command. Thin: it parses arguments and calls functions a Python user can call.

A user error (a ValueError or a missing file) is one line on stderr and exit status 2; set
RNNKIT_DEBUG=1 to see the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

EXIT_USER_ERROR = 2


def cmd_gradcheck(args: argparse.Namespace) -> int:
    from rnnkit.reference import gradcheck

    rows = gradcheck.run_all(tolerance=args.tolerance, seed=args.seed)
    passed = all(row.passed for row in rows)
    if args.json:
        report = {
            "tolerance": args.tolerance,
            "passed": passed,
            "rows": [row.to_dict() for row in rows],
        }
        print(json.dumps(report, indent=2))
    else:
        print(gradcheck.format_table(rows, tolerance=args.tolerance))
    return 0 if passed else 1


def cmd_train(args: argparse.Namespace) -> int:
    from rnnkit.tasks import runner

    out = args.out or f"runs/{args.task}"
    overrides = list(args.overrides)
    shortcuts = (("source", args.data), ("target", args.target), ("horizon", args.horizon))
    for key, value in shortcuts:
        if value is not None:
            overrides.append(f"data.{key}={json.dumps(value)}")
    run_dir, result = runner.train(
        args.task, out, args.config, overrides, args.resume, quiet=args.quiet
    )
    if runner.is_main_process():
        best = "" if result.best is None else f"; best validation score {result.best:.4f}"
        print(f"trained {args.task} into {run_dir}{best}")
        formatter = getattr(runner.get_task(args.task), "format_results", None)
        if result.results and formatter is not None:
            print(formatter(result.results))
    return 0


DIAGNOSE = {
    "task": "adding",
    "length": 100,
    "kinds": "rnn_tanh,lstm,gru",
    "hidden_size": 64,
    "train_steps": 100,
    "clip_steps": 100,
    "seed": 0,
}


def cmd_diagnose(args: argparse.Namespace) -> int:
    from rnnkit.diagnostics import format_summary, run_diagnose

    if args.run is not None:
        from rnnkit.tasks.runner import diagnose_run

        experiment = ("task", "length", "kinds", "hidden_size", "train_steps", "clip_steps", "seed")
        given = [f"--{n.replace('_', '-')}" for n in experiment if getattr(args, n) != DIAGNOSE[n]]
        if given:
            raise ValueError(f"{', '.join(given)} only apply without a run directory: drop them")

        out = args.out or str(Path(args.run) / "diagnostics")
        report = diagnose_run(args.run, out, batch_size=args.batch_size)
    else:
        out = args.out or "diagnostics"
        report = run_diagnose(
            task=args.task,
            length=args.length,
            kinds=args.kinds.split(","),
            hidden_size=args.hidden_size,
            seed=args.seed,
            out_dir=out,
            train_steps=args.train_steps,
            batch_size=args.batch_size,
            clip_steps=args.clip_steps,
        )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_summary(report))
        print(f"\nwrote {', '.join(report['files'])} into {out}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from rnnkit.tasks.textgen import generate, load_language_model

    lm = load_language_model(args.run)
    text = generate(
        lm, args.prime, args.length, args.temperature, args.top_k, args.top_p, args.seed
    )
    print(json.dumps({"prime": args.prime, "text": text}) if args.json else text)
    return 0


def cmd_complete(args: argparse.Namespace) -> int:
    from rnnkit.tasks.textgen import complete, format_completion, load_language_model

    lm = load_language_model(args.run)
    result = complete(lm, args.text, k=args.k, words=args.words, beam=args.beam)
    print(json.dumps(result, indent=2) if args.json else format_completion(result))
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from rnnkit.data.store import QueryStore

    store = QueryStore(args.db)
    for source in args.sources:
        print(store.ingest(source, column=args.column).summary(), flush=True)
    print(f"{store.path}: {len(store):,} distinct queries, total count {store.total():,}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from rnnkit.serve.export import export_onnx, format_report
    from rnnkit.tasks.textgen import load_language_model

    if not args.onnx:
        raise ValueError("choose the format to export: pass --onnx (the only one so far)")
    lm = load_language_model(args.run)
    report = export_onnx(lm, args.out or lm.run_dir / "model.onnx", overwrite=args.force)
    print(format_report(report))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from rnnkit.serve.app import serve

    serve(
        args.run,
        host=args.host,
        port=args.port,
        threads=args.threads,
        store=args.store,
        int8=args.int8,
        cache_size=args.cache_size,
        max_batch=args.max_batch,
    )
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from rnnkit.tasks.classify_use import classify, load_classifier, read_numbers

    clf = load_classifier(args.run)
    if (args.text is None) == (args.file is None):
        raise ValueError('give --text "..." (repeatable) or --file PATH')
    if args.text is not None:
        items: list = args.text
    elif clf.tokenizer is not None:  # one text per line
        lines = Path(args.file).read_text(encoding="utf-8").splitlines()
        items = [line for line in lines if line.strip()]
    else:
        items = read_numbers(args.file, clf.input_size)
    results = classify(clf, items, top=args.top)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for item, result in zip(items, results, strict=True):
        shown = item if isinstance(item, str) else f"sequence of {len(item)} steps"
        probs = "  ".join(f"{label} {p:.1%}" for label, p in result["probabilities"].items())
        print(f"{result['label']:<12} {probs}   <- {shown[:60]}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from rnnkit.tasks.classify_use import evaluate_run

    columns = {k: v for k, v in (("text_column", args.text_column),
                                 ("label_column", args.label_column)) if v}  # fmt: skip
    report = evaluate_run(args.run, args.data, out=args.out, **columns)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.format())
    return 0


def cmd_forecast(args: argparse.Namespace) -> int:
    from rnnkit.tasks.forecast_use import forecast, format_forecast, load_forecaster, plot_forecast

    result = forecast(load_forecaster(args.run), args.data, args.horizon)
    if args.plot:
        plot_forecast(result, args.plot)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "history"}, indent=2))
    else:
        print(format_forecast(result))
        if args.plot:
            print(f"wrote {args.plot}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from rnnkit.demo import run_demo

    return run_demo(args.out)


def cmd_tour(args: argparse.Namespace) -> int:
    from rnnkit.demo import run_tour

    return run_tour(seed=args.seed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit",
        description="Recurrent neural networks you can understand, build, train and use.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser(
        "gradcheck",
        help="check the NumPy reference's BPTT gradients against finite differences and torch",
        description="For every cell kind, 1 and 2 layers, 1 and 2 directions: compare the "
        "NumPy reference's hand-written BPTT gradients with central finite differences and "
        "with torch autograd in float64. Exits 1 if any relative error exceeds the tolerance.",
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--tolerance", type=float, default=1e-6, help="default: %(default)g")
    check.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    check.set_defaults(handler=cmd_gradcheck)

    train = commands.add_parser(
        "train",
        help="train a task into a run directory",
        description="Train a task into a run directory (config.json, model.safetensors, "
        "metrics.jsonl, loss.png, checkpoint/). Settings come from the task's defaults, "
        "then --config, then SECTION.KEY=VALUE overrides such as train.lr=3e-4. Under "
        "torchrun (torchrun --nproc_per_node=N -m rnnkit train ...) it trains data-parallel.",
    )
    train.add_argument("task", help="what to train: lm, classify, forecast, adding, copy")
    train.add_argument("overrides", nargs="*", metavar="SECTION.KEY=VALUE")
    train.add_argument("--out", help="run directory (default: runs/TASK); must not exist")
    train.add_argument("--config", help="a TOML file with [model], [data] and [train] tables")
    train.add_argument("--data", help="the data source, same as data.source=...")
    train.add_argument("--target", help="forecast: the column to forecast (data.target)")
    train.add_argument("--horizon", type=int, help="forecast: steps ahead (data.horizon)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--quiet", action="store_true", help="print nothing but errors")
    train.set_defaults(handler=cmd_train)

    diagnose = commands.add_parser(
        "diagnose",
        help="show vanishing and exploding gradients through time (plots and JSON)",
        description="Measure ||dLoss/dh_t|| at every time step, layer and direction (and LSTM/GRU "
        "gate saturation), through the NumPy reference. Without RUN: the Elman RNN, LSTM and "
        "GRU compared on a long-memory task, at initialisation (torch's uniform and rnnkit's "
        "orthogonal init) and optionally after training, plus an exploding relu RNN trained "
        "with and without gradient clipping. With RUN: the trained model of that run directory.",
    )
    diagnose.add_argument("run", nargs="?", help="a run directory from rnnkit train (optional)")
    diagnose.add_argument("--task", default=DIAGNOSE["task"], choices=("adding", "copy"))
    diagnose.add_argument("--length", type=int, default=DIAGNOSE["length"], help="T")
    diagnose.add_argument("--kinds", default=DIAGNOSE["kinds"], help="default: %(default)s")
    diagnose.add_argument("--hidden-size", type=int, default=DIAGNOSE["hidden_size"])
    diagnose.add_argument(
        "--train-steps",
        type=int,
        default=DIAGNOSE["train_steps"],
        help="also measure after training (0: skip)",
    )
    diagnose.add_argument(
        "--clip-steps", type=int, default=DIAGNOSE["clip_steps"], help="0 skips the clipping run"
    )
    diagnose.add_argument("--batch-size", type=int, default=32, help="default: %(default)s")
    diagnose.add_argument("--seed", type=int, default=DIAGNOSE["seed"], help="default: 0")
    diagnose.add_argument("--out", help="folder for diagnostics.json and the plots")
    diagnose.add_argument("--json", action="store_true", help="print the report as JSON")
    diagnose.set_defaults(handler=cmd_diagnose)

    gen = commands.add_parser("generate", help="sample text from a language-model run")
    gen.add_argument("run", help="a run directory from rnnkit train lm")
    gen.add_argument("--prime", default="", help="text to start from (default: a new document)")
    gen.add_argument("--length", type=int, default=50, help="tokens to add (default: %(default)s)")
    gen.add_argument(
        "--temperature", type=float, default=0.8, help="0 is greedy; default %(default)s"
    )
    gen.add_argument("--top-k", type=int, help="sample among the k likeliest tokens only")
    gen.add_argument("--top-p", type=float, help="sample among the likeliest tokens up to mass p")
    gen.add_argument("--seed", type=int, help="makes the sample repeatable")
    gen.add_argument("--json", action="store_true", help="print JSON")
    gen.set_defaults(handler=cmd_generate)

    comp = commands.add_parser("complete", help="next-word suggestions and phrase completions")
    comp.add_argument("run", help="a run directory from rnnkit train lm")
    comp.add_argument("text", help='the text typed so far, e.g. "import the"')
    comp.add_argument(
        "-k", type=int, default=5, help="next-token suggestions (default: %(default)s)"
    )
    comp.add_argument(
        "--words", type=int, default=3, help="tokens per completion (default: %(default)s)"
    )
    comp.add_argument(
        "--beam", type=int, default=5, help="completions (beam size; default %(default)s)"
    )
    comp.add_argument("--json", action="store_true", help="print JSON")
    comp.set_defaults(handler=cmd_complete)

    ingest = commands.add_parser(
        "ingest",
        help="add the queries of text, CSV or JSONL files to a query store (SQLite)",
        description="Count the queries of each SOURCE into the SQLite store DB (created when "
        "missing), which rnnkit train lm --data sqlite:///DB learns from. SOURCE: a text file "
        "(one query per line), .csv/.tsv (column 'text') or .jsonl (field 'text'); an optional "
        "'count' column adds that many. Each SOURCE goes in whole or not at all; a file whose "
        "bytes were ingested before is skipped, so rerunning after an error is safe.",
    )
    ingest.add_argument("db", metavar="DB", help="the store: a path or sqlite:///path")
    ingest.add_argument("sources", nargs="+", metavar="SOURCE", help="files of queries")
    ingest.add_argument("--column", help="the CSV/TSV column or JSONL field (default: text)")
    ingest.set_defaults(handler=cmd_ingest)

    export = commands.add_parser(
        "export",
        help="export a language-model run for serving (ONNX), checked against onnxruntime",
        description="Write the run's per-keystroke step (tokens and state in, next-token "
        "log-probabilities and state out) as an ONNX graph, then check that onnxruntime and "
        "torch agree on it within 1e-4 at several batch sizes and lengths; nothing is written "
        "if they do not.",
    )
    export.add_argument("run", help="a run directory from rnnkit train lm")
    export.add_argument("--onnx", action="store_true", help="export to ONNX (required)")
    export.add_argument("--out", help="file to write (default: RUN/model.onnx)")
    export.add_argument("--force", action="store_true", help="replace --out if it exists")
    export.set_defaults(handler=cmd_export)

    srv = commands.add_parser(
        "serve",
        help="autocomplete over HTTP: a JSON API, a web page, feedback into a query store",
        description="Serve a word-level language-model run: GET /complete?q=...&k=5, "
        "POST /feedback, GET /healthz, the search page at / and the API docs at /docs.",
    )
    srv.add_argument("run", help="a run directory from rnnkit train lm (data.level=word)")
    srv.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    srv.add_argument("--port", type=int, default=8000, help="default: %(default)s")
    srv.add_argument("--int8", action="store_true", help="int8 dynamic quantization (faster)")
    srv.add_argument(
        "--store",
        help="SQLite file for feedback (default: the run's sqlite source, else RUN/queries.db)",
    )
    srv.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    srv.add_argument("--cache-size", type=int, default=4096, help="prefixes kept (default: 4096)")
    srv.add_argument("--max-batch", type=int, default=32, help="requests per forward pass")
    srv.set_defaults(handler=cmd_serve)

    cls = commands.add_parser("classify", help="label texts or sequences with a classify run")
    cls.add_argument("run", help="a run directory from rnnkit train classify")
    cls.add_argument("--text", action="append", help="a text to classify (repeatable)")
    cls.add_argument("--file", help="one text per line (numeric runs: one sequence per line)")
    cls.add_argument("--top", type=int, help="show only the k likeliest labels")
    cls.add_argument("--json", action="store_true", help="print JSON")
    cls.set_defaults(handler=cmd_classify)

    ev = commands.add_parser(
        "evaluate", help="score a classify run on labelled data: accuracy, F1, confusion"
    )
    ev.add_argument("run", help="a run directory from rnnkit train classify")
    ev.add_argument("--data", required=True, help="digits, mnist, imdb, a folder or a table")
    ev.add_argument("--text-column", help="default: the run's data.text_column")
    ev.add_argument("--label-column", help="default: the run's data.label_column")
    ev.add_argument("--out", help="folder for evaluation.json and confusion.png")
    ev.add_argument("--json", action="store_true", help="print JSON")
    ev.set_defaults(handler=cmd_evaluate)

    fc = commands.add_parser("forecast", help="forecast the steps after a series with a run")
    fc.add_argument("run", help="a run directory from rnnkit train forecast")
    fc.add_argument("--data", help="the series to continue (default: the run's data.source)")
    fc.add_argument("--horizon", type=int, help="steps to forecast (default: the run's)")
    fc.add_argument("--plot", help="write history, forecast and interval to this PNG")
    fc.add_argument("--json", action="store_true", help="print JSON")
    fc.set_defaults(handler=cmd_forecast)

    demo = commands.add_parser(
        "demo", help="train a word-level LSTM language model on bundled text, then complete"
    )
    demo.add_argument("--out", default="runs/demo", help="run directory (a fresh one if taken)")
    demo.set_defaults(handler=cmd_demo)

    tour = commands.add_parser(
        "tour", help="the gradient check, then a tiny training of each topology on data it makes"
    )
    tour.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    tour.set_defaults(handler=cmd_tour)
    return parser


def _one_line(err: Exception) -> str:
    if isinstance(err, OSError) and err.strerror and err.filename:
        return f"{err.strerror}: {err.filename}"
    return " ".join(str(err).split())


def main(argv: Sequence[str] | None = None) -> int:
    # Denormal floats (a vanishing gradient is full of them) cost the CPU up to 30x per
    # operation; flushing them to zero changes nothing a float32 model can represent.
    torch.set_flush_denormal(True)
    parser = build_parser()
    # Overrides (SECTION.KEY=VALUE) may come before or after the options.
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not hasattr(args, "overrides") or any("=" not in e or e.startswith("-") for e in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*args.overrides, *extra]
    try:
        return args.handler(args)
    except (ValueError, OSError) as err:  # bad input, or a path that cannot be used
        if os.environ.get("RNNKIT_DEBUG"):
            raise
        print(f"rnnkit: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`rnnkit ... | head`): not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silences the flush at exit
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
