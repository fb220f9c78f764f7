"""Speech recognition: ``rnnkit train speech``, ``rnnkit transcribe RUN clip.wav`` and
``POST /transcribe``.

`rnnkit.tasks.speech.task` reads or synthesizes the corpus, computes and caches its features
and builds the `Recognizer`; `.scores` computes error rates (jiwer) and tunes the language
model's weight; `.use` loads a run and transcribes; `.commands` adds ``rnnkit transcribe``;
`.routes` serves ``POST /transcribe`` and the page's speech section.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from rnnkit.models.ctc import WordLM
from rnnkit.tasks.base import Built, Command, Loaded, Section, Task, register
from rnnkit.tasks.speech.task import DATA_FILE, DECODER_FILE, LM_FILE, SpeechConfig
from rnnkit.train.distributed import Context


class SpeechTask(Task):
    name = "speech"
    summary = "transcribe speech: a bidirectional recurrent network trained with CTC"
    config_class = SpeechConfig
    artefacts = (LM_FILE, DATA_FILE)
    optional_artefacts = (DECODER_FILE,)  # written once the weights are tuned

    def build(self, config: SpeechConfig, context: Context) -> Built:
        from rnnkit.tasks.speech.use import build

        return build(config, context)

    def model(self, config: SpeechConfig, artefacts: dict[str, Any]) -> nn.Module:
        from rnnkit.tasks.speech.use import build_model

        return build_model(config)

    def loaded(self, run: Loaded) -> Any:
        from rnnkit.tasks.speech.use import LoadedRecognizer

        try:
            lm = WordLM.from_dict(run.artefacts[LM_FILE])
            decoder = run.artefacts.get(DECODER_FILE, {"alpha": 0.5, "beta": 1.0})
            alpha, beta = float(decoder["alpha"]), float(decoder["beta"])
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{run.run_dir}: {LM_FILE} or {DECODER_FILE} is damaged ({e})") \
                from None  # fmt: skip
        return LoadedRecognizer(**vars(run), lm=lm, alpha=alpha, beta=beta)

    def predict(self, loaded: Any, inputs: Sequence[str], beam: int | None = None,
                lm: bool = True) -> list[dict]:  # fmt: skip
        """Each audio file's transcript (beam search of ``beam``, default the run's)."""
        from rnnkit.data.audio import read_audio
        from rnnkit.tasks.speech.use import transcribe

        audio = [read_audio(path, loaded.config.data.max_seconds) for path in inputs]
        return transcribe(loaded, audio, beam=beam, lm=lm)

    def format_results(self, results: dict[str, Any]) -> str:
        return results["report"]

    def commands(self) -> Sequence[Command]:
        from rnnkit.tasks.speech.commands import COMMANDS

        return COMMANDS

    def serve(self, loaded: Any, **options: Any) -> Section:
        from rnnkit.tasks.speech.routes import recognizer

        return recognizer(loaded)


TASK = register(SpeechTask())
