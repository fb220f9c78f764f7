"""The speech recognizer's page end to end: headless Chromium (tests/browsing.py) with a fake
microphone that plays a clip spoken by espeak-ng records, uploads and drops audio on the page
that `create_app` serves for a tiny speech run; each answer shows the transcript the run
gives that audio, and a file that is not audio shows the server's reason. An ASGI wrapper
keeps what reached POST /transcribe, to check that a recording arrives as a 16 kHz WAV.
Skipped where Chromium (`make browser`) or espeak-ng is missing."""

import base64
import io
import json
import time
import urllib.error
import urllib.request
import wave

import numpy as np
import pytest
from selenium.webdriver.common.by import By

from browsing import chromium, serving, wait
from rnnkit.data import speech
from rnnkit.data.audio import decode_audio, read_audio
from rnnkit.serve.app import MAX_BODY, allowed_hosts, create_app
from rnnkit.tasks import runner
from rnnkit.tasks.runner import load_run
from rnnkit.tasks.speech.routes import MAX_BYTES
from rnnkit.tasks.speech.use import transcribe
from speaking import need_espeak, write_wav

TEXTS = ["yes", "no", "stop", "go", "yes no", "stop go", "go yes", "no stop", "yes stop go",
         "no go", "go go", "stop no yes"]  # fmt: skip
VOICES = ["en-us+m3", "en-gb+f2"]
TINY = ["train.epochs=1", "model.hidden_size=16", "model.num_layers=1", "model.channels=16",
        "data.n_mels=40", "model.beam=2", "data.val_fraction=0.2", "data.test_fraction=0.2",
        "model.dropout=0"]  # fmt: skip


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """A folder of 24 spoken clips (each text by two voices) with its transcripts.csv."""
    need_espeak()
    folder = tmp_path_factory.mktemp("spoken")
    rows = ["path,text"]
    for i, text in enumerate(TEXTS):
        for j, voice in enumerate(VOICES):
            said = speech.synthesize(speech.Utterance(text, voice, 160 + 10 * j, 50))
            rows.append(f"{write_wav(folder / f'clip{i}-{j}.wav', said).name},{text}")
    (folder / "transcripts.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture(scope="module")
def run(clips, tmp_path_factory):
    """A speech run of one epoch of a tiny network: the page needs answers, not skill."""
    out = tmp_path_factory.mktemp("speech") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RNNKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        runner.train("speech", out, quiet=True,
                     overrides=[f"data.source={json.dumps(str(clips))}", *TINY])  # fmt: skip
    return out


class Listening:
    """An ASGI app in front of ``app`` that keeps the content type and body of each
    ``POST /transcribe`` in ``heard``."""

    def __init__(self, app):
        self.app, self.heard = app, []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/transcribe":
            return await self.app(scope, receive, send)
        body = bytearray()

        async def listened():
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
                if not message.get("more_body"):
                    self.heard.append((dict(scope["headers"]).get(b"content-type"), bytes(body)))
            return message

        await self.app(scope, listened, send)


@pytest.fixture(scope="module")
def served(tmp_path_factory, run):
    """Chromium whose microphone plays a clip over and over, the app's URL, what it heard."""
    said = speech.synthesize(speech.Utterance("stop go yes no", "en-us+m3", 170, 50))
    microphone = write_wav(tmp_path_factory.mktemp("microphone") / "said.wav", said)
    fake = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={microphone}"]  # fmt: skip
    app = Listening(create_app(run, hosts=allowed_hosts("127.0.0.1")))
    with chromium(tmp_path_factory.mktemp("chromium"), fake) as driver, serving(app) as url:
        yield driver, url, app.heard


@pytest.fixture
def page(served):
    """The driver on a freshly loaded page that has read /healthz."""
    driver, url, _ = served
    driver.get_log("browser")  # drop what earlier tests left in the console
    driver.get(url)
    beam = driver.find_element(By.ID, "beam")
    wait(driver, lambda d: beam.get_attribute("value") == "2", "the page did not read /healthz")
    return driver


def shown(driver) -> dict:
    """The answer on show, once there is one."""
    result = driver.find_element(By.ID, "speech-result")
    wait(driver, lambda d: result.is_displayed(), "no transcript shown")
    greedy = driver.find_element(By.ID, "greedy-line")
    return {
        "text": driver.find_element(By.ID, "transcript").text,
        "greedy": driver.find_element(By.ID, "greedy").get_attribute("textContent"),
        "seconds": float(driver.find_element(By.ID, "clip-length").get_attribute("data-seconds")),
        "greedy shown": greedy.is_displayed(),
        "no speech shown": driver.find_element(By.ID, "no-speech").is_displayed(),
    }


def expected(run, audio: np.ndarray) -> dict:
    found = transcribe(load_run(run), [audio], beam=2)[0]
    return found | {"greedy shown": found["greedy"] != found["text"],
                    "no speech shown": found["text"] == ""}  # fmt: skip


def test_a_recording_is_sent_as_a_16_khz_wav_and_its_transcript_shown(page, served, run):
    heard = served[2]
    record = page.find_element(By.ID, "record")
    record.click()
    wait(page, lambda d: record.get_attribute("aria-pressed") == "true", "no recording started")
    time.sleep(2.5)  # past the 2 s that the app's default MAX_BODY would hold
    assert MAX_BODY < 2.5 * 16_000 * 2 < MAX_BYTES
    record.click()
    answer = shown(page)
    kind, body = heard[-1]
    assert kind == b"audio/wav"
    with wave.open(io.BytesIO(body)) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate()) == (1, 2, 16_000)
        assert answer["seconds"] == round(f.getnframes() / 16_000, 3) > 2
    audio = decode_audio(body)
    assert np.sqrt(np.mean(audio**2)) > 0.01  # the fake microphone's speech, not silence
    assert answer == expected(run, audio)
    assert record.text == "Record" and page.get_log("browser") == []


