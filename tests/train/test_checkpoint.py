"""Checkpoints restore a run exactly, survive SIGKILL, and refuse damaged or foreign files."""

# The legacy global NumPy generator is one of the states a checkpoint must restore.
# ruff: noqa: NPY002

import copy
import errno
import hashlib
import io
import json
import os
import pathlib
import random
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import rnnkit.io
from rnnkit.train.checkpoint import checkpoints, latest_checkpoint, save_checkpoint
from rnnkit.train.checkpoint_load import CheckpointError, load_checkpoint


@pytest.fixture(autouse=True)
def _keep_global_rng():
    """These tests reseed and restore the global RNGs; leave them as other tests found them."""
    saved = random.getstate(), np.random.get_state(), torch.get_rng_state()
    yield
    random.setstate(saved[0])
    np.random.set_state(saved[1])
    torch.set_rng_state(saved[2])


class Net(nn.Module):
    """Two LSTM layers with dropout between them and before the head, so the RNG matters."""

    def __init__(self, hidden=8):
        super().__init__()
        self.rnn = nn.LSTM(3, hidden, num_layers=2, dropout=0.3, batch_first=True)
        self.drop = nn.Dropout(0.2)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x, state):
        out, state = self.rnn(x, state)  # x: (N, T, 3), out: (N, T, H)
        return self.head(self.drop(out)), state


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make(seed=0, hidden=8):
    torch.manual_seed(seed)
    model = Net(hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    return model, optimizer, scheduler


def train(model, optimizer, scheduler, state, steps):
    """Truncated BPTT over random chunks that draw on all three RNGs; returns the carried state."""
    for _ in range(steps):
        x = torch.randn(4, 5, 3)
        noise = torch.from_numpy(np.random.normal(size=(4, 5, 1))).float()
        target = x.sum(-1, keepdim=True) * random.random() + noise
        prediction, state = model(x, state)
        optimizer.zero_grad()
        F.mse_loss(prediction, target).backward()
        optimizer.step()
        scheduler.step()
        state = tuple(s.detach() for s in state)
    return state


def save(directory, model, optimizer=None, scheduler=None, step=1, **kwargs):
    counters = {"epoch": 0, "step": step, "micro_step": step, "chunk": 2 * step}
    return save_checkpoint(
        directory,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        counters=counters,
        **kwargs,
    )


def assert_equal_states(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], dict):
            assert_equal_states(a[key], b[key])
        elif isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


def draws():
    return random.random(), random.gauss(0, 1), np.random.normal(size=3).tolist(), torch.rand(3)


def files(directory):
    return {p.name: p.read_bytes() for p in directory.iterdir()}


def test_round_trip_restores_states_counters_extra_tensors_and_rngs(tmp_path):
    seed_all(0)
    model, optimizer, scheduler = make()
    state = train(model, optimizer, scheduler, None, 3)
    random.gauss(0, 1), np.random.standard_normal()  # leave cached Gaussians in both states
    extra = {"best": 0.25, "worst": float("inf"), "data": {"position": [3, 7]}}
    path = save(tmp_path, model, optimizer, scheduler, 3, extra=extra, tensors={"h": state[0]})
    expected, saved_optimizer = draws(), copy.deepcopy(optimizer.state_dict())
    train(model, optimizer, scheduler, None, 2)  # move every state on

    fresh_model, fresh_optimizer, fresh_scheduler = make(seed=1)
    loaded = load_checkpoint(
        tmp_path, model=fresh_model, optimizer=fresh_optimizer, scheduler=fresh_scheduler
    )
    got = draws()
    assert got[:3] == expected[:3] and torch.equal(got[3], expected[3])
    assert loaded.path == path
    assert loaded.counters == {"epoch": 0, "step": 3, "micro_step": 3, "chunk": 6}
    assert loaded.extra == extra
    assert torch.equal(loaded.tensors["h"], state[0])
    assert_equal_states(fresh_optimizer.state_dict(), saved_optimizer)
    assert fresh_scheduler.state_dict()["last_epoch"] == 3


