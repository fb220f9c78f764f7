"""One-to-one: a feed-forward baseline, the yardstick the recurrent topologies are measured by.

Shapes: N batch, I input features, C classes (or O regression outputs).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from rnnkit.models.checks import (
    check_choice,
    check_features,
    check_positive_int,
    check_probability,
)
from rnnkit.models.common import classification_loss, regression_loss

TASKS = ("classification", "regression")
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


class MLP(nn.Module):
    """Linear -> activation -> dropout, repeated, then a linear output layer.

    Args:
        input_size: I.
        output_size: C classes for classification, O values for regression.
        hidden_sizes: widths of the hidden layers. Default (64,).
        activation: ``"relu"`` (default), ``"tanh"`` or ``"gelu"``.
        dropout: after each hidden activation. Default 0.
        task: ``"classification"`` (default; cross-entropy) or ``"regression"`` (mean squared
            error).

    Call: ``output, loss = model(inputs, targets=None)``
        inputs: (N, I) floats.
        targets: (N,) class ids, or (N, O) values ((N,) also accepted when O = 1).
        output: (N, C) logits or (N, O) predictions. loss: None without targets.
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        hidden_sizes: Sequence[int] = (64,),
        activation: str = "relu",
        dropout: float = 0.0,
        task: str = "classification",
    ) -> None:
        super().__init__()
        check_positive_int("input_size", input_size)
        check_positive_int("output_size", output_size)
        check_choice("activation", activation, tuple(ACTIVATIONS))
        check_choice("task", task, TASKS)
        check_probability("dropout", dropout, closed=False)
        layers: list[nn.Module] = []
        width = input_size
        for size in hidden_sizes:
            check_positive_int("each of hidden_sizes", size)
            layers += [nn.Linear(width, size), ACTIVATIONS[activation](), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, output_size))
        self.net = nn.Sequential(*layers)
        self.input_size, self.output_size, self.task = input_size, output_size, task

    def forward(
        self, inputs: Tensor, targets: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        check_features(inputs, 2, self.input_size)
        output = self.net(inputs)
        if targets is None:
            return output, None
        if self.task == "classification":
            return output, classification_loss(output, targets)
        return output, regression_loss(output, targets)
