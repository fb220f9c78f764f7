"""The speech task end to end on a tiny corpus the test speaks with espeak-ng (four words,
two voices, written as a folder of WAV files with a path,text CSV): it is learned; the
command and the route transcribe; the alignment is drawn; bad inputs are one-line errors
with nothing written."""

import io
import itertools
import json
import wave
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from rnnkit.cli import main
from rnnkit.data import speech
from rnnkit.data.audio import log_mel, read_audio
from rnnkit.serve.app import create_app
from rnnkit.tasks import runner
from rnnkit.tasks.runner import load_run
from rnnkit.tasks.speech.task import DataConfig, SpeechBatches, augment, features
from rnnkit.tasks.speech.use import decode, log_probs, plot_alignment, transcribe
from speaking import need_espeak, write_wav

WORDS = ["yes", "no", "left", "right"]
VOICES = ["en-us+m3", "en-gb+f2"]
SPEEDS = [140, 190]
SMALL = ["model.hidden_size=96", "model.num_layers=2", "model.channels=64", "data.n_mels=40",
         "train.epochs=15", "train.batch_size=8", "train.lr=0.005", "model.beam=4",
         "model.dropout=0", "data.masks=0", "data.noise=0", "data.stretch=0", "data.shift=0",
         "data.val_fraction=0.1", "data.test_fraction=0.1"]  # fmt: skip


