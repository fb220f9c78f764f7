"""Every topology learns its toy task well above chance, reproducibly, in a few seconds."""

import pytest
import torch

from rnnkit.tasks.toy.tour import REGISTRY, TOY_TASKS, format_results, run_toy


@pytest.fixture(scope="module")
def results():
    return {}


@pytest.mark.parametrize("name", TOY_TASKS)
def test_learns_well_above_chance(name, results):
    result = run_toy(name, seed=0)
    results[name] = result
    # Closes at least three quarters of the gap between chance and a perfect score.
    assert result.after >= result.chance + 0.75 * (1 - result.chance), result
    assert result.after > result.before + 0.3, result


def test_topologies_covered():
    topologies = {REGISTRY[name].topology.split(" (")[0] for name in TOY_TASKS}
    assert topologies == {"one-to-one", "one-to-many", "many-to-one", "many-to-many"}


def test_reproducible_and_leaves_the_caller_alone():
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first = run_toy("count", seed=1, steps=20)
    assert torch.equal(torch.rand(3), expected)  # the caller's random stream is untouched
    assert torch.get_num_threads() == threads
    second = run_toy("count", seed=1, steps=20)
    assert (first.before, first.after) == (second.before, second.after)


def test_format_results_one_row_per_task():
    result = run_toy("xor", steps=5)
    table = format_results([result, result])
    lines = table.splitlines()
    assert len(lines) == 3 and lines[0].split()[:3] == ["task", "topology", "metric"]
    assert lines[1].startswith("xor") and f"{result.after:.3f}" in lines[1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"name": "sorting"}, "toy task must be one of xor, parity"), ({"steps": 0}, "steps must")],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_toy(**({"name": "xor"} | kwargs))
