"""What the speech tests share: skipping where espeak-ng is missing, and writing WAV files.

`need_espeak` skips the test with the reason `make test` recorded in
.venv/espeak-unavailable (`.ci/install-speech`). The test modules import this one by name:
pytest puts tests/, the folder of the root conftest.py, on sys.path.
"""

import wave
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data import speech

UNAVAILABLE = Path(__file__).resolve().parents[1] / ".venv" / "espeak-unavailable"


def need_espeak() -> None:
    """Skip the calling test where espeak-ng is missing, saying why."""
    try:
        speech.espeak()
    except ValueError as e:
        why = UNAVAILABLE.read_text().strip() if UNAVAILABLE.exists() else str(e)
        pytest.skip(f"espeak-ng is missing: {why}")


def write_wav(path, samples, rate=16_000, channels=1):
    """``samples`` in [-1, 1] (channels interleaved) as a 16-bit PCM WAV at ``path``."""
    data = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(data.tobytes())
    return path
