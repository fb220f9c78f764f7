"""The translator's command: ``rnnkit translate RUN "text" ... [--beam K] [--json]``.

Texts come as arguments, from ``--file`` (one sentence a line) or, with neither, from
standard input; the translations are printed one a line (with ``--json``, source and
translation pairs). ``--attention out.png`` draws the attention matrix of the first.
"""

from __future__ import annotations

import argparse
import json
import sys

from rnnkit.tasks.base import Command
from rnnkit.tasks.runner import load_run_of


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="a run directory from rnnkit train translate")
    p.add_argument("texts", nargs="*", metavar="TEXT", help="sentences to translate")
    p.add_argument("--file", help="one sentence per line ('-' or nothing: standard input)")
    p.add_argument("--beam", type=int, help="beam size (1: greedy; default: the run's)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--attention", metavar="PNG", help="draw where the decoder looked while "
                   "translating the first sentence (greedily)")  # fmt: skip


def _translate(args: argparse.Namespace) -> int:
    from rnnkit.data.tables import read_text

    if args.texts and args.file:
        raise ValueError("give sentences as arguments or --file, not both")
    run = load_run_of("translate", args.run)
    if args.texts:
        texts = args.texts
    elif args.file and args.file != "-":
        texts = [line for line in read_text(args.file).splitlines() if line.strip()]
    else:
        texts = [line for line in sys.stdin.read().splitlines() if line.strip()]
    results = run.task.predict(run, texts, beam=args.beam)
    if args.attention:
        from rnnkit.tasks.translate.use import plot_attention

        plot_attention(run, texts[0], args.attention)
    if args.json:
        pairs = [{"source": t, **r} for t, r in zip(texts, results, strict=True)]
        print(json.dumps(pairs, indent=2, ensure_ascii=False))
    else:
        for result in results:
            print(result["translation"])
    return 0


COMMANDS = (Command("translate", "translate sentences with a translate run", _arguments,
                    _translate),)  # fmt: skip
