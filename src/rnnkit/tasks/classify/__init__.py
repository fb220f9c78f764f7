"""Sequence classification: ``rnnkit train classify``, one label for a whole sequence.

The task object: `rnnkit.tasks.classify.task` prepares the data and model and reports the
test scores, `.use` loads a run, labels new inputs and explains the labels of an
attention-pooled text run (the weight of each word), `.commands` adds ``rnnkit classify``
(``--explain``) and ``rnnkit evaluate``, `.routes` serves ``POST /classify`` and its page
section.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from rnnkit.tasks.base import Built, Command, Loaded, Section, Task, register
from rnnkit.tasks.classify import task
from rnnkit.tasks.classify.task import CLASSES_FILE, VOCAB_FILE, ClassifyConfig
from rnnkit.train.distributed import Context


class ClassifyTask(Task):
    name = "classify"
    summary = "one label per sequence: digits read row by row, sentiment, any labelled text"
    config_class = ClassifyConfig
    artefacts = (CLASSES_FILE,)
    optional_artefacts = (VOCAB_FILE,)  # text runs only

    def build(self, config: ClassifyConfig, context: Context) -> Built:
        return task.build(config, context)

    def model(self, config: ClassifyConfig, artefacts: dict[str, Any]) -> nn.Module:
        from rnnkit.tasks.classify.use import read_artefacts

        classes, input_size, tokenizer = read_artefacts(artefacts)
        size = tokenizer.vocab_size if tokenizer is not None else None
        return task.build_model(config, len(classes), size, input_size)

    def loaded(self, run: Loaded) -> Any:
        from rnnkit.tasks.classify.use import classifier_of

        return classifier_of(run)

    def predict(
        self, loaded: Any, inputs: Sequence[Any], top: int | None = None, explain: bool = False
    ) -> list[dict[str, Any]]:
        """Each input's label and class probabilities (only the ``top`` likeliest); with
        ``explain`` (attention-pooled text runs), its tokens' attention ``"weights"`` too."""
        from rnnkit.tasks.classify.use import classify

        return classify(loaded, list(inputs), top=top, explain=explain)

    def format_results(self, results: dict[str, Any]) -> str:
        return results["report"]

    def commands(self) -> Sequence[Command]:
        from rnnkit.tasks.classify.commands import COMMANDS

        return COMMANDS

    def serve(self, loaded: Any, **options: Any) -> Section:
        from rnnkit.tasks.classify.routes import classifier

        return classifier(loaded, **options)


TASK = register(ClassifyTask())
