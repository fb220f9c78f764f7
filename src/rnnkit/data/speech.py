"""Spoken corpora for speech recognition: synthesized by espeak-ng, or the user's recordings.

    parts = spoken_corpus("digits", counts={"train": 4000, "val": 300, "test": 500})
    parts["test"][0]      # Utterance(text="three oh seven", voice="en-gb-scotland+f2", ...)
    samples = synthesize(parts["test"][0])     # float32 mono at 16 kHz

Synthesized corpora (Debian's ``espeak-ng``, `ESPEAK_HINT` when it is missing):

- ``digits``: strings of 1 to 7 digits read as words, zero as "zero" or "oh" (the classic
  connected-digits task);
- ``sentences``: sentences of 3 to 10 words from a text source (`rnnkit.data.sources`,
  the standard library's docstrings by default) whose words all lie in its ``vocabulary``
  most frequent words: a closed vocabulary.

A voice is an English accent and a voice variant of espeak-ng (`ACCENTS` x `VARIANTS`,
"en-gb-scotland+f2"); the variant sets the timbre. Each part has its own variants (in every
accent) and its own texts, both by a hash of their name (`rnnkit.data.paired.split_key`): a
test utterance is a voice never heard in training, in any accent, saying a text never seen
in training. Each utterance has its own speaking rate and pitch,
drawn from a seeded generator, so a corpus is the same on every machine with the same
espeak-ng.

Recordings (`recordings`): a folder with a ``path,text`` CSV (paths relative to the folder),
or in the LibriSpeech layout (``*.trans.txt`` beside the audio, lines ``ID TEXT``, the audio
``ID.flac`` or ``ID.wav``); LibriSpeech speakers (the first part of an ID) are split by hash,
other recordings by their text.

Transcripts are normalized (`normalize_text`) to the alphabet the recognizer writes:
lowercase letters, the apostrophe and single spaces.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.data.audio import AUDIO_SUFFIXES, decode_audio
from rnnkit.data.paired import load_pairs, split_key

__all__ = [
    "ACCENTS",
    "ALPHABET",
    "VARIANTS",
    "Utterance",
    "normalize_text",
    "recordings",
    "sentence_texts",
    "spoken_corpus",
    "synthesize",
    "voices",
]

ALPHABET = " 'abcdefghijklmnopqrstuvwxyz"
ESPEAK_HINT = ("espeak-ng is not installed: apt-get install espeak-ng (or `make data` as root), "
               "or train on a folder of recordings")  # fmt: skip
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp",
           "en-gb-x-gbcwmd", "en-029", "en-us-nyc")  # fmt: skip
# espeak-ng's voice variants that sound like a person (its robots and effects left out).
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
            "klatt", "klatt2", "klatt3", "croak", "whisper", "Andy", "Annie", "Denis",
            "Gene", "Jacky", "Lee", "Mario", "Michael", "Mike", "adam", "aunty", "benjamin",
            "boris", "caleb", "david", "ed", "edward", "grandma", "grandpa", "iven", "john",
            "linda", "max", "michel", "norbert", "pablo", "paul", "quincy", "rob", "robert",
            "steph", "travis", "victor", "zac")  # fmt: skip
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
PARTS = ("train", "val", "test")
SPEEDS, PITCHES = (130, 210), (25, 75)  # words per minute; espeak's 0-99 pitch


@dataclass(frozen=True)
class Utterance:
    """One spoken text: synthesized (``voice``, ``speed``, ``pitch``) or recorded (``path``)."""

    text: str
    voice: str = ""
    speed: int = 0
    pitch: int = 0
    path: str = ""


def normalize_text(text: str) -> str:
    """``text`` in the recognizer's alphabet: lowercase letters and apostrophes, words
    separated by one space; anything else separates words."""
    return " ".join(re.sub(r"[^a-z']+", " ", text.lower()).split())


def espeak() -> str:
    """The espeak-ng program, or a ValueError that says how to install it."""
    found = shutil.which("espeak-ng")
    if found is None:
        raise ValueError(ESPEAK_HINT)
    return found


def espeak_version() -> str | None:
    """espeak-ng's version line (its voices change between versions), None where it is
    missing."""
    try:
        program = espeak()
    except ValueError:
        return None
    return subprocess.run([program, "--version"], capture_output=True, text=True).stdout.strip()


def synthesize(utterance: Utterance) -> np.ndarray:
    """The samples (float32 mono, 16 kHz) of espeak-ng saying ``utterance``."""
    command = [espeak(), "-v", utterance.voice, "-s", str(utterance.speed), "-p",
               str(utterance.pitch), "--stdout", utterance.text]  # fmt: skip
    done = subprocess.run(command, capture_output=True, check=False)
    if done.returncode or len(done.stdout) <= 44:
        why = done.stderr.decode(errors="replace").strip() or "no audio"
        raise ValueError(f"espeak-ng could not say {utterance.text!r} as {utterance.voice}: {why}")
    return decode_audio(done.stdout, f"espeak-ng {utterance.voice}")


def voices(variants: Sequence[str] = VARIANTS) -> list[str]:
    """The synthesized voices of ``variants``, ``accent+variant`` in every accent."""
    return [f"{accent}+{variant}" for accent in ACCENTS for variant in variants]


def check_variants() -> None:
    """Refuse an espeak-ng that lacks one of `VARIANTS`: it would silently speak with its
    base voice instead, and the split by voice would mean nothing."""
    listed = subprocess.run([espeak(), "--voices=variant"], capture_output=True, text=True)
    known = {line.split()[4].removeprefix("!v/") for line in listed.stdout.splitlines()[1:]
             if len(line.split()) >= 5}  # fmt: skip
    missing = [v for v in VARIANTS if v not in known]
    if missing:
        raise ValueError(f"this espeak-ng lacks the voice variants {', '.join(missing[:5])}: "
                         "install espeak-ng 1.51 or later")  # fmt: skip


def part_of(key: str, val_fraction: float, test_fraction: float) -> str:
    """The part ``key`` falls in by its hash: test below ``test_fraction``, then val."""
    at = split_key(key)
    return "test" if at < test_fraction else "val" if at < test_fraction + val_fraction else "train"


def by_part(keys: Sequence[str], val_fraction: float, test_fraction: float) -> dict[str, list[str]]:
    parts: dict[str, list[str]] = {part: [] for part in PARTS}
    for key in keys:
        parts[part_of(key, val_fraction, test_fraction)].append(key)
    for part, found in parts.items():
        if not found:
            raise ValueError(f"no {part} part: {len(keys)} are too few to split "
                             f"{val_fraction:g} / {test_fraction:g} by hash")  # fmt: skip
    return parts


def sentence_texts(texts: Sequence[str], vocabulary: int = 2000, min_words: int = 3,
                   max_words: int = 10) -> list[str]:  # fmt: skip
    """The sentences of ``texts`` (cut at . ! ? and blank lines) of ``min_words`` to
    ``max_words`` plain words whose words are all among the ``vocabulary`` most frequent
    words of those sentences, normalized and once each, in order of appearance."""
    candidates = []
    for text in texts:
        for sentence in re.split(r"(?<=[.!?])\s+|\n\s*\n", text):
            sentence = " ".join(sentence.split())
            if re.fullmatch(r"[A-Za-z][A-Za-z' ,;:-]*[.!?]?", sentence):
                words = normalize_text(sentence).split()
                if min_words <= len(words) <= max_words:
                    candidates.append(" ".join(words))
    counts = Counter(w for s in dict.fromkeys(candidates) for w in s.split())
    known = {w for w, _ in counts.most_common(vocabulary)}
    return [s for s in dict.fromkeys(candidates) if all(w in known for w in s.split())]


def _digit_text(rng: random.Random) -> tuple[str, str]:
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 7)))
    zero = rng.choice(("zero", "oh"))
    return digits, " ".join(zero if d == "0" else DIGITS[int(d)] for d in digits)


def spoken_corpus(
    kind: str,
    counts: dict[str, int],
    *,
    sentences: Sequence[str] = (),
    val_fraction: float = 0.1,
    test_fraction: float = 0.15,
    seed: int = 0,
) -> dict[str, list[Utterance]]:
    """``counts[part]`` utterances of each part of the synthesized corpus ``kind``
    (``digits``, or ``sentences`` from `sentence_texts`); see the module docstring."""
    if kind not in ("digits", "sentences"):
        raise ValueError(f"unknown spoken corpus {kind!r}: digits or sentences")
    rng = random.Random(seed)
    variants = by_part(list(VARIANTS), val_fraction, test_fraction)
    heard = {part: voices(found) for part, found in variants.items()}
    said = by_part(list(sentences), val_fraction, test_fraction) if kind == "sentences" else {}
    corpus: dict[str, list[Utterance]] = {}
    for part in PARTS:
        texts = []
        while len(texts) < counts[part]:
            if kind == "digits":
                digits, words = _digit_text(rng)
                if part_of(digits, val_fraction, test_fraction) == part:
                    texts.append(words)
            else:  # every sentence of the part in turn, reshuffled each round
                texts += rng.sample(said[part], len(said[part]))
        corpus[part] = [Utterance(text, rng.choice(heard[part]), rng.randint(*SPEEDS),
                                  rng.randint(*PITCHES))
                        for text in texts[: counts[part]]]  # fmt: skip
    return corpus


def recordings(folder: str | Path, val_fraction: float = 0.1,
               test_fraction: float = 0.1) -> dict[str, list[Utterance]]:  # fmt: skip
    """The recordings of ``folder`` and their transcripts, split (see the module
    docstring)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder of recordings")
    found: list[tuple[str, Utterance]] = []  # (split key, utterance)
    for table in sorted(folder.glob("*.csv")):
        for pair in load_pairs(table, source_column="path", target_column="text"):
            path = (folder / pair.source).resolve()
            found.append((normalize_text(pair.target), _recorded(path, pair.target, table)))
    for listing in sorted(folder.rglob("*.trans.txt")):
        for number, line in enumerate(listing.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            name, _, text = line.strip().partition(" ")
            audio = [listing.parent / f"{name}{s}" for s in AUDIO_SUFFIXES]
            path = next((p for p in audio if p.is_file()), audio[1])
            found.append((name.split("-")[0], _recorded(path, text, f"{listing}:{number}")))
    if not found:
        raise ValueError(f"{folder} has no transcripts: add a path,text CSV, or use the "
                         "LibriSpeech layout (*.trans.txt beside the audio)")  # fmt: skip
    parts: dict[str, list[Utterance]] = {part: [] for part in PARTS}
    for key, utterance in found:
        parts[part_of(key, val_fraction, test_fraction)].append(utterance)
    for part in ("train", "test"):
        if not parts[part]:
            raise ValueError(f"{folder}: its {len(found)} recordings leave no {part} part; "
                             "add more recordings")  # fmt: skip
    return parts


def _recorded(path: Path, text: str, where: object) -> Utterance:
    if not path.is_file():
        raise ValueError(f"{where}: no audio file {path}")
    if not normalize_text(text):
        raise ValueError(f"{where}: the transcript of {path.name} has no letters")
    return Utterance(normalize_text(text), path=str(path))
