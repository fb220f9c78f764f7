"""The per-keystroke forward pass of a language model, and the cache that makes it one step.

`StepModel` runs a trained `LanguageModel`'s weights (embedding, recurrence, output layer) on a
batch of rows that each continue from their own state: no input checks, no dropout, no
autograd in the hot path, and optionally int8 weights. The recurrence is the layer's own
one-step form (`rnnkit.layers.Recurrent.step_cells`), the output layer the decoder's
(`output_layer()`), both copies: training the model on does not change a `StepModel`.

`StateCache` keeps, for a token prefix, the recurrent state after reading it and the
log-probabilities of the next token: when a user types one more word, the prefix before it is
found in the cache and the new word costs one recurrent step.

`extend_greedy` and `extend_beam` grow many prefixes at once by a few tokens: the phrase
completions of autocomplete.

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
from rnnkit.models.common import select_state
from rnnkit.models.decoding import beam_search

Key = tuple[int, ...]


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

    def __init__(self, embedding: nn.Module, cells: nn.Module, lstm: bool) -> None:
        super().__init__()
        self.embedding, self.cells, self.lstm = embedding, cells, lstm

    def forward(self, ids: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        _, state = self.cells(self.embedding(ids), (h, c) if self.lstm else h)  # x: (N, E)
        return state if self.lstm else (state, c)


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
        decoder = model.decoder
        # One deepcopy for both: a tied output layer stays tied to the embedding it copies.
        embedding, head = copy.deepcopy((decoder.embedding, decoder.output_layer()))
        cells = decoder.rnn.step_cells()  # a copy of the weights as linear layers
        if int8:
            cells, head = _int8(cells), _int8(head)
        self.head = head.eval()
        self.lstm = decoder.rnn.kind == "lstm"
        self.shape = L, H = (decoder.rnn.num_layers, decoder.rnn.hidden_size)
        self.vocab_size = decoder.vocab_size
        self.int8 = int8
        recur = _Recur(embedding, cells, self.lstm).eval()
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
        log_probs = self.head.log_probs(h[-1])  # (N, V) after each row's last token
        return log_probs, self._split(h, c, N)

    @torch.inference_mode()
    def advance(self, ids: Tensor, state: State) -> tuple[Tensor, State]:
        """One token per row, the rows' states batched: ids (N,), state (L, N, H) (a tuple
        (h, c) for an LSTM) -> ((N, V) log-probabilities of the next token, the new state)."""
        h, c = state if self.lstm else (state, torch.empty(0))
        h, c = self.recur(ids, h, c)
        return self.head.log_probs(h[-1]), ((h, c) if self.lstm else h)

    def stack(self, states: Sequence[State | None]) -> State:
        """N per-row states (each (L, 1, H), or (h, c); None for zeros) as one (L, N, H)."""
        h, c = self._batch(states)
        return (h, c) if self.lstm else h

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


Extension = tuple[list[int], float]  # (the tokens added, log-probability of the whole)


def extend_greedy(
    step: StepModel,
    cache: StateCache,
    keys: Sequence[Key],
    start: Sequence[float],
    n: int,
    unk: int,
    eos: int,
) -> list[Extension]:
    """Each key extended by up to ``n`` tokens, the likeliest at each step (never ``unk``);
    ``eos`` ends an extension and is not added. ``start``: each key's log-probability, to
    which the added tokens' are summed. The keys are read through the cache; all rows share
    each step."""
    entries = read_prefixes(step, cache, keys)
    log_probs = torch.stack([e.log_probs for e in entries])  # (N, V)
    states = [e.state for e in entries]
    total = torch.tensor(start)
    added: list[list[int]] = [[] for _ in keys]
    open_ = torch.ones(len(keys), dtype=torch.bool)  # rows that have not ended
    ban = torch.tensor([unk])
    for t in range(n):
        best, token = log_probs.index_fill(1, ban, float("-inf")).max(-1)
        open_ &= token != eos
        total = torch.where(open_, total + best, total)
        for i in open_.nonzero().flatten().tolist():
            added[i].append(int(token[i]))
        if t == n - 1 or not open_.any():
            break
        log_probs, states = step([[int(w)] for w in token], states)
    return list(zip(added, total.tolist(), strict=True))


def extend_beam(
    step: StepModel,
    cache: StateCache,
    parents: Sequence[Key],
    tokens: Sequence[int],
    start: Sequence[float],
    n: int,
    width: int,
    banned: Tensor,
) -> list[Extension]:
    """Each ``parent + (token,)`` extended by the best of ``width`` beams of exactly ``n``
    tokens (`rnnkit.models.decoding.beam_search`; ids in ``banned`` never chosen, so ban
    ``<eos>`` too), the log-probability ``start`` plus the added tokens'."""
    entries = read_prefixes(step, cache, parents)
    state = step.stack([e.state for e in entries])
    found = beam_search(_Steps(step), torch.tensor(tokens), state, n, None, width, banned=banned)
    total = torch.tensor(start) + found.scores[:, 0]
    return list(zip(found.tokens[:, 0].tolist(), total.tolist(), strict=True))


class _Steps:
    """A `StepModel` as `rnnkit.models.decoding` drives a model, the rows' states batched."""

    def __init__(self, step: StepModel) -> None:
        self.model = step

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        return self.model.advance(tokens, state)  # log-probabilities serve as logits

    def reorder_state(self, state: State, index: Tensor) -> State:
        return select_state(state, index)  # type: ignore[return-value]


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