def test_restore_rng_false_leaves_the_generators_alone(tmp_path):
    model = make()[0]
    save(tmp_path, model)
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    load_checkpoint(tmp_path, model=model, restore_rng=False)
    assert torch.equal(torch.rand(3), expected)


def test_resumed_training_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    steps = 4
    seed_all(0)
    alone = make()
    train(*alone, None, 2 * steps)

    seed_all(0)
    first = make()
    state = train(*first, None, steps)
    save(tmp_path, *first, steps, tensors={"h": state[0], "c": state[1]})
    seed_all(123)  # the resumed process starts from other RNG states and other weights
    second = make(seed=1)
    loaded = load_checkpoint(tmp_path, model=second[0], optimizer=second[1], scheduler=second[2])
    train(*second, (loaded.tensors["h"], loaded.tensors["c"]), steps)

    assert_equal_states(second[0].state_dict(), alone[0].state_dict())
    assert_equal_states(second[1].state_dict(), alone[1].state_dict())
    assert second[2].state_dict() == alone[2].state_dict()


def test_file_loads_with_weights_only_and_holds_no_numpy(tmp_path):
    model, optimizer, scheduler = make()
    train(model, optimizer, scheduler, None, 1)
    payload = torch.load(save(tmp_path, model, optimizer, scheduler), weights_only=True)

    def walk(value):
        assert not isinstance(value, np.ndarray | np.generic)
        children = value.values() if isinstance(value, dict) else value
        if isinstance(value, dict | list | tuple):
            for child in children:
                walk(child)

    walk(payload)
    assert set(payload["rng"][0]) >= {"python", "numpy", "torch"}


def test_keep_prunes_older_checkpoints_and_crash_debris(tmp_path):
    model = make()[0]
    for step in range(1, 6):
        save(tmp_path, model, step=step, keep=2)
    assert sorted(files(tmp_path)) == [
        "step-00000004.json",
        "step-00000004.pt",
        "step-00000005.json",
        "step-00000005.pt",
    ]
    # What a writer killed mid-save leaves: a temporary file, a .pt its sidecar never vouched for.
    (tmp_path / ".step-00000006.pt.tmp-0badf00d").write_bytes(b"half")
    (tmp_path / "step-00000006.pt").write_bytes(b"half")
    assert latest_checkpoint(tmp_path).name == "step-00000005.pt"
    save(tmp_path, model, step=6, keep=2)
    assert sorted(files(tmp_path))[0] == "step-00000005.json"
    assert [p.name for p in checkpoints(tmp_path)] == ["step-00000005.pt", "step-00000006.pt"]
    assert len(files(tmp_path)) == 4


def test_a_second_save_at_the_same_step_does_not_overwrite_the_first(tmp_path):
    model = make()[0]
    first = save(tmp_path, model, step=5)
    first_bytes = first.read_bytes()
    second = save(tmp_path, model, step=5, extra={"epoch_end": True})
    assert (first.name, second.name) == ("step-00000005.pt", "step-00000005-1.pt")
    assert first.read_bytes() == first_bytes
    assert load_checkpoint(tmp_path, model=model).extra == {"epoch_end": True}