def test_an_uploaded_file_is_sent_as_is_and_its_transcript_shown(page, served, run, clips):
    clip = clips / "clip10-1.wav"
    page.find_element(By.ID, "audio-file").send_keys(str(clip))
    assert shown(page) == expected(run, read_audio(clip))
    assert served[2][-1] == (b"audio/wav", clip.read_bytes())
    assert page.get_log("browser") == []


def test_a_dropped_file_is_transcribed(page, run, clips):
    clip = clips / "clip4-0.wav"
    page.execute_script(
        """const bytes = Uint8Array.from(atob(arguments[1]), (c) => c.charCodeAt(0));
        const files = new DataTransfer();
        files.items.add(new File([bytes], "clip.wav", {type: "audio/wav"}));
        arguments[0].dispatchEvent(new DragEvent("drop", {dataTransfer: files, bubbles: true,
                                                          cancelable: true}));""",
        page.find_element(By.ID, "audio-drop"),
        base64.b64encode(clip.read_bytes()).decode(),
    )
    assert shown(page) == expected(run, read_audio(clip))


def test_a_file_that_is_not_audio_shows_the_servers_reason(page, served, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not audio at all")
    request = urllib.request.Request(served[1] + "transcribe", data=notes.read_bytes())
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 422
    page.find_element(By.ID, "audio-file").send_keys(str(notes))
    error = page.find_element(By.ID, "error")
    wait(page, lambda d: error.is_displayed(), "no error line shown")
    reason = json.loads(refused.value.read())["detail"]
    assert "the upload is not audio" in reason
    assert error.text == reason and "0x" not in reason
    assert not page.find_element(By.ID, "speech-result").is_displayed()


def test_a_clip_over_the_apps_limit_on_a_body_says_so(page, tmp_path):
    long = write_wav(tmp_path / "long.wav", np.zeros(MAX_BYTES // 2 + 16_000, np.float32))
    page.find_element(By.ID, "audio-file").send_keys(str(long))
    error = page.find_element(By.ID, "error")
    wait(page, lambda d: error.is_displayed(), "no error line shown")
    assert "over the size the server takes" in error.text
