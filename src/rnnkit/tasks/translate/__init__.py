"""Machine translation: ``rnnkit train translate``, ``rnnkit translate RUN "text"`` and
``POST /translate``.

`rnnkit.tasks.translate.task` reads the pairs and builds the model, `.scores` translates and
scores beside the baselines, `.use` loads a run and translates, `.commands` adds ``rnnkit
translate``, `.routes` serves ``POST /translate`` and its page section.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from rnnkit.data.tokenizers import tokenizer_from_dict
from rnnkit.tasks.base import Built, Command, Loaded, Section, Task, register
from rnnkit.tasks.translate import task
from rnnkit.tasks.translate.task import DATA_FILE, SOURCE_VOCAB, TARGET_VOCAB, TranslateConfig
from rnnkit.train.distributed import Context


class TranslateTask(Task):
    name = "translate"
    summary = "translate sentences: an encoder-decoder with attention, scored with BLEU and chrF"
    config_class = TranslateConfig
    artefacts = (SOURCE_VOCAB, TARGET_VOCAB, DATA_FILE)

    def build(self, config: TranslateConfig, context: Context) -> Built:
        from rnnkit.tasks.translate.use import build

        return build(config, context)

    def model(self, config: TranslateConfig, artefacts: dict[str, Any]) -> nn.Module:
        return task.build_model(config, *tokenizers_of(artefacts))

    def loaded(self, run: Loaded) -> Any:
        from rnnkit.tasks.translate.use import LoadedTranslator

        source, target = tokenizers_of(run.artefacts)
        return LoadedTranslator(**vars(run), source=source, target=target)

    def predict(self, loaded: Any, inputs: Sequence[str], beam: int | None = None) -> list[dict]:
        """Each text's translation (beam search of ``beam``, default the run's)."""
        from rnnkit.tasks.translate.use import translate

        return [{"translation": t} for t in translate(loaded, list(inputs), beam=beam)]

    def format_results(self, results: dict[str, Any]) -> str:
        return results["report"]

    def commands(self) -> Sequence[Command]:
        from rnnkit.tasks.translate.commands import COMMANDS

        return COMMANDS

    def serve(self, loaded: Any, **options: Any) -> Section:
        from rnnkit.tasks.translate.routes import translator

        return translator(loaded)


def tokenizers_of(artefacts: dict[str, Any]):
    """(source, target) tokenizers of a run's vocabulary files."""
    try:
        return (tokenizer_from_dict(artefacts[SOURCE_VOCAB]),
                tokenizer_from_dict(artefacts[TARGET_VOCAB]))  # fmt: skip
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{SOURCE_VOCAB} or {TARGET_VOCAB} is damaged ({e})") from None


TASK = register(TranslateTask())
