"""Image captioning: ``rnnkit train caption``, ``rnnkit caption RUN image.png`` and
``POST /caption``.

`rnnkit.tasks.caption.task` holds the config, batches and model; `.sources` makes or reads
the captioned images; `.scores` scores captions (CIDEr-D, written here, beside sacrebleu's
BLEU); `.baselines` and `.report` score the test parts beside an image-blind decoder and
the nearest training image; `.use` loads a run and captions; `.drawing` draws where each
word looked; `.commands` adds ``rnnkit caption``; `.routes` serves ``POST /caption`` and the
page's captioning section.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from rnnkit.data.tokenizers import tokenizer_from_dict
from rnnkit.tasks.base import Built, Command, Loaded, Section, Task, register
from rnnkit.tasks.caption.task import DATA_FILE, VOCAB, CaptionConfig, build_model
from rnnkit.train.distributed import Context


class CaptionTask(Task):
    name = "caption"
    summary = "describe images in words: a convolutional encoder and an LSTM with attention"
    config_class = CaptionConfig
    artefacts = (VOCAB, DATA_FILE)

    def build(self, config: CaptionConfig, context: Context) -> Built:
        from rnnkit.tasks.caption.use import build

        return build(config, context)

    def model(self, config: CaptionConfig, artefacts: dict[str, Any]) -> nn.Module:
        vocab, about = vocab_of(artefacts), artefacts[DATA_FILE]
        try:
            return build_model(config, vocab, about)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{DATA_FILE} is damaged ({e})") from None

    def loaded(self, run: Loaded) -> Any:
        from rnnkit.tasks.caption.use import LoadedCaptioner

        return LoadedCaptioner(**vars(run), vocab=vocab_of(run.artefacts))

    def predict(self, loaded: Any, inputs: Sequence[str], beam: int | None = None,
                attention: bool = False) -> list[dict]:  # fmt: skip
        """Each image file's caption (beam search of ``beam``, default the run's)."""
        from rnnkit.tasks.caption.use import caption, read_run_image

        images = [read_run_image(loaded, path) for path in inputs]
        return caption(loaded, images, beam=beam, attention=attention)

    def format_results(self, results: dict[str, Any]) -> str:
        return results["report"]

    def commands(self) -> Sequence[Command]:
        from rnnkit.tasks.caption.commands import COMMANDS

        return COMMANDS

    def serve(self, loaded: Any, **options: Any) -> Section:
        from rnnkit.tasks.caption.routes import captioner

        return captioner(loaded)


def vocab_of(artefacts: dict[str, Any]):
    """The word tokenizer of a run's ``vocab.json``."""
    try:
        return tokenizer_from_dict(artefacts[VOCAB])
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{VOCAB} is damaged ({e})") from None


TASK = register(CaptionTask())
