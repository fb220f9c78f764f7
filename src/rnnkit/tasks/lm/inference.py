"""The per-keystroke forward pass of a language model, and the cache that makes it one step.

`StepModel` runs a trained `LanguageModel`'s weights (embedding, recurrence, output layer) on a
batch of rows that each continue from their own state: no input checks, no dropout, no
autograd in the hot path, and optionally int8 weights.

`StateCache` keeps, for a token prefix, the recurrent state after reading it and the
log-probabilities of the next token: when a user types one more word, the prefix before it is
found in the cache and the new word costs one recurrent step.

Shapes: N batch, T time, L layers, H hidden, V vocabulary.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnkit.layers import State
from rnnkit.models import LanguageModel

Key = tuple[int, ...]


class Cells(nn.Module):
    """The recurrence of a trained `Recurrent` stack as plain linear layers, one step at a time.

    LSTM and Elman layers are one linear layer over ``[x, h]`` (weights ``[W_ih | W_hh]``,
    biases summed); the LSTM's gate rows are reordered i, f, o, g so that one sigmoid covers
    three gates. GRU layers keep ``ih`` and ``hh`` apart because r multiplies the hidden part
    of the candidate gate, bias included (torch's variant). On a CPU a single step through the
    fused kernel pays a large fixed cost per call, and torch's int8 LSTM kernel more still;
    linear layers are quick for one step and have an int8 dynamic version. Tested against
    `LanguageModel` itself to 1e-5 for every kind.
    """

    def __init__(self, rnn: nn.RNNBase, kind: str) -> None:
        super().__init__()
        if rnn.bidirectional:
            raise ValueError("a language model is unidirectional")
        self.kind, self.hidden = kind, rnn.hidden_size
        H = rnn.hidden_size
        self.ih, self.hh = nn.ModuleList(), nn.ModuleList()
        for l in range(rnn.num_layers):
            w_ih, w_hh, b_ih, b_hh = (
                getattr(rnn, f"{p}_l{l}").detach()
                for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            )
            if kind == "gru":
                self.ih.append(_linear(w_ih, b_ih))
                self.hh.append(_linear(w_hh, b_hh))
                continue
            weight, bias = torch.cat([w_ih, w_hh], 1), b_ih + b_hh
            if kind == "lstm":  # i, f, g, o -> i, f, o, g
                order = torch.cat([torch.arange(2 * H), torch.arange(3 * H, 4 * H),
                                   torch.arange(2 * H, 3 * H)])  # fmt: skip
                weight, bias = weight[order], bias[order]
            self.ih.append(_linear(weight, bias))

    def forward(
        self, x: Tensor, h: Tensor, c: Tensor | None, l: int
    ) -> tuple[Tensor, Tensor | None]:
        """One step of layer ``l``: x (N, I), h and c (N, H) -> (h', c')."""
        if self.kind == "gru":
            ir, iz, in_ = self.ih[l](x).chunk(3, dim=-1)
            hr, hz, hn = self.hh[l](h).chunk(3, dim=-1)
            r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
            n = torch.tanh(in_ + r * hn)
            return n + z * (h - n), None  # (1 - z) * n + z * h
        pre = self.ih[l](torch.cat([x, h], dim=-1))
        if self.kind == "lstm":
            H = self.hidden
            i, f, o = torch.sigmoid(pre[:, : 3 * H]).chunk(3, dim=-1)
            c = torch.addcmul(f * c, i, torch.tanh(pre[:, 3 * H :]))
            return o * torch.tanh(c), c
        return (torch.tanh(pre) if self.kind == "rnn_tanh" else torch.relu(pre)), None


def _linear(weight: Tensor, bias: Tensor) -> nn.Linear:
    linear = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        linear.weight.copy_(weight)
        linear.bias.copy_(bias)
    return linear


def _int8(module: nn.Module) -> nn.Module:
    with warnings.catch_warnings():
        # torch 2.13 announces that eager-mode quantization is moving to the torchao package;
        # the API still works, and it is the one that needs no extra dependency.
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(module, {nn.Linear}, dtype=torch.qint8)


class _Recur(nn.Module):
    """One time step through every layer: ids (N,), h and c (L, N, H) -> the new h and c.

    Non-LSTM kinds get and give back an empty c. Traced once by `StepModel`: in the TorchScript
    interpreter the two dozen small ops of a step cost about a third less than in Python.
    """

    def __init__(self, embed: nn.Embedding, cells: Cells, layers: int, lstm: bool) -> None:
        super().__init__()
        self.embed, self.cells, self.layers, self.lstm = embed, cells, layers, lstm

    def forward(self, ids: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        x = self.embed(ids)  # (N, E)
        hs, cs = [], []
        for l in range(self.layers):  # each layer's output is the next layer's input
            x, c_l = self.cells(x, h[l], c[l] if self.lstm else None, l)
            hs.append(x)
            cs.append(c_l)
        return torch.stack(hs), (torch.stack(cs) if self.lstm else c)


def _traced(module: nn.Module, example: tuple[Tensor, ...]) -> nn.Module:
    """``module`` traced by TorchScript, or ``module`` itself where tracing is unavailable.

    torch 2.13 marks ``torch.jit.trace`` deprecated in favour of ``torch.compile``, which would
    need a C++ toolchain and tens of seconds per model at start-up; the trace takes
    milliseconds and records the very ops the module runs (tested equal to the module).
    """
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            traced = torch.jit.trace(module, example)
        except (AttributeError, RuntimeError):  # a torch without TorchScript
            return module
        for _ in range(3):  # TorchScript optimizes a graph over its first calls: not on a user's
            traced(*example)
        return traced


class StepModel:
    """Reads a few tokens per row from each row's own state.

    ``log_probs, states = step(tokens, states)``: ``tokens`` is a list of N non-empty lists of
    token ids (rows may differ in length), ``states`` N per-row states (each (L, 1, H), a tuple
    (h, c) for an LSTM; None for zeros). Returns (N, V) log-probabilities of the token after each
    row's last one and the N states after it.

    ``int8=True`` applies int8 dynamic quantization to every linear layer (the recurrence's
    and the output layer's): int8 weights, activations quantized on the fly. The embedding
    stays float (it is a lookup).
    """

    def __init__(self, model: LanguageModel, int8: bool = False) -> None:
        decoder = copy.deepcopy(model.decoder).eval()
        parts = nn.ModuleDict(
            {"cells": Cells(decoder.rnn.rnn, decoder.rnn.kind), "project": decoder.project,
             "out": decoder.out}
        )  # fmt: skip
        parts = _int8(parts) if int8 else parts
        decoder.project, decoder.out = parts["project"], parts["out"]  # what logits() calls
        self.decoder = decoder
        self.lstm = decoder.rnn.kind == "lstm"
        self.shape = L, H = (decoder.rnn.num_layers, decoder.rnn.hidden_size)
        self.vocab_size = decoder.vocab_size
        self.int8 = int8
        recur = _Recur(decoder.inputs.embed, parts["cells"], L, self.lstm)
        example = (torch.zeros(2, dtype=torch.long), torch.zeros(L, 2, H), self._no_c(L, 2, H))
        self.recur = _traced(recur, example)

    def _no_c(self, L: int, N: int, H: int) -> Tensor:
        return torch.zeros(L, N, H) if self.lstm else torch.empty(0)

    @torch.inference_mode()
    def __call__(
        self, tokens: Sequence[Sequence[int]], states: Sequence[State | None]
    ) -> tuple[Tensor, list[State]]:
        lengths = [len(row) for row in tokens]
        N, T = len(tokens), max(lengths)
        ragged = min(lengths) < T
        if ragged:
            ids = torch.zeros(N, T, dtype=torch.long)
            for i, row in enumerate(tokens):
                ids[i, : len(row)] = torch.as_tensor(row)
            alive = (torch.as_tensor(lengths)[:, None] > torch.arange(T)).T[:, None, :, None]
        else:
            ids = torch.tensor(tokens)
        h, c = self._batch(states)  # (L, N, H) each
        for t in range(T):
            h_new, c_new = self.recur(ids[:, t], h, c)
            if ragged:  # rows that have ended keep their state
                h = torch.where(alive[t], h_new, h)
                c = torch.where(alive[t], c_new, c) if self.lstm else c
            else:
                h, c = h_new, c_new
        scores = self.decoder.logits(h[-1])  # the top layer after each row's last token
        log_probs = scores if self.decoder.adaptive else scores.log_softmax(-1)  # (N, V)
        return log_probs, self._split(h, c, N)

    def _batch(self, states: Sequence[State | None]) -> tuple[Tensor, Tensor]:
        L, H = self.shape
        if len(states) == 1 and states[0] is not None:  # the common keystroke: no copies
            state = states[0]
            return state if self.lstm else (state, self._no_c(L, 1, H))
        zeros = torch.zeros(L, 1, H)
        h = torch.cat([zeros if s is None else s[0] if self.lstm else s for s in states], 1)
        if not self.lstm:
            return h, self._no_c(L, len(states), H)
        return h, torch.cat([zeros if s is None else s[1] for s in states], 1)

    def _split(self, h: Tensor, c: Tensor, N: int) -> list[State]:
        """Each row's state as a tensor of its own (a view would keep the batch's alive)."""
        if self.lstm:
            return [(h[:, i : i + 1].clone(), c[:, i : i + 1].clone()) for i in range(N)]
        return [h[:, i : i + 1].clone() for i in range(N)]


@dataclass(frozen=True)
class Entry:
    """What a prefix leaves behind: the state after it and the next token's log-probs (V,)."""

    state: State
    log_probs: Tensor


class StateCache:
    """Least-recently-used map from token prefixes to `Entry`, with hit counters.

    ``capacity`` entries of V floats each: 4,096 entries of a 10,000-word model hold 160 MB.
    """

    def __init__(self, capacity: int = 4096) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"cache capacity must be a positive int, got {capacity!r}")
        self.capacity = capacity
        self._entries: OrderedDict[Key, Entry] = OrderedDict()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Key) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return entry

    def put(self, key: Key, entry: Entry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def longest_prefix(self, key: Key) -> tuple[int, Entry | None]:
        """(n, entry) for the longest cached proper prefix ``key[:n]`` (0, None when none)."""
        for n in range(len(key) - 1, 0, -1):
            entry = self._entries.get(key[:n])
            if entry is not None:
                self._entries.move_to_end(key[:n])
                return n, entry
        return 0, None

    def stats(self) -> dict[str, float]:
        asked = self.hits + self.misses
        return {
            "entries": len(self),
            "capacity": self.capacity,
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": self.hits / asked if asked else 0.0,
        }


def read_prefixes(step: StepModel, cache: StateCache, keys: Sequence[Key]) -> list[Entry]:
    """The `Entry` of every key, reading only what the cache lacks, in one batched call.

    A key missing from the cache continues from its longest cached prefix, so a key one token
    longer than a cached one costs one recurrent step. Results are cached.
    """
    found: dict[Key, Entry] = {}
    todo: dict[Key, tuple[int, Entry | None]] = {}
    for key in keys:
        if key in found or key in todo:
            continue
        entry = cache.get(key)
        if entry is not None:
            found[key] = entry
        else:
            todo[key] = cache.longest_prefix(key)
    if todo:
        rows = [key[n:] for key, (n, _) in todo.items()]
        states = [None if base is None else base.state for _, base in todo.values()]
        log_probs, new_states = step(rows, states)
        for i, key in enumerate(todo):
            # A copy: a row of the batch would keep the whole (N, V) tensor alive in the cache.
            found[key] = Entry(new_states[i], log_probs[i].clone())
            cache.put(key, found[key])
    return [found[key] for key in keys]


def perplexity(step: StepModel, stream: Tensor, rows: int = 10) -> float:
    """exp(mean negative log-likelihood) of a (S,) token stream read as ``rows`` parallel rows,
    each carrying its state from token to token (what `StepModel` computes when serving)."""
    S = stream.numel() // rows * rows
    if 2 * rows > S:
        raise ValueError(f"the stream has {stream.numel()} tokens: too few for {rows} rows")
    data = stream[:S].view(rows, -1)  # (rows, S / rows)
    states: list[State | None] = [None] * rows
    total = 0.0
    for t in range(data.shape[1] - 1):
        log_probs, states = step([[int(i)] for i in data[:, t]], states)
        total -= float(log_probs.gather(1, data[:, t + 1 : t + 2]).sum())
    return math.exp(total / (rows * (data.shape[1] - 1)))
