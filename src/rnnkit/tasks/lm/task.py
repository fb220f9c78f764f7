"""Language modelling: ``rnnkit train lm``, the network that predicts the next token.

Text comes from a source (`rnnkit.data.sources`: the Python standard library's docstrings by
default, files, CSV/JSONL columns, SQLite tables, named corpora), is split by document into
train / validation / test (a source's own split where it has one: a folder of train.txt,
valid.txt and test.txt, or wikitext-2; else document i is test when i % 20 == 19, validation
when i % 20 == 18, else train), tokenized at the level of characters, words or byte pairs,
and joined into one stream per split with ``<eos>`` after each document. A document with a
count (a query typed n times, from the ``count`` column of a `rnnkit.data.store.QueryStore`)
stands min(n, `MAX_REPEATS`) times in its split's stream and in the text the tokenizer
counts; the split is by distinct document, so a repeated query never lands in two splits. An
embedding, a Recurrent stack, dropout and an output layer (tied to the embedding by default)
learn the next token with truncated BPTT over that stream.

After training, the best weights are scored on the test split and an interpolated
Kneser-Ney n-gram model fitted on the same training stream is scored beside them, so the
report says what the recurrent network buys over counting. Perplexity is exp(mean
cross-entropy per token); at character level bits per character are reported too.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from rnnkit.config import RecurrentConfig
from rnnkit.data.batching import StreamBatches
from rnnkit.data.sources import Document, load_documents, split_documents
from rnnkit.data.tokenizers import (
    Tokenizer,
    build_tokenizer,
    encode_documents,
)
from rnnkit.layers import Kind
from rnnkit.models import LanguageModel
from rnnkit.models.ngram import KneserNey
from rnnkit.tasks.base import Built
from rnnkit.tasks.runner import load_run_weights
from rnnkit.train.distributed import Context
from rnnkit.train.trainer import TrainConfig, evaluate_loss

EVAL_BATCH = 10  # rows of the validation and test streams: long rows keep long contexts
# A query typed more than 100 times counts as 100, so one hot query cannot crowd out the rest.
MAX_REPEATS = 100
VOCAB_FILE = "vocab.json"
DATA_FILE = "data.json"  # what the run was trained on: source, split, documents, digest


@dataclass
class DataConfig:
    source: str = "stdlib"  # see rnnkit.data.sources.load_documents
    column: str | None = None  # CSV/JSONL/SQLite column holding the text
    table: str | None = None  # SQLite table
    level: Literal["word", "char", "bpe"] = "word"
    vocab_size: int | None = 10000  # the most frequent tokens; None keeps all
    min_count: int = 2  # word level: rarer words become <unk>
    lowercase: bool = False
    punctuation: Literal["split", "strip", "keep"] = "split"
    bptt: int = 35  # chunk length k of truncated BPTT: the steps a gradient flows back


@dataclass
class ModelConfig(RecurrentConfig):
    kind: Kind = "lstm"
    embedding_dim: int = 256
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.1
    tie_weights: bool = True
    # Adaptive softmax cutoffs (word ids are frequency-ordered), e.g. [1000, 4000]; needs
    # tie_weights=false. Empty: a full output layer.
    adaptive_cutoffs: list[int] = field(default_factory=list)


def _train_defaults() -> TrainConfig:
    return TrainConfig(
        epochs=8, batch_size=64, lr=6e-3, clip_norm=0.5, schedule="cosine",
        warmup_steps=50, log_every=20, checkpoint_every=500,
    )  # fmt: skip


@dataclass
class LMConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=_train_defaults)
    ngram_order: int = 3  # the Kneser-Ney baseline's order


@dataclass
class Corpus:
    """The tokenizer and the three token streams of a run."""

    tokenizer: Tokenizer
    train: torch.Tensor  # (S,) token ids
    val: torch.Tensor
    test: torch.Tensor
    split: str = "i % 20"  # the rule that split the documents (see split_documents)
    digest: str = ""  # of every document's text, count and part: what a resume checks
    documents: int = 0


def _times(document: Document) -> int:
    """How many times ``document`` stands in its split's stream."""
    return min(document.count, MAX_REPEATS)


def prepare_corpus(data: DataConfig) -> Corpus:
    """Load, split by distinct document, build the tokenizer on the training part, and encode
    all three parts, each document ``min(count, MAX_REPEATS)`` times."""
    documents = load_documents(data.source, column=data.column, table=data.table)
    parts = split_documents(documents)
    train, val, test = parts
    if not val or not test:
        if parts.rule == "official":
            empty = "validation" if not val else "test"
            raise ValueError(f"{data.source}: its own {empty} part holds no text")
        raise ValueError(
            f"{data.source} has {len(documents)} documents; the split needs at least 20 "
            "(every 20th goes to validation and to test)"
        )
    tokenizer = build_tokenizer(
        data.level,
        (d.text for d in train for _ in range(_times(d))),
        vocab_size=data.vocab_size,
        min_count=data.min_count,
        lowercase=data.lowercase,
        punctuation=data.punctuation,
    )

    def stream(part: list) -> torch.Tensor:
        ids = encode_documents(tokenizer, [d.text for d in part], [_times(d) for d in part])
        return torch.tensor(ids, dtype=torch.long)

    digest = documents_digest(documents)
    streams = stream(train), stream(val), stream(test)
    return Corpus(tokenizer, *streams, parts.rule, digest, len(documents))


