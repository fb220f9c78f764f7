"""Audio for speech recognition: reading recordings, and log-mel filterbank features.

    samples = read_audio("clip.flac")        # float32 mono at 16 kHz, in [-1, 1]
    features = log_mel(samples)             # (frames, 64): 25 ms windows every 10 ms

`read_audio` reads WAV (the standard library's `wave`, 8 to 32-bit PCM) and, through
soundfile's libsndfile, FLAC, OGG and the rest; bytes (an upload) go through
`decode_audio`. Stereo is mixed down and other sample rates are resampled to 16 kHz
(polyphase, scipy). Empty audio and audio longer than ``max_seconds`` are one-line errors.

`log_mel` is the usual front end of a recognizer: the power spectrum of 25 ms Hann windows
every 10 ms (torch's STFT), summed by ``n_mels`` triangular filters equally spaced on the mel
scale from 0 to 8 kHz (`mel_filterbank`, HTK's mel formula 2595 log10(1 + f/700)), then the
natural log. `normalize` scales each feature of an utterance to zero mean and unit variance
over its frames, so loudness and the recording chain matter less.
"""

from __future__ import annotations

import io
import math
import re
import wave
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "MAX_SECONDS",
    "SAMPLE_RATE",
    "decode_audio",
    "log_mel",
    "mel_filterbank",
    "normalize",
    "read_audio",
    "resample",
]

SAMPLE_RATE = 16_000
MAX_SECONDS = 30.0
WINDOW, HOP = 400, 160  # 25 ms and 10 ms at 16 kHz
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


def read_audio(path: str | Path, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """The samples of an audio file, float32 mono at 16 kHz (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such audio file")
    return decode_audio(path.read_bytes(), str(path), max_seconds)


def decode_audio(data: bytes, name: str = "audio", max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """The samples of an audio file's bytes, float32 mono at 16 kHz; ``name`` is what errors
    call it."""
    try:
        samples, rate = _read_wav(data)
    except (wave.Error, EOFError, ValueError):
        samples, rate = _read_soundfile(data, name)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if samples.size == 0:
        raise ValueError(f"{name} holds no audio (0 samples)")
    seconds = samples.size / rate
    if seconds > max_seconds:
        raise ValueError(f"{name} is {seconds:.1f} s long, over the limit of {max_seconds:g} s; "
                         "cut it into shorter clips")  # fmt: skip
    return resample(samples.astype(np.float32), rate)


def _read_wav(data: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(data)) as f:
        width, channels, rate = f.getsampwidth(), f.getnchannels(), f.getframerate()
        raw = f.readframes(f.getnframes())
    if width == 1:
        samples = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128
    elif width == 3:  # 24-bit: widen each sample to 32 bits
        b = np.frombuffer(raw[: len(raw) // 3 * 3], np.uint8).reshape(-1, 3).astype(np.int32)
        samples = ((b[:, 0] << 8 | b[:, 1] << 16 | b[:, 2] << 24) >> 8) / 2.0**23
    elif width in (2, 4):
        kind = np.int16 if width == 2 else np.int32
        whole = raw[: len(raw) // width * width]
        samples = np.frombuffer(whole, kind) / float(2 ** (8 * width - 1))
    else:
        raise ValueError(f"{width * 8}-bit WAV")
    samples = np.asarray(samples, np.float32)
    return samples[: samples.size // channels * channels].reshape(-1, channels), rate


def _read_soundfile(data: bytes, name: str) -> tuple[np.ndarray, int]:
    try:
        import soundfile
    except ImportError:  # pragma: no cover - soundfile is a dependency
        raise ValueError(f"{name}: only PCM WAV can be read without soundfile "
                         "(pip install soundfile)") from None  # fmt: skip
    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        why = re.sub(r"^Error opening .*?: ", "", why)  # names an in-memory file object
        raise ValueError(f"{name} is not audio that can be read (WAV, FLAC, OGG, ...): "
                         f"{why}") from None  # fmt: skip
    return samples, rate


def resample(samples: np.ndarray, rate: int, to: int = SAMPLE_RATE) -> np.ndarray:
    """``samples`` at ``rate`` Hz resampled to ``to`` Hz (polyphase filtering)."""
    if rate == to:
        return samples
    from scipy.signal import resample_poly

    g = math.gcd(rate, to)
    return resample_poly(samples, to // g, rate // g).astype(np.float32)


def mel_filterbank(n_mels: int, n_fft: int = WINDOW, rate: int = SAMPLE_RATE) -> torch.Tensor:
    """(n_fft // 2 + 1, n_mels) triangular filters, equally spaced in mel from 0 to rate / 2;
    each peaks at 1 on its centre frequency."""
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    hz = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    edges = hz(np.linspace(0, mel(rate / 2), n_mels + 2))
    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - lower) / (centre - lower)
    falling = (upper - freqs) / (upper - centre)
    return torch.tensor(np.maximum(0, np.minimum(rising, falling)).T, dtype=torch.float32)


_BANKS: dict[int, torch.Tensor] = {}


def log_mel(samples: np.ndarray | torch.Tensor, n_mels: int = 64) -> torch.Tensor:
    """(frames, n_mels) log mel power of 16 kHz samples: one frame per 10 ms."""
    x = torch.as_tensor(samples, dtype=torch.float32)
    if x.numel() < WINDOW:
        x = torch.nn.functional.pad(x, (0, WINDOW - x.numel()))
    spectrum = torch.stft(x, n_fft=WINDOW, hop_length=HOP, window=torch.hann_window(WINDOW),
                          center=True, return_complex=True)  # fmt: skip
    if n_mels not in _BANKS:
        _BANKS[n_mels] = mel_filterbank(n_mels)
    power = spectrum.abs().square().T @ _BANKS[n_mels]
    return torch.log(power + 1e-10)


def normalize(features: torch.Tensor) -> torch.Tensor:
    """Each feature (column) of one utterance at zero mean and unit variance over its
    frames."""
    mean = features.mean(dim=0, keepdim=True)
    std = features.std(dim=0, keepdim=True, unbiased=False)
    return (features - mean) / (std + 1e-5)
