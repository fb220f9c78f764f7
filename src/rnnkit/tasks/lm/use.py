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

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from rnnkit.data.tokenizers import Tokenizer
from rnnkit.models import LanguageModel
from rnnkit.models.decoding import beam_search, sample
from rnnkit.tasks.base import Loaded


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

    def reorder_state(self, state: Any, index: Tensor) -> Any:
        return self.model.reorder_state(state, index)


def _start(lm: LoadedLM, text: str) -> tuple[Tensor, Any, list[int]]:
    """Read ``text`` (a new document when empty): (last token (1,), state, prompt ids)."""
    ids = lm.tokenizer.encode(text) if text else []
    prompt = torch.tensor([[lm.tokenizer.eos_id, *ids]])  # <eos> first: a document starts
    tokens, state = lm.model.start(prompt)
    return tokens, state, ids


def _unknown(lm: LoadedLM, text: str, ids: list[int]) -> list[str]:
    words = getattr(lm.tokenizer, "words", None)
    if words is None:
        return []
    return [w for w, i in zip(words(text), ids, strict=False) if i == lm.tokenizer.unk_id]


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


@torch.no_grad()
def complete(lm: LoadedLM, text: str, k: int = 5, words: int = 3, beam: int = 5) -> dict:
    """The ``k`` likeliest next tokens after ``text`` and ``beam`` phrase completions of up to
    ``words`` tokens found by beam search, each with its probability under the model.

    Returns plain data: ``{"prompt", "unknown": [...], "next": [{"token", "probability"}],
    "completions": [{"text", "probability"}]}``.
    """
    if not text.strip():
        raise ValueError('give some text to complete, e.g. rnnkit complete RUN "import the"')
    for name, value in (("k", k), ("words", words), ("beam", beam)):
        if value < 1:
            raise ValueError(f"{name} must be a positive int, got {value}")
    tok = lm.tokenizer
    tokens, state, ids = _start(lm, text)
    banned = [tok.unk_id, tok.eos_id]
    logits, _ = lm.model.step(tokens, state)
    probs = logits[0].float().softmax(-1)
    probs[banned] = 0.0
    top = probs.topk(min(k, tok.vocab_size - len(banned)))
    # Byte-level BPE entries spell a leading space as "Ġ": show them as the text they make.
    shown = (lambda i: tok.decode([i]).strip()) if tok.kind == "bpe" else tok.token
    suggestions = [
        {"token": shown(i), "probability": float(p)}
        for p, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
    ]
    found = beam_search(_Without(lm.model, banned), tokens, state, words, None, beam)
    completions = [
        {"text": tok.decode(seq), "probability": float(score.exp())}
        for seq, score in zip(found.tokens[0].tolist(), found.scores[0], strict=True)
    ]
    return {
        "prompt": text,
        "unknown": _unknown(lm, text, ids),
        "next": suggestions,
        "completions": completions,
    }


def format_completion(result: dict) -> str:
    lines = [f"{result['prompt']} ..."]
    if result["unknown"]:
        lines.append(f"  (not in the vocabulary: {', '.join(result['unknown'])})")
    lines.append("  next:        " + "   ".join(
        f"{s['token']} {s['probability']:.1%}" for s in result["next"]))  # fmt: skip
    for c in result["completions"]:
        lines.append(f"  completion:  {c['text']}  ({c['probability']:.2%})")
    return "\n".join(lines)
