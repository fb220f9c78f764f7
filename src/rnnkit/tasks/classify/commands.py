"""The classifier's commands: ``rnnkit classify RUN`` and ``rnnkit evaluate RUN``.

``rnnkit classify RUN --text "..." --explain`` (a text run trained with
``model.pooling=attention``) prints under each label the words the attention pooling
weighed most, strongest first, each with its share of the weight:

    pos          pos 97.0%  neg 3.0%   <- a moving, beautifully acted film
                 moving 41.0%  beautifully 30.2%  acted 12.5%  film 9.1%  (+3 more 7.2%)

With ``--json`` each result carries the ``"weights"`` of every token, in text order.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rnnkit.tasks.base import Command
from rnnkit.tasks.runner import load_run_of

RUN_HELP = "a run directory from rnnkit train classify"
SHOWN_WORDS = 8  # --explain: the words of the most weight listed under each label


def _classify_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help=RUN_HELP)
    p.add_argument("--text", action="append", help="a text to classify (repeatable)")
    p.add_argument("--file", help="one text per line (numeric runs: one sequence per line)")
    p.add_argument("--top", type=int, help="show only the k likeliest labels")
    p.add_argument("--explain", action="store_true", help="show the weight attention pooling "
                   "gave each word (runs trained with model.pooling=attention)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print JSON")


def _read_items(args: argparse.Namespace, clf) -> list:
    from rnnkit.tasks.classify.use import read_lines, read_numbers

    if (args.text is None) == (args.file is None):
        raise ValueError('give --text "..." (repeatable) or --file PATH')
    if args.text is not None:
        return args.text
    if clf.tokenizer is None:
        return read_numbers(args.file, clf.input_size)
    return [line for line in read_lines(args.file) if line.strip()]  # one text per line


def _classify(args: argparse.Namespace) -> int:
    from rnnkit.tasks.classify.use import check_explainable

    clf = load_run_of("classify", args.run)
    if args.top is not None and args.top < 1:
        raise ValueError(f"--top must be a positive int, got {args.top}")
    if args.explain:
        check_explainable(clf)  # before a --file is read
    items = _read_items(args, clf)
    results = clf.task.predict(clf, items, top=args.top, explain=args.explain)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for item, result in zip(items, results, strict=True):
        shown = item if isinstance(item, str) else f"sequence of {len(item)} steps"
        probs = "  ".join(f"{label} {p:.1%}" for label, p in result["probabilities"].items())
        print(f"{result['label']:<12} {probs}   <- {shown[:60]}")
        if "weights" in result:
            unread = f"  ({result['unread']} more not read)" if "unread" in result else ""
            print(f"{'':<12} {strongest(result['weights'])}{unread}")
    return 0


def strongest(weights: list[list], shown: int = SHOWN_WORDS) -> str:
    """``"moving 41.0%  film 9.1%  (+3 more 7.2%)"``: the ``shown`` tokens of the most weight,
    strongest first (blank ones, such as spaces, never listed), and what the rest hold."""
    ranked = sorted(((str(t).strip(), float(w)) for t, w in weights), key=lambda pair: -pair[1])
    top = [(token, weight) for token, weight in ranked if token][:shown]
    line = "  ".join(f"{token} {weight:.1%}" for token, weight in top)
    if rest := len(ranked) - len(top):
        line += f"  (+{rest} more {sum(w for _, w in ranked) - sum(w for _, w in top):.1%})"
    return line


def _evaluate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help=RUN_HELP)
    p.add_argument("--data", required=True, help="digits, mnist, imdb, a folder or a table")
    p.add_argument("--text-column", help="default: the run's data.text_column")
    p.add_argument("--label-column", help="default: the run's data.label_column")
    p.add_argument("--out", help="folder for evaluation.json and confusion.png")
    p.add_argument("--force", action="store_true", help="replace those files if they exist")
    p.add_argument("--json", action="store_true", help="print JSON")


def _evaluate(args: argparse.Namespace) -> int:
    from rnnkit.tasks.classify.use import evaluate_run

    columns = {
        k: v
        for k, v in (("text_column", args.text_column), ("label_column", args.label_column))
        if v
    }
    if args.out and not args.force:
        for name in ("evaluation.json", "confusion.png"):
            if (Path(args.out) / name).exists():
                raise ValueError(f"{Path(args.out) / name} already exists; pass --force to "
                                 "replace it")  # fmt: skip
    report = evaluate_run(args.run, args.data, out=args.out, **columns)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.format())
    return 0


COMMANDS = (
    Command(
        "classify", "label texts or sequences with a classify run", _classify_arguments, _classify
    ),
    Command(
        "evaluate",
        "score a classify run on labelled data: accuracy, F1, confusion",
        _evaluate_arguments,
        _evaluate,
    ),
)
