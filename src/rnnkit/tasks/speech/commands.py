"""The recognizer's command: ``rnnkit transcribe RUN clip.wav ... [--beam K] [--json]``.

Each audio file (WAV, FLAC, OGG, ...) is transcribed with beam search and the run's word
language model (``--no-lm`` leaves it out); the transcripts are printed one a line, or
with ``--json`` beside the file, the greedy transcript (the best path) and the length.
``--alignment out.png`` draws the first file's spectrogram and the probability of each
character over time.
"""

from __future__ import annotations

import argparse
import json

from rnnkit.tasks.base import Command
from rnnkit.tasks.runner import load_run_of


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="a run directory from rnnkit train speech")
    p.add_argument("files", nargs="+", metavar="AUDIO", help="audio files to transcribe")
    p.add_argument("--beam", type=int, help="beam size (default: the run's)")
    p.add_argument("--no-lm", action="store_true", help="beam search without the language model")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--alignment", metavar="PNG", help="draw the first file's spectrogram and "
                   "the CTC alignment of its characters")  # fmt: skip


def _transcribe(args: argparse.Namespace) -> int:
    run = load_run_of("speech", args.run)
    results = run.task.predict(run, args.files, beam=args.beam, lm=not args.no_lm)
    if args.alignment:
        from rnnkit.data.audio import read_audio
        from rnnkit.tasks.speech.use import plot_alignment

        plot_alignment(run, read_audio(args.files[0], run.config.data.max_seconds), args.alignment)
    if args.json:
        found = [{"file": f, **r} for f, r in zip(args.files, results, strict=True)]
        print(json.dumps(found, indent=2, ensure_ascii=False))
    else:
        for result in results:
            print(result["text"])
    return 0


COMMANDS = (Command("transcribe", "transcribe audio files with a speech run", _arguments,
                    _transcribe),)  # fmt: skip
