"""Small tasks made from data rnnkit generates itself: the long-memory benchmarks
``adding`` and ``copy`` (`rnnkit.tasks.toy.longrange`) and the six toys of ``rnnkit tour``,
one per topology (`rnnkit.tasks.toy.tour`); all trainable with ``rnnkit train``."""

from rnnkit.tasks.toy.longrange import ADDING, COPY
from rnnkit.tasks.toy.tour import TOURS

__all__ = ["ADDING", "COPY", "TOURS"]
