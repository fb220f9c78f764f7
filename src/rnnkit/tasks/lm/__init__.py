"""Language modelling: ``rnnkit train lm``, the network that predicts the next token.

The task object: `rnnkit.tasks.lm.task` prepares the token streams, builds the model and
reports it beside the Kneser-Ney baseline of `rnnkit.models.ngram`; `.use` generates and
completes text; `.engine` and `.inference` answer keystrokes from a state cache; `.export`
writes the step as ONNX; `.commands` adds ``generate``, ``complete``, ``ingest`` and
``export``; `.routes` serves autocomplete (``/complete``, ``/feedback``) and its page section.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rnnkit.data.tokenizers import Tokenizer, tokenizer_from_dict
from rnnkit.models import LanguageModel
from rnnkit.tasks.base import Built, Command, Loaded, Option, Section, Task, register
from rnnkit.tasks.lm import task
from rnnkit.tasks.lm.task import VOCAB_FILE, LMConfig, build_model, format_report
from rnnkit.train.distributed import Context

SERVE_OPTIONS = (
    Option("--int8", "int8", "lm: int8 dynamic quantization (faster)", type=None),
    Option("--feedback", "feedback", "lm: take POST /feedback (kept apart from the queries "
           "trained on until rnnkit ingest DB --admit-feedback)", type=None),
    Option("--store", "store", "lm: SQLite file for --feedback (default: the run's sqlite "
           "source, else RUN/queries.db)", metavar="DB"),
    Option("--feedback-rate", "feedback_rate", "lm: feedback writes a minute (default: 60)",
           type=int, metavar="N"),
    Option("--feedback-cap", "feedback_cap", "lm: feedback rows a server run may add "
           "(default: 1000)", type=int, metavar="ROWS"),
    Option("--feedback-bytes", "feedback_bytes", "lm: feedback bytes a server run may add "
           "(default: 1 MiB)", type=int, metavar="BYTES"),
    Option("--cache-size", "cache_size", "lm: prefixes kept (default: 4096)", type=int),
    Option("--max-batch", "max_batch", "lm: requests per forward pass (default: 32)", type=int),
)  # fmt: skip


class LanguageModelTask(Task):
    name = "lm"
    summary = "a language model: the next token of any text (autocomplete, generation)"
    config_class = LMConfig
    artefacts = (VOCAB_FILE,)
    serve_options = SERVE_OPTIONS

    def build(self, config: LMConfig, context: Context) -> Built:
        return task.build(config, context)

    def upgrade(self, saved: dict[str, Any], version: int) -> dict[str, Any]:
        bptt = saved.get("train", {}).get("bptt")
        saved = super().upgrade(saved, version)
        if version < 2 and bptt is not None:  # format 1 kept the chunk length under train
            saved = saved | {"data": saved.get("data", {}) | {"bptt": bptt}}
        return saved

    def model(self, config: LMConfig, artefacts: dict[str, Any]) -> LanguageModel:
        return build_model(config, _tokenizer(artefacts).vocab_size)

    def loaded(self, run: Loaded) -> Any:
        from rnnkit.tasks.lm.use import LoadedLM

        return LoadedLM(**vars(run), tokenizer=_tokenizer(run.artefacts))

    def predict(
        self,
        loaded: Any,
        inputs: Sequence[str],
        k: int = 5,
        phrases: int = 3,
        words: int = 3,
        search: str = "greedy",
        beam: int = 5,
    ) -> list[dict[str, Any]]:
        """What ``GET /complete`` answers for each text (`rnnkit.tasks.lm.use.complete_all`;
        the options are its)."""
        from rnnkit.tasks.lm.use import complete_all

        options = {"words": words, "search": search, "beam": beam}
        return complete_all(loaded, list(inputs), k, phrases, **options)

    def format_results(self, results: dict[str, Any]) -> str:
        return format_report(results)

    def commands(self) -> Sequence[Command]:
        from rnnkit.tasks.lm.commands import COMMANDS

        return COMMANDS

    def serve(self, loaded: Any, **options: Any) -> Section:
        from rnnkit.tasks.lm.routes import autocomplete

        return autocomplete(loaded, **options)


def _tokenizer(artefacts: dict[str, Any]) -> Tokenizer:
    try:
        return tokenizer_from_dict(artefacts[VOCAB_FILE])
    except ValueError as e:
        raise ValueError(f"{VOCAB_FILE} is damaged ({e})") from None


TASK = register(LanguageModelTask())
