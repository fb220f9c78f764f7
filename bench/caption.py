"""Captioning variants side by side at the same budget, in one run.

Each variant is ``rnnkit train caption --data DATA`` with its own settings, trained from
scratch into a temporary run directory and timed; the table gives each test part's BLEU-1,
BLEU-4, CIDEr-D and exact match with beam search and greedily, beside the image-blind
decoder and the nearest training image (the same test images for every variant: scenes are
made with fixed seeds). The default variants answer the question the design raises: does
soft attention pay over the image setting the first state alone (``model.attention=none``)?

usage: python bench/caption.py [--data scenes] [--variant NAME=K=V,K=V ...]
                               [--json out.json] [SECTION.KEY=VALUE ...]

Settings after the options apply to every variant (``train.epochs=2``, say).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from variants import parse_variant, train

VARIANTS = {"soft attention": [], "no attention": ["model.attention=none"]}
BASELINES = ("image-blind decoder", "nearest training image")


def training_seconds(folder: Path) -> float:
    """The seconds the trainer spent in its epochs (metrics.jsonl), evaluations included."""
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    return sum(r["seconds"] for r in map(json.loads, lines) if r.get("kind") == "epoch")


def line(name: str, s: dict) -> str:
    return (f"{name:<26} {s['bleu1']:7.1f} {s['bleu4']:7.1f} {s['cider_d']:8.3f} "
            f"{s['exact']:8.1f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="scenes")
    replaces = "NAME=SECTION.KEY=VALUE[,...] (repeatable; replaces the defaults)"
    parser.add_argument("--variant", action="append", type=parse_variant, help=replaces)
    parser.add_argument("--json", type=Path, help="also write the tables here")
    parser.add_argument("settings", nargs="*", help="SECTION.KEY=VALUE for every variant")
    args = parser.parse_args()
    variants = dict(args.variant) if args.variant else VARIANTS
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, settings) in enumerate(variants.items()):
            folder = Path(tmp) / str(i)
            results, seconds = train("caption", args.data, [*args.settings, *settings], folder)
            trained = round(training_seconds(folder), 1)
            rows[name] = {"seconds": round(seconds, 1), "training_seconds": trained,
                          "scores": results["scores"]}  # fmt: skip
            print(f"{name}: {seconds:.0f} s", file=sys.stderr, flush=True)
    header = f"{'':<26} {'BLEU-1':>7} {'BLEU-4':>7} {'CIDEr-D':>8} {'exact %':>8}"
    for part in results["scores"]:
        print(f"\n{args.data}, {part} images\n{header}")
        for name, row in rows.items():
            table = row["scores"][part]
            beam = next(k for k in table if k.startswith("network, beam"))
            print(line(f"{name}, {beam.removeprefix('network, ')}", table[beam]))
            print(line(f"{name}, greedy", table["network, greedy"]))
        for baseline in BASELINES:
            print(line(baseline, table[baseline]))
    print("\ntraining time (epochs and validation) / whole command:")
    for name, row in rows.items():
        print(f"  {name:<24} {row['training_seconds']:7.0f} s / {row['seconds']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"data": args.data, "variants": rows}, indent=1))


if __name__ == "__main__":
    main()