@pytest.mark.parametrize("damage", ["truncate", "flip a byte", "drop the sidecar"])
def test_damaged_newest_checkpoint_is_refused_and_nothing_changes(tmp_path, damage):
    model = make()[0]
    older = save(tmp_path, model, step=1)
    newest = save(tmp_path, model, step=2)
    data = bytearray(newest.read_bytes())
    if damage == "truncate":
        newest.write_bytes(data[: len(data) // 2])
    elif damage == "flip a byte":
        data[len(data) // 2] ^= 0xFF
        newest.write_bytes(data)
    else:
        newest.with_suffix(".json").unlink()
    before = files(tmp_path)
    target = newest if damage == "drop the sidecar" else tmp_path
    with pytest.raises(CheckpointError, match=re.escape(str(newest))) as error:
        load_checkpoint(target, model=model)
    assert f"the older checkpoint {older} is intact" in str(error.value)
    assert "\n" not in str(error.value)
    assert files(tmp_path) == before
    assert load_checkpoint(older, model=model).counters["step"] == 1  # the advice works


def test_damaged_only_checkpoint_says_the_run_must_start_over(tmp_path):
    model = make()[0]
    path = save(tmp_path, model)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="truncated.*no intact older checkpoint"):
        load_checkpoint(tmp_path, model=model)


def test_checkpoint_of_another_model_is_refused_and_the_model_is_untouched(tmp_path):
    save(tmp_path, make(hidden=8)[0])
    model = make(hidden=6)[0]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"does not match the model: shape mismatch"):
        load_checkpoint(tmp_path, model=model)
    assert_equal_states(model.state_dict(), before)


def test_optimizer_with_other_parameter_groups_is_refused(tmp_path):
    model, optimizer, _ = make()
    save(tmp_path, model, optimizer)
    params = list(model.parameters())
    split = torch.optim.Adam([{"params": params[:2]}, {"params": params[2:]}])
    with pytest.raises(CheckpointError, match="parameter groups"):
        load_checkpoint(tmp_path, model=model, optimizer=split)


def test_missing_checkpoint_and_missing_states_are_reported(tmp_path):
    model, optimizer, scheduler = make()
    with pytest.raises(CheckpointError, match="there is no checkpoint in"):
        load_checkpoint(tmp_path, model=model)
    save(tmp_path, model)
    with pytest.raises(CheckpointError, match="no optimizer state"):
        load_checkpoint(tmp_path, model=model, optimizer=optimizer)
    with pytest.raises(CheckpointError, match="no learning-rate scheduler state"):
        load_checkpoint(tmp_path, model=model, scheduler=scheduler)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"counters": {"epoch": 1}}, "non-negative 'step'"),
        ({"counters": {"step": 1.0}}, "dict of str to int"),
        ({"extra": {"f": print}}, "JSON-serializable"),
        ({"tensors": {"h": [1.0]}}, "dict of str to torch.Tensor"),
        ({"keep": 0}, "keep must be a positive int"),
    ],
)
def test_bad_inputs_are_refused_before_anything_is_written(tmp_path, change, message):
    kwargs = {"model": make()[0], "optimizer": None, "counters": {"step": 1}} | change
    with pytest.raises(ValueError, match=message):
        save_checkpoint(tmp_path / "checkpoint", **kwargs)
    assert not (tmp_path / "checkpoint").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_rng_round_trips(tmp_path):
    torch.cuda.manual_seed_all(3)
    save(tmp_path, make()[0])
    expected = torch.rand(3, device="cuda")
    torch.cuda.manual_seed_all(4)
    load_checkpoint(tmp_path, model=make()[0])
    assert torch.equal(torch.rand(3, device="cuda"), expected)


CHILD = textwrap.dedent(
    """
    import sys, torch
    from rnnkit.train.checkpoint import save_checkpoint
    torch.set_num_threads(1)
    torch.manual_seed(0)
    # ~10 MB a checkpoint with the Adam moments, so a kill often lands inside a write.
    model = torch.nn.Embedding(50_000, 16)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for step in range(1, 100_000):
        optimizer.zero_grad()
        model.weight.square().mean().backward()
        optimizer.step()
        save_checkpoint(sys.argv[1], model=model, optimizer=optimizer, counters={"step": step})
    """
)


