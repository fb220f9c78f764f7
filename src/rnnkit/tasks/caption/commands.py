"""The captioner's command: ``rnnkit caption RUN image.png ... [--beam K] [--json]``.

Each image's caption is printed on a line (with ``--json``, the image and its caption);
``--attention out.png`` draws where each word of the first image's caption looked.
"""

from __future__ import annotations

import argparse
import json

from rnnkit.tasks.base import Command
from rnnkit.tasks.runner import load_run_of


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="a run directory from rnnkit train caption")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    p.add_argument("--beam", type=int, help="beam size (1: greedy; default: the run's)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--attention", metavar="PNG", help="draw where each word of the first "
                   "image's caption looked (a run trained with model.attention=soft)")  # fmt: skip


def _caption(args: argparse.Namespace) -> int:
    from rnnkit.tasks.caption.drawing import plot_attention
    from rnnkit.tasks.caption.use import caption, read_run_image

    run = load_run_of("caption", args.run)
    if args.attention and run.model.attention is None:
        raise ValueError(f"{args.run} was trained with model.attention=none: no attention to "
                         "draw; leave out --attention")  # fmt: skip
    images = [read_run_image(run, path) for path in args.images]
    results = caption(run, images, beam=args.beam, attention=bool(args.attention))
    if args.attention:
        first = results[0]
        plot_attention(images[0], first["words"], first["attention"], args.attention)
    if args.json:
        rows = [{"image": path, "caption": r["caption"]}
                for path, r in zip(args.images, results, strict=True)]  # fmt: skip
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        for result in results:
            print(result["caption"])
    return 0


COMMANDS = (Command("caption", "describe images in words with a caption run", _arguments,
                    _caption),)  # fmt: skip