def spoken_folder(folder: Path) -> Path:
    """Every sequence of one to three of the words, said by both voices at two rates."""
    texts = [" ".join(p) for k in (1, 2, 3) for p in itertools.product(WORDS, repeat=k)]
    rows = ["path,text"]
    for i, (text, voice, speed) in enumerate(itertools.product(texts, VOICES, SPEEDS)):
        name = f"clip{i}.wav"
        write_wav(folder / name, speech.synthesize(speech.Utterance(text, voice, speed, 50)))
        rows.append(f"{name},{text}")
    (folder / "transcripts.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    need_espeak()
    return spoken_folder(tmp_path_factory.mktemp("spoken"))


@pytest.fixture(scope="module")
def run(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("speech") / "run"
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RNNKIT_CACHE", str(cache))
        runner.train("speech", out, quiet=True,
                     overrides=[f"data.source={json.dumps(str(corpus))}", *SMALL])  # fmt: skip
    return out


def test_the_words_are_learned_and_scored_with_jiwer(run):
    results = json.loads((run / "results.json").read_text())
    # the test part's word sequences are new: the words are learned, not the sentences
    assert results["scores"]["greedy"]["cer"] <= 0.15, results["report"]
    assert results["scores"]["beam 4 + LM"]["wer"] <= 0.2, results["report"]
    assert results["data"]["utterances"]["test"] >= 16
    assert "WER %" in results["report"] and (run / "decoder.json").exists()


def test_beam_one_without_the_language_model_is_greedy_on_a_trained_network(run, corpus):
    loaded = load_run(run)
    audio = [read_audio(p) for p in sorted(corpus.glob("*.wav"))[:12]]
    found = transcribe(loaded, audio, beam=1, lm=False)
    assert [f["text"] for f in found] == [f["greedy"] for f in found]


def test_the_command_the_route_and_the_alignment(run, corpus, capsys, tmp_path):
    clip = sorted(corpus.glob("clip*.wav"))[0]
    rows = (corpus / "transcripts.csv").read_text().splitlines()[1:]
    truth = dict(line.split(",") for line in rows)
    assert main(["transcribe", str(run), str(clip), "--json", "--alignment",
                 str(tmp_path / "a.png")]) == 0  # fmt: skip
    (found,) = json.loads(capsys.readouterr().out)
    assert found["text"] == truth[clip.name] and found["seconds"] > 0.2
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    loaded = load_run(run)
    assert plot_alignment(loaded, read_audio(clip), tmp_path / "b.png") == found["greedy"]
    client = TestClient(create_app(str(run)))
    answer = client.post("/transcribe?beam=2", content=clip.read_bytes())
    assert answer.status_code == 200 and answer.json()["text"] == truth[clip.name]
    refused = client.post("/transcribe", content=b"not audio at all")
    assert refused.status_code == 422 and "not audio" in refused.json()["detail"]
    assert client.get("/healthz").json()["language_model_words"] == len(WORDS)


def test_no_voice_variant_and_no_text_is_in_two_parts():
    parts = speech.spoken_corpus("digits", {"train": 2000, "val": 200, "test": 300})
    variants = {p: {u.voice.split("+")[1] for u in us} for p, us in parts.items()}
    digits = {p: {u.text.replace("zero", "oh") for u in us} for p, us in parts.items()}
    for a, b in itertools.combinations(parts, 2):
        assert not variants[a] & variants[b] and not digits[a] & digits[b]
    assert len(variants["test"]) >= 8 and len({u.voice for u in parts["test"]}) >= 50
    sentences = [f"sentence number {n} is here" for n in range(100)]
    said = speech.spoken_corpus("sentences", {"train": 150, "val": 10, "test": 20},
                                sentences=sentences)  # fmt: skip
    texts = {p: {u.text for u in us} for p, us in said.items()}
    assert not texts["train"] & texts["test"] and not texts["train"] & texts["val"]


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_pcm_wav_of_every_width_is_read(tmp_path, width):
    t = np.arange(1600) / 16_000
    tone = 0.5 * np.sin(2 * np.pi * 300 * t)
    scale = 2 ** (8 * width - 1) - 1
    ints = np.round(tone * scale).astype(np.int64)
    if width == 1:
        raw = (ints + 128).astype(np.uint8).tobytes()
    else:
        raw = b"".join(int(v).to_bytes(width, "little", signed=True) for v in ints)
    with wave.open(str(tmp_path / "w.wav"), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(width)
        f.setframerate(16_000)
        f.writeframes(raw)
    step = 1 / 2 ** (8 * width - 1)  # one step of the integer scale
    np.testing.assert_allclose(read_audio(tmp_path / "w.wav"), tone, atol=1.5 * step)


def test_stereo_at_another_rate_is_mixed_down_and_resampled(tmp_path):
    t = np.arange(44_100) / 44_100
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    stereo = np.stack([tone, tone], axis=1).ravel()
    samples = read_audio(write_wav(tmp_path / "s.wav", stereo, rate=44_100, channels=2))
    assert samples.shape == (16_000,) and samples.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(int(spectrum.argmax()) - 440) <= 1  # one second: bins are 1 Hz apart


def test_the_language_model_keeps_to_known_words(run, corpus):
    loaded = load_run(run)
    clips = sorted(corpus.glob("*.wav"))[:8]
    frames = log_probs(loaded.model, [log_mel(read_audio(c), 40) for c in clips])
    for found in frames:
        assert set(decode(found, 8, loaded.lm, 2.0, 0.5, lexicon=True).split()) <= set(WORDS)


def test_features_are_cached_so_the_next_run_does_not_synthesize(tmp_path, monkeypatch):
    need_espeak()
    said = [speech.Utterance("yes", VOICES[0], 160, 50), speech.Utterance("no", VOICES[1], 170, 40)]
    first = features(said, DataConfig(n_mels=40), cache=tmp_path)
    assert [f.shape[1] for f in first] == [40, 40] and len(list(tmp_path.iterdir())) == 1

    def silent(utterance):
        raise AssertionError("synthesized again")

    monkeypatch.setattr(speech, "synthesize", silent)
    again = features(said, DataConfig(n_mels=40), cache=tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    with pytest.raises(AssertionError, match="synthesized again"):  # other settings: new features
        features(said, DataConfig(n_mels=32), cache=tmp_path)


def test_training_views_are_augmented_reproducibly_and_resume_where_they_stopped():
    generator = torch.Generator().manual_seed(0)
    feats = [torch.randn(60 + 7 * i, 40).half() for i in range(10)]
    texts = ["yes no", "left", "right yes", "no", "yes", "left right", "no no", "yes", "a", "b"]
    data = DataConfig(n_mels=40, noise=1.0, masks=2, stretch=0.1, shift=1)
    batches = SpeechBatches(feats, texts, 4, data, seed=1, augment=True)
    whole = list(batches.epoch(2))
    resumed = list(batches.epoch(2, start=1))
    assert len(resumed) == len(whole) - 1
    assert all(
        torch.equal(a["inputs"], b["inputs"]) for a, b in zip(whole[1:], resumed, strict=True)
    )
    assert not torch.equal(whole[0]["inputs"], next(iter(batches.epoch(3)))["inputs"])
    view = augment(feats[0], data, generator)
    assert 54 <= len(view) <= 67 and view.shape[1] == 40  # up to 10% faster or slower
    assert (view == 0).all(dim=0).any() or (view == 0).all(dim=1).any()  # a mask
    plain = list(SpeechBatches(feats, texts, 4, data).epoch(0))
    assert plain[0]["inputs"].shape[1] == max(plain[0]["lengths"])  # padded to the longest
    assert (plain[0]["targets"] == -100).any()  # texts of different lengths, padded


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: (d / "x.wav").write_text("hello"), "is not audio that can be read"),
        (lambda d: write_wav(d / "x.wav", np.zeros(0)), "holds no audio"),
        (lambda d: write_wav(d / "x.wav", np.zeros(16_000 * 21)), "over the limit of 20 s"),
    ],
)
def test_bad_audio_is_one_line(tmp_path, capsys, run, make, message):
    make(tmp_path)
    assert main(["transcribe", str(run), str(tmp_path / "x.wav")]) != 0
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_bad_sources_are_one_line_and_nothing_is_written(tmp_path, capsys, monkeypatch):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.wav").write_bytes(io.BytesIO().getvalue())
    assert main(["train", "speech", "--data", str(tmp_path / "empty"),
                 "--out", str(tmp_path / "r1")]) != 0  # fmt: skip
    assert "has no transcripts" in capsys.readouterr().err
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert main(["train", "speech", "--data", "digits", "--out", str(tmp_path / "r2")]) != 0
    err = capsys.readouterr().err.strip()
    assert "espeak-ng is not installed: apt-get install espeak-ng" in err and "\n" not in err
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()
