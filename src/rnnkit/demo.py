"""``rnnkit demo``: a tour of what rnnkit does, on data it makes itself, in about a minute.

1. The NumPy glass box's hand-written backpropagation through time is checked against
   finite differences and torch autograd for every cell kind and layout.
2. One small network per topology learns a task from scratch; the table shows the metric
   before and after training next to what guessing would score.
"""

from __future__ import annotations

import time

from rich.console import Console

NEXT_STEPS = """\
Next:
  rnnkit gradcheck --json                       the gradient check as JSON
  rnnkit train adding --out runs/adding         train an LSTM on the adding problem (T=100)
  rnnkit diagnose                               vanishing and exploding gradients, plotted
  make test                                     the whole test suite
"""


def run_demo(seed: int = 0) -> int:
    from rnnkit.reference import gradcheck
    from rnnkit.tasks.toy import TOY_TASKS, format_results, run_toy

    console = Console(highlight=False, soft_wrap=True)  # tables keep their lines in pipes
    started = time.perf_counter()
    console.print("[bold]1. Backpropagation through time, by hand[/bold]")
    console.print(
        "The NumPy reference's gradients against central finite differences and torch "
        "autograd (float64):\n"
    )
    rows = gradcheck.run_all(seed=seed)
    console.print(gradcheck.format_table(rows), markup=False)
    passed = all(row.passed for row in rows)

    console.print("\n[bold]2. Every topology learns a task it makes itself[/bold]")
    console.print("A small network per topology, trained from scratch on CPU:\n")
    results = []
    with console.status("training...") as status:
        for name in TOY_TASKS:
            status.update(f"training {name}...")
            results.append(run_toy(name, seed=seed))
    console.print(format_results(results), markup=False)
    learned = sum(r.after > r.chance + 0.5 * (1 - r.chance) for r in results)
    console.print(
        f"\n{learned}/{len(results)} tasks ended well above chance; "
        f"{time.perf_counter() - started:.0f}s in all.\n"
    )
    console.print(NEXT_STEPS, markup=False)
    return 0 if passed else 1
