"""Atomic writes leave the old file or the new one, and weights survive a round trip."""

import json

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from rnnkit.io import (
    append_jsonl,
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    load_weights,
    save_weights,
)


def test_atomic_writes_replace_the_file(tmp_path):
    target = tmp_path / "f"
    atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    atomic_write_text(target, "héllo\r\n")
    assert target.read_bytes() == "héllo\r\n".encode()
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_json_is_sorted_indented_and_round_trips(tmp_path):
    obj = {"b": [1, 2.5, None], "a": {"z": True, "y": "s"}}
    atomic_write_json(tmp_path / "c.json", obj)
    text = (tmp_path / "c.json").read_text()
    assert text == json.dumps(obj, sort_keys=True, indent=2) + "\n"
    assert json.loads(text) == obj


def test_unserializable_json_leaves_the_old_file(tmp_path):
    target = tmp_path / "c.json"
    atomic_write_json(target, {"a": 1})
    with pytest.raises(ValueError, match="JSON"):
        atomic_write_json(target, {"a": object()})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]


@pytest.mark.parametrize("write_first", [True, False])
def test_failure_inside_atomic_path_keeps_the_old_file(tmp_path, write_first):
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".model.bin.tmp-")
        if write_first:
            tmp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]


def test_atomic_path_requires_the_file_to_be_written(tmp_path):
    with pytest.raises(FileNotFoundError), atomic_path(tmp_path / "x"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_append_jsonl_writes_one_line_per_record(tmp_path):
    path = tmp_path / "metrics.jsonl"
    append_jsonl(path, {"step": 1, "loss": 0.5})
    append_jsonl(path, {"step": 2, "loss": float("nan")})
    lines = path.read_text().splitlines()
    assert json.loads(lines[0]) == {"loss": 0.5, "step": 1}
    assert len(lines) == 2 and json.loads(lines[1])["step"] == 2


class Tied(nn.Module):
    """A language-model shape: the output layer reuses the embedding matrix."""

    def __init__(self, vocab=11, hidden=6):
        super().__init__()
        self.embedding = nn.Embedding(vocab, hidden)
        self.rnn = nn.GRU(hidden, hidden, batch_first=True)
        self.decoder = nn.Linear(hidden, vocab)
        self.decoder.weight = self.embedding.weight


def assert_same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for name in sa:
        assert torch.equal(sa[name], sb[name]), name


def test_weights_round_trip(tmp_path):
    torch.manual_seed(0)
    saved, fresh = nn.LSTM(3, 5, num_layers=2), nn.LSTM(3, 5, num_layers=2)
    save_weights(tmp_path / "model.safetensors", saved)
    assert load_weights(tmp_path / "model.safetensors", fresh) is fresh
    assert_same_state(saved, fresh)


def test_tied_weights_are_stored_once_and_stay_tied(tmp_path):
    torch.manual_seed(0)
    saved, fresh = Tied(), Tied()
    path = tmp_path / "model.safetensors"
    save_weights(path, saved)
    stored = load_file(path)
    assert len([k for k in stored if k in ("embedding.weight", "decoder.weight")]) == 1
    load_weights(path, fresh)
    assert_same_state(saved, fresh)
    assert fresh.decoder.weight is fresh.embedding.weight


def test_tied_file_into_untied_model_names_the_missing_key(tmp_path):
    save_weights(tmp_path / "model.safetensors", Tied())
    untied = Tied()
    untied.decoder.weight = nn.Parameter(untied.embedding.weight.detach().clone())
    with pytest.raises(ValueError, match=r"missing keys (decoder|embedding)\.weight"):
        load_weights(tmp_path / "model.safetensors", untied)


@pytest.mark.parametrize(
    ("other", "message"),
    [
        (nn.Sequential(nn.Linear(4, 3)), r"missing keys 1\.bias, 1\.weight$"),
        (
            nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2), nn.Linear(2, 2)),
            r"unexpected keys 2\.bias, 2\.weight$",
        ),
        (
            nn.Sequential(nn.Linear(4, 5), nn.Linear(5, 2)),
            r"shape mismatch 0\.bias \[5\] in the file vs \[3\]",
        ),
    ],
)
def test_mismatched_weights_are_refused_and_the_model_is_untouched(tmp_path, other, message):
    path = tmp_path / "model.safetensors"
    save_weights(path, other)
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=message) as error:
        load_weights(path, model)
    assert f"{path} does not match the model: " in str(error.value)
    assert "\n" not in str(error.value)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_damaged_weights_file_is_refused(tmp_path):
    path = tmp_path / "model.safetensors"
    save_weights(path, nn.Linear(30, 30))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_weights(path, nn.Linear(30, 30))
