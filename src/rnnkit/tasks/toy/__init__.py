"""Small tasks made from data rnnkit generates itself: the long-memory benchmarks
``adding`` and ``copy`` (`rnnkit.tasks.toy.longrange`, trainable with ``rnnkit train``) and
the one-task-per-topology tour of ``rnnkit tour`` (`rnnkit.tasks.toy.tour`)."""

from rnnkit.tasks.toy.longrange import ADDING, COPY

__all__ = ["ADDING", "COPY"]
