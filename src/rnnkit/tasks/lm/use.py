"""Using a trained language model: ``rnnkit generate`` and ``rnnkit complete``.

A run directory is loaded from its own files alone (``config.json``, ``vocab.json``,
``model.safetensors``): the training text need not be there any more.

    lm = load_run("runs/lm")   # rnnkit.tasks.runner.load_run
    complete(lm, "What's the best food to eat in Las", k=5)
    generate(lm, "Return the", length=30, temperature=0.8, seed=0)

Words the model never saw become ``<unk>`` and are reported, not fatal; a prompt of any
length is read step by step into the recurrent state. Suggestions never propose ``<unk>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from rnnkit.data.tokenizers import Tokenizer
from rnnkit.models import LanguageModel
from rnnkit.models.decoding import sample
from rnnkit.tasks.base import Loaded
from rnnkit.tasks.lm.engine import Request, Search, completer


@dataclass
class LoadedLM(Loaded):
    """A language-model run (`rnnkit.tasks.runner.load_run`): the model and its tokenizer."""

    model: LanguageModel
    tokenizer: Tokenizer


class _Without:
    """Drives a model for decoding with some token ids forbidden (``<unk>``, say)."""

    def __init__(self, model: LanguageModel, banned: list[int]) -> None:
        self.model, self.banned = model, banned

    def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]:
        logits, state = self.model.step(tokens, state)
        logits[:, self.banned] = float("-inf")
        return logits, state


def _start(lm: LoadedLM, text: str) -> tuple[Tensor, Any, list[int]]:
    """Read ``text`` (a new document when empty): (last token (1,), state, prompt ids)."""
    ids = lm.tokenizer.encode(text) if text else []
    prompt = torch.tensor([[lm.tokenizer.eos_id, *ids]])  # <eos> first: a document starts
    tokens, state = lm.model.start(prompt)
    return tokens, state, ids


@torch.no_grad()
def generate(
    lm: LoadedLM,
    prime: str = "",
    length: int = 50,
    temperature: float = 0.8,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
) -> str:
    """``prime`` followed by ``length`` sampled tokens (stopping early at ``<eos>``)."""
    if length < 1:
        raise ValueError(f"length must be a positive int, got {length}")
    tokens, state, ids = _start(lm, prime)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    model = _Without(lm.model, [lm.tokenizer.unk_id])
    out = sample(
        model, tokens, state, length, lm.tokenizer.eos_id, temperature, top_k, top_p, generator
    )
    new = [i for i in out.tokens[0].tolist() if i != lm.tokenizer.eos_id]
    return lm.tokenizer.decode(ids + new)


def complete(
    lm: LoadedLM,
    text: str,
    k: int = 5,
    phrases: int = 3,
    *,
    words: int = 3,
    search: Search = "greedy",
    beam: int = 5,
) -> dict:
    """What ``GET /complete`` answers for ``text``, computed the same way (one `Completer`).

    Args:
        k: word suggestions (next tokens for character and BPE runs). Default 5.
        phrases: phrase completions, of the best ``phrases`` suggestions. Default 3.
        words: words (tokens) per phrase, the suggestion included. Default 3.
        search: ``"greedy"`` (default) or ``"beam"`` phrases, the latter of width ``beam``
            (default 5). See `rnnkit.tasks.lm.engine`.

    Returns plain data: ``{"query", "words": [{"word", "text", "probability"}], "phrases":
    [{"text", "completion", "probability"}], "unknown": [...]}``. Unlike the server, no
    limit on the length of ``text`` or on k.
    """
    return complete_all(lm, [text], k, phrases, words=words, search=search, beam=beam)[0]


def complete_all(
    lm: LoadedLM,
    texts: Sequence[str],
    k: int = 5,
    phrases: int = 3,
    *,
    words: int = 3,
    search: Search = "greedy",
    beam: int = 5,
) -> list[dict]:
    """`complete` of every text, in one batch through one `Completer`."""
    engine = completer(lm, phrase_words=words, max_chars=None, max_k=None)
    return engine.complete_batch([Request(text, k, phrases, search, beam) for text in texts])


def format_completion(result: dict) -> str:
    lines = [f"{result['query']} ..."]
    if result["unknown"]:
        lines.append(f"  (not in the vocabulary: {', '.join(result['unknown'])})")
    lines.append("  next:        " + "   ".join(
        f"{s['word']} {s['probability']:.1%}" for s in result["words"]))  # fmt: skip
    for c in result["phrases"]:
        lines.append(f"  completion:  {c['text']}  ({c['probability']:.2%})")
    return "\n".join(lines)