def test_sigkill_at_a_random_moment_leaves_a_loadable_checkpoint(tmp_path):
    directory = tmp_path / "checkpoint"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(directory)])
    deadline = time.monotonic() + 60
    while latest_checkpoint(directory) is None and time.monotonic() < deadline:
        assert child.poll() is None, "the training process died on its own"
        time.sleep(0.01)
    delay = random.Random(os.urandom(8)).uniform(0.0, 0.5)
    time.sleep(delay)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    # Replay the same deterministic run in this process up to the step the checkpoint claims.
    restored = torch.nn.Embedding(50_000, 16)
    loaded = load_checkpoint(directory, model=restored)
    torch.manual_seed(0)
    model = torch.nn.Embedding(50_000, 16)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(loaded.counters["step"]):
        optimizer.zero_grad()
        model.weight.square().mean().backward()
        optimizer.step()
    assert torch.equal(restored.weight, model.weight), f"killed after {delay:.3f} s"


def vouch_for(path, data):
    """Write ``data`` as the checkpoint ``path`` with a sidecar that vouches for it, as an
    attacker who can write into the run directory (or an older rnnkit) would."""
    path.write_bytes(data)
    sidecar = json.loads(path.with_suffix(".json").read_text())
    sidecar |= {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    path.with_suffix(".json").write_text(json.dumps(sidecar))


def rewrite(path, change):
    """Load the checkpoint ``path``, ``change(payload)`` in place, and save it vouched for."""
    payload = torch.load(path, weights_only=True)
    change(payload)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    vouch_for(path, buffer.getvalue())


class Payload:
    """Unpickling this calls ``Path.write_text(marker, ...)``: code that runs on load."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.write_text, (self.marker, "ran")


def test_a_hostile_file_is_refused_without_running_it_or_advising_to(tmp_path):
    model = make()[0]
    path = save(tmp_path / "checkpoint", model)
    marker = tmp_path / "marker"
    buffer = io.BytesIO()
    torch.save({"format": "rnnkit.checkpoint", "model": Payload(marker)}, buffer)
    vouch_for(path, buffer.getvalue())
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(tmp_path / "checkpoint", model=model)
    message = str(error.value)
    assert "is not a checkpoint rnnkit wrote" in message and "was not loaded" in message
    assert "weights_only" not in message and "\n" not in message
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the payload is real: unsafe loading runs it
    assert marker.read_text() == "ran"


def test_a_checkpoint_from_a_newer_rnnkit_is_refused(tmp_path):
    model = make()[0]
    path = save(tmp_path, model)
    rewrite(path, lambda payload: payload.update(version=3))
    with pytest.raises(CheckpointError, match="format version 3.*newer rnnkit; upgrade rnnkit"):
        load_checkpoint(tmp_path, model=model)


class FullDisk:
    """``open`` for rnnkit.io whose ``nth`` file takes half the bytes, then ENOSPC."""

    def __init__(self, nth):
        self.nth, self.opened = nth, 0

    def __call__(self, path, mode="r", *args, **kwargs):
        f = open(path, mode, *args, **kwargs)  # noqa: SIM115
        self.opened += 1
        if self.opened == self.nth:
            write = f.write

            def half_then_full(data):
                write(data[: len(data) // 2])
                f.flush()
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            f.write = half_then_full
        return f


@pytest.mark.parametrize("nth", [1, 2], ids=["checkpoint", "sidecar"])
def test_a_full_disk_leaves_no_temporary_file_and_a_one_line_error(tmp_path, monkeypatch, nth):
    model = make()[0]
    older = save(tmp_path, model, step=1)
    before = files(tmp_path)
    monkeypatch.setattr(rnnkit.io, "open", FullDisk(nth), raising=False)
    with pytest.raises(OSError) as error:
        save(tmp_path, model, step=2)
    monkeypatch.undo()
    assert error.value.errno == errno.ENOSPC and "\n" not in str(error.value)
    assert "cannot write checkpoint" in str(error.value) and "the disk is full" in str(error.value)
    assert files(tmp_path) == before  # no temporary file, no checkpoint half vouched for
    assert load_checkpoint(tmp_path, model=model).path == older
    save(tmp_path, model, step=2)  # space again: the same step saves