def documents_digest(documents: list[Document]) -> str:
    """SHA-256 of the documents as training reads them (text, count, official part)."""
    digest = hashlib.sha256()
    for d in documents:
        digest.update(json.dumps([d.text, _times(d), d.split]).encode("utf-8"))
    return digest.hexdigest()


def eval_batch(stream: torch.Tensor, world_size: int = 1) -> int:
    """Rows of an evaluation stream per process: `EVAL_BATCH`, or fewer for a stream too
    short to give each row a token and its successor (a tiny official test part)."""
    return max(1, min(EVAL_BATCH, (stream.numel() - 1) // world_size))


def build_model(config: LMConfig, vocab_size: int) -> LanguageModel:
    m = config.model
    return LanguageModel(
        vocab_size,
        embedding_dim=m.embedding_dim,
        hidden_size=m.hidden_size,
        kind=m.kind,
        num_layers=m.num_layers,
        dropout=m.dropout,
        tie_weights=m.tie_weights,
        adaptive_cutoffs=tuple(m.adaptive_cutoffs) or None,
    )


def lm_metrics(loss: float, level: str, prefix: str) -> dict[str, float]:
    """Loss, perplexity and (characters) bits per character under one naming scheme."""
    metrics = {f"{prefix}_loss": loss, f"{prefix}_ppl": math.exp(min(loss, 50.0))}
    if level == "char":
        metrics[f"{prefix}_bpc"] = loss / math.log(2)
    return metrics


def build(config: LMConfig, context: Context) -> Built:
    """The token streams as truncated-BPTT batches, the model, and ``vocab.json``."""
    corpus = prepare_corpus(config.data)
    batch, bptt = config.train.batch_size, config.data.bptt
    shard = {"rank": context.rank, "world_size": context.world_size}
    train = StreamBatches(corpus.train, batch, bptt, **shard)
    eval_rows = eval_batch(corpus.val, context.world_size) * context.world_size
    val = StreamBatches(corpus.val, eval_rows, bptt, **shard)
    level = config.data.level

    def evaluate(model: nn.Module, data: Any) -> dict[str, float]:
        return lm_metrics(evaluate_loss(model, data)["val_loss"], level, "val")

    def finish(run_dir: Path) -> dict[str, Any]:
        return report(config, corpus, run_dir)

    model = build_model(config, corpus.tokenizer.vocab_size)
    data = {"source": config.data.source, "split": corpus.split,
            "documents": corpus.documents, "digest": corpus.digest}  # fmt: skip
    files = {VOCAB_FILE: corpus.tokenizer.to_dict(), DATA_FILE: data}
    reports = tuple(lm_metrics(0.0, level, "val"))
    return Built(model, train, val, evaluate, reports, files, finish, bf16_on_cpu=True)


def report(config: LMConfig, corpus: Corpus, run_dir: Path) -> dict[str, Any]:
    """Test scores of the best weights and of the Kneser-Ney baseline on the same split."""
    level = config.data.level
    model = build_model(config, corpus.tokenizer.vocab_size)
    load_run_weights(run_dir, model)
    results: dict[str, Any] = {"level": level, "split": corpus.split, "tokens": {}}
    for name, stream in (("val", corpus.val), ("test", corpus.test)):
        results["tokens"][name] = int(stream.numel())
        data = StreamBatches(stream, eval_batch(stream), config.data.bptt)
        results |= lm_metrics(evaluate_loss(model, data)["val_loss"], level, name)
    results["tokens"]["train"] = int(corpus.train.numel())
    started = time.perf_counter()
    ngram = KneserNey(order=config.ngram_order)
    ngram.fit(corpus.train.tolist(), corpus.tokenizer.vocab_size, corpus.tokenizer.eos_id)
    for name, stream in (("val", corpus.val), ("test", corpus.test)):
        # Score the tokens the network scored: every one but the first of the stream.
        total, count = ngram.log_likelihood(stream.tolist())
        results |= lm_metrics(-total / count, level, f"ngram_{name}")
    results["ngram_order"] = config.ngram_order
    results["ngram_seconds"] = time.perf_counter() - started
    results["gain_vs_ngram"] = 1 - results["test_ppl"] / results["ngram_test_ppl"]
    return results


def format_report(results: dict[str, Any]) -> str:
    """A few lines: the network against the n-gram baseline on validation and test."""
    order = results["ngram_order"]
    unit = "bits per character" if results["level"] == "char" else "perplexity"
    key = "bpc" if results["level"] == "char" else "ppl"
    lines = [f"{'':<28}{'validation':>12}{'test':>12}   ({unit})"]
    for label, prefix in (("recurrent network", ""), (f"Kneser-Ney {order}-gram", "ngram_")):
        val, test = results[f"{prefix}val_{key}"], results[f"{prefix}test_{key}"]
        lines.append(f"{label:<28}{val:>12.3f}{test:>12.3f}")
    gain = results["gain_vs_ngram"]
    better = "lower" if gain > 0 else "higher"
    lines.append(
        f"test perplexity {abs(gain):.1%} {better} than the {order}-gram's "
        f"({results['tokens']['train']:,} training tokens)"
    )
    return "\n".join(lines)
