"""Translation variants side by side at the same budget, in one run.

Each variant is ``rnnkit train translate --data DATA`` with its own settings, trained from
scratch into a temporary run directory and timed; the table gives each one's BLEU and chrF
with beam search and greedily, the network-or-memory combination, and the copy and
translation-memory baselines (the same test sentences for every variant: the split does not
depend on the settings). The default variants answer what a sceptic asks of the design:
does attention pay (``model.attention=none``), and one vocabulary for both languages or one
each (``data.joint=false``)?

usage: python bench/translate.py [--data gettext:fr] [--variant NAME=K=V,K=V ...]
                                 [--json out.json] [SECTION.KEY=VALUE ...]

Settings after the options apply to every variant (``train.epochs=8``, say).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from variants import parse_variant, train

VARIANTS = {
    "defaults": [],
    "no attention": ["model.attention=none"],
    "separate vocabularies": ["data.joint=false"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="gettext:fr")
    parser.add_argument(
        "--variant",
        action="append",
        type=parse_variant,
        help="NAME=SECTION.KEY=VALUE[,...] (repeatable; replaces the defaults)",
    )
    parser.add_argument("--json", type=Path, help="also write the table here")
    parser.add_argument("settings", nargs="*", help="SECTION.KEY=VALUE for every variant")
    args = parser.parse_args()
    variants = dict(args.variant) if args.variant else VARIANTS
    rows, baselines = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, settings) in enumerate(variants.items()):
            results, seconds = train(
                "translate", args.data, [*args.settings, *settings], Path(tmp) / str(i)
            )
            table = results["scores"]
            beam = next(k for k in table if k.startswith("network, beam"))
            rows[name] = {"seconds": round(seconds, 1), "beam": table[beam],
                          "greedy": table["network, greedy"],
                          "network or memory": table["network or memory"],
                          "threshold": results["combination"]["threshold"]}  # fmt: skip
            baselines = {k: table[k] for k in ("translation memory", "copy")}
            print(f"{name}: {seconds:.0f} s", file=sys.stderr, flush=True)
    print(
        f"{args.data} ({results['data']['direction']}), {results['data']['pairs']['test']} "
        f"test sentences; BLEU / chrF"
    )
    print(f"{'':<24} {'beam':>11} {'greedy':>11} {'with memory':>12} {'time':>7}")
    pair = lambda s: f"{s['bleu']:5.1f} {s['chrf']:5.1f}"  # noqa: E731
    for name, row in rows.items():
        print(
            f"{name:<24} {pair(row['beam']):>11} {pair(row['greedy']):>11} "
            f"{pair(row['network or memory']):>12} {row['seconds']:6.0f}s"
        )
    for name, s in baselines.items():
        print(f"{name:<24} {pair(s):>11}")
    if args.json:
        args.json.write_text(json.dumps({"data": args.data, "variants": rows,
                                         "baselines": baselines}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
