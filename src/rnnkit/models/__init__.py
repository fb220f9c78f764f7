"""The four topologies as torch modules, all called the same way.

Conventions
-----------
Batches: a batch is a dict whose keys are the model's ``forward`` argument names
(``inputs``, ``targets``, ``lengths``), so a trainer calls ``output, loss = model(**batch)``.

Returns: every model returns ``(output, loss)``; ``loss`` is a scalar mean over the scored
items, or None when no ``targets`` are given.

Outputs:
    `MLP`, `SequenceClassifier`, `SequenceTagger`, `SequenceGenerator`: a logits tensor;
    `SequenceRegressor`: a prediction tensor.
    `LanguageModel` (and any model that carries state across calls): a `RecurrentOutput`
    ``(logits, state)``, so truncated BPTT reads
    ``output, loss = model(**batch, state=state); state = detach_state(output.state)``.
    `Seq2Seq`: a `Seq2SeqOutput` ``(logits, attention)`` with the attention weights;
    `Captioner` (images in, a sentence out): a `CaptionOutput`, the same pair.

Padding: ``lengths`` (N,) gives the valid steps of each input sequence, in any order;
target steps holding -100 (`IGNORE_INDEX`) are not scored.

Generation: `LanguageModel`, `SequenceGenerator`, `Seq2Seq` and `Captioner` give the first
tokens and state with ``start(...)`` and step with ``step(tokens (N,), state) -> (logits
(N, V), state)``; the functions in `rnnkit.models.decoding` (greedy, sample,
beam_search) drive them.

Shapes: N batch, T time, S source steps, I input features, E embedding, H hidden,
D directions, L layers, C classes, V vocabulary.
"""

from rnnkit.models.attention import Attention
from rnnkit.models.captioner import Captioner, CaptionOutput, ImageEncoder
from rnnkit.models.checks import IGNORE_INDEX
from rnnkit.models.classifier import (
    ClassifierEnsemble,
    SequenceClassifier,
    SequenceRegressor,
    pool,
)
from rnnkit.models.common import RecurrentOutput, length_mask
from rnnkit.models.feedforward import MLP
from rnnkit.models.generator import SequenceGenerator
from rnnkit.models.language_model import LanguageModel
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqOutput, Seq2SeqState
from rnnkit.models.tagger import SequenceTagger

__all__ = [
    "IGNORE_INDEX",
    "MLP",
    "Attention",
    "CaptionOutput",
    "Captioner",
    "ClassifierEnsemble",
    "ImageEncoder",
    "LanguageModel",
    "RecurrentOutput",
    "Seq2Seq",
    "Seq2SeqOutput",
    "Seq2SeqState",
    "SequenceClassifier",
    "SequenceGenerator",
    "SequenceRegressor",
    "SequenceTagger",
    "length_mask",
    "pool",
]
