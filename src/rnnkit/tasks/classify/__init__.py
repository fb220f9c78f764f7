"""Sequence classification: ``rnnkit train classify``, one label for a whole sequence.

The task object: `rnnkit.tasks.classify.task` prepares the data and model and reports the
test scores, `.use` loads a run and labels new inputs, `.commands` adds ``rnnkit classify``
and ``rnnkit evaluate``, `.routes` serves ``POST /classify`` and its page section.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from rnnkit.data.tokenizers import tokenizer_from_dict
from rnnkit.tasks.base import Built, Command, Section, Task, register
from rnnkit.tasks.classify import task
from rnnkit.tasks.classify.task import CLASSES_FILE, VOCAB_FILE, ClassifyConfig
from rnnkit.train.distributed import Context


class ClassifyTask(Task):
    name = "classify"
    summary = "one label per sequence: digits read row by row, sentiment, any labelled text"
    config_class = ClassifyConfig
    artefacts = (CLASSES_FILE, VOCAB_FILE)  # vocab.json for texts only

    def build(self, config: ClassifyConfig, context: Context) -> Built:
        return task.build(config, context)

    def model(self, config: ClassifyConfig, artefacts: dict[str, Any]) -> nn.Module:
        saved = artefacts[CLASSES_FILE]
        vocab = artefacts.get(VOCAB_FILE)
        size = tokenizer_from_dict(vocab).vocab_size if vocab is not None else None
        return task.build_model(config, len(saved["classes"]), size, saved["input_size"])

    def load(self, run_dir: str | Path) -> Any:
        from rnnkit.tasks.classify.use import load_classifier

        return load_classifier(self, run_dir)

    def predict(self, loaded: Any, inputs: Sequence[Any]) -> list[dict[str, Any]]:
        from rnnkit.tasks.classify.use import classify

        return classify(loaded, list(inputs))

    def format_results(self, results: dict[str, Any]) -> str:
        return results["report"]

    def commands(self) -> Sequence[Command]:
        from rnnkit.tasks.classify.commands import COMMANDS

        return COMMANDS

    def serve(self, loaded: Any, **options: Any) -> Section:
        from rnnkit.tasks.classify.routes import classifier

        return classifier(loaded, **options)


TASK = register(ClassifyTask())
