"""``rnnkit demo``, the main job: a word-level LSTM language model on the Python standard
library's docstrings (text every machine with Python has), trained in a few minutes on a
laptop CPU, compared with a Kneser-Ney trigram, then asked to complete a few phrases.

``rnnkit tour`` is the quick look at the rest: the NumPy glass box's gradient check and one
small network per topology learning a task it makes itself.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

# About 2.5 minutes on 2 CPU cores with AMX, where train.precision=auto trains in bf16, and
# about 4 in fp32 (measured; see README). The output layer over 10,000 words dominates the
# cost on a CPU: an adaptive softmax makes the epochs 2x cheaper, which buys 12 of them. Of
# the other levers measured, a GRU is slower than the LSTM on a CPU (no fused oneDNN kernel:
# 12.5k against 16.0k tokens/s), and batch 64 or 10 epochs each lose the 10% margin over
# the trigram.
DEMO_OVERRIDES = (
    "model.tie_weights=false",
    "model.adaptive_cutoffs=[1000, 4000]",
    "model.dropout=0.2",
    "train.epochs=12",
    "train.batch_size=32",
    "train.lr=0.004",
)
PROMPTS = (
    "Return the",
    "If the file does not",
    "This module provides",
    "Raise ValueError if the",
    "The default value is",
)

NEXT_STEPS = """\
Next:
  rnnkit complete {run} "Return a new"          next words and phrase completions
  rnnkit generate {run} --prime "The" --seed 0  sample text (--temperature, --top-k, --top-p)
  rnnkit train lm --data notes/ --out runs/mine
      your own text: a file, folder or glob; --data x.csv data.column=text; sqlite:///x.db
  rnnkit train lm data.level=char --out runs/chars   a character-level model (bits per char)
  rnnkit tour                                   the gradient check and the four topologies
"""


def _fresh(base: Path) -> Path:
    """runs/demo, or runs/demo-2, -3, ... so that a second demo never touches the first."""
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def run_demo(out: str | Path = "runs/demo") -> int:
    from rnnkit.tasks import runner
    from rnnkit.tasks.lm.task import format_report
    from rnnkit.tasks.lm.use import complete, format_completion
    from rnnkit.tasks.runner import load_run

    console = Console(highlight=False, soft_wrap=True)
    run_dir = _fresh(Path(out))
    console.print(
        "[bold]A word-level LSTM language model of the Python standard library's "
        "docstrings[/bold]\n"
        "2 layers of 256 units, truncated BPTT over 35-word chunks, 10,000 words through an "
        f"adaptive softmax; run directory {run_dir}\n"
    )
    started = time.perf_counter()
    _, result = runner.train("lm", run_dir, overrides=DEMO_OVERRIDES)
    console.print(f"\ntrained in {time.perf_counter() - started:.0f}s\n")
    console.print(format_report(result.results), markup=False)

    console.print("\n[bold]Completions[/bold]")
    lm = load_run(run_dir)
    for prompt in PROMPTS:
        console.print(
            format_completion(complete(lm, prompt, k=3, phrases=2, words=4)), markup=False
        )
    console.print("\n" + NEXT_STEPS.format(run=run_dir), markup=False)
    return 0


def run_tour(seed: int = 0) -> int:
    """The gradient check of the glass box, then the toy task of every topology."""
    from rnnkit.reference import gradcheck
    from rnnkit.tasks.toy.tour import TOY_TASKS, format_results, run_toy

    console = Console(highlight=False, soft_wrap=True)
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
        f"{time.perf_counter() - started:.0f}s in all."
    )
    return 0 if passed else 1
