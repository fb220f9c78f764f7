"""The caption task end to end on pictures the test makes (a coloured square in a corner,
captioned with its corner): learned to 100% in seconds, scored beside the baselines;
attention weights are distributions over the feature map; the command, the route, and bad
inputs as one-line errors with nothing written."""

import json
import random
import re

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from captioning import CORNERS, corner_folder, corner_image, train_corners
from rnnkit.cli import main
from rnnkit.models.captioner import Captioner
from rnnkit.models.decoding import greedy
from rnnkit.serve.app import create_app
from rnnkit.tasks.caption.baselines import nearest_captions
from rnnkit.tasks.caption.sources import balanced, held_out_numbers
from rnnkit.tasks.caption.task import CaptionBatches, Part, caption_words, words_of
from rnnkit.tasks.caption.use import attention_of, caption, describe, read_run_image
from rnnkit.tasks.runner import load_run


@pytest.fixture(scope="module")
def corners_run(tmp_path_factory):
    """A caption run with soft attention trained on the corner pictures."""
    return train_corners(tmp_path_factory.mktemp("corners"))


def pictures(tmp_path, corners, mode="RGB"):
    rng = random.Random(7)
    paths = []
    for i, corner in enumerate(corners):
        path = tmp_path / f"new{i}.png"
        corner_image(corner, rng, mode).save(path)
        paths.append(str(path))
    return paths


def test_the_corners_are_learned_and_scored_beside_the_baselines(corners_run):
    results = json.loads((corners_run / "results.json").read_text())
    table = results["scores"]["test"]
    assert set(table) == {"network, beam 2", "network, greedy", "image-blind decoder",
                          "nearest training image"}  # fmt: skip
    assert table["network, beam 2"]["exact"] == 100.0, results["report"]
    # two-word captions have no 4-grams: CIDEr-D (1- to 4-grams) tells the two apart
    assert table["network, beam 2"]["cider_d"] > table["image-blind decoder"]["cider_d"] + 2
    assert table["image-blind decoder"]["exact"] <= 50  # one caption for four corners
    assert "unseen" not in table  # only number scenes have a compositional test
    data = json.loads((corners_run / "data.json").read_text())
    assert data["images"] == {"train": 72, "val": 12, "test": 12}
    assert data["mode"] == "RGB" and data["image_size"] == [32, 32]


def test_new_pictures_are_captioned_and_beam_one_is_greedy(corners_run, tmp_path):
    run = load_run(corners_run)
    paths = pictures(tmp_path, CORNERS)
    found = run.task.predict(run, paths)
    assert [f["caption"] for f in found] == list(CORNERS)
    images = torch.stack([torch.from_numpy(read_run_image(run, p)) for p in paths])
    tokens, state = run.model.start(images.float() / 255)
    plain = greedy(run.model, tokens, state, max_length=10, eos=run.vocab.eos_id)
    assert describe(run.model, run.vocab, images, beam=1) == [
        words_of(run.vocab, row) for row in plain.tokens.tolist()
    ]
    with pytest.raises(ValueError, match="beam must be a positive int"):
        caption(run, [images[0].numpy()], beam=0)


def test_attention_weights_sum_to_one_and_look_at_the_square(corners_run, tmp_path):
    run = load_run(corners_run)
    (path,) = pictures(tmp_path, ["bottom right"])
    image = torch.from_numpy(read_run_image(run, path))
    weights = attention_of(run.model, run.vocab, image, "bottom right")
    h, w = run.model.grid(32, 32)
    assert weights.shape == (3, h, w)  # two words and the end
    assert torch.allclose(weights.sum(dim=(1, 2)), torch.ones(3), atol=1e-5)
    answer = caption(run, [image.numpy()], attention=True)[0]
    assert answer["words"] == ["bottom", "right", "<eos>"]
    assert np.asarray(answer["attention"]).shape == (3, h, w)


def test_the_command_draws_attention_and_the_route_captions_uploads(corners_run, tmp_path,
                                                                    capsys):  # fmt: skip
    paths = pictures(tmp_path, ["top right", "bottom left"], mode="L")  # grey: converted
    png = tmp_path / "attention.png"
    assert main(["caption", str(corners_run), *paths, "--attention", str(png)]) == 0
    assert capsys.readouterr().out == "top right\nbottom left\n"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["caption", str(corners_run), paths[0], "--json", "--beam", "1"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"image": paths[0], "caption": "top right"}]
    with TestClient(create_app(corners_run)) as client:
        with open(paths[1], "rb") as f:
            answer = client.post("/caption", content=f.read()).json()
        assert answer["caption"] == "bottom left" and answer["grid"] == [8, 8]
        assert len(answer["attention"]) == len(answer["words"]) == 3
        refused = client.post("/caption", content=b"not an image at all")
        assert refused.status_code == 422 and "not an image" in refused.json()["detail"]
        assert client.post("/caption", content=b"").status_code == 422
        assert client.post("/caption?beam=0", content=b"x").status_code == 422
        assert client.get("/healthz").json()["attention"] == "soft"


def test_a_run_without_attention_learns_too_and_has_none_to_draw(tmp_path, capsys):
    run_dir = train_corners(tmp_path, "model.attention=none", "train.epochs=15")
    results = json.loads((run_dir / "results.json").read_text())
    assert results["scores"]["test"]["network, beam 2"]["exact"] >= 90, results["report"]
    run = load_run(run_dir)
    assert run.model.attention is None
    (path,) = pictures(tmp_path, ["top left"])
    assert caption(run, [np.zeros((3, 32, 32), np.uint8)], attention=True)[0]["attention"] is None
    assert main(["caption", str(run_dir), path, "--attention", str(tmp_path / "a.png")]) == 2
    assert "model.attention=none" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("make", "message"),
    [("not_image", "is not an image"), ("missing", "does not exist"),
     ("empty_caption", "empty|no words|caption"), ("no_column", "caption")],
    ids=["not-an-image", "missing-image", "empty-caption", "no-caption-column"],
)  # fmt: skip
def test_bad_captions_are_one_line_and_nothing_is_written(tmp_path, capsys, make, message):
    data = corner_folder(tmp_path / "pictures", count=8)
    lines = data.read_text().splitlines()
    if make == "not_image":
        (tmp_path / "pictures" / "000.png").write_text("hello")
    elif make == "missing":
        lines.append("gone.png,a caption")
    elif make == "empty_caption":
        lines.append('001.png,"  "')
    else:
        lines = ["image,text", *lines[1:]]
    data.write_text("\n".join(lines) + "\n")
    assert main(["train", "caption", "--out", str(tmp_path / "run"),
                 f"data.source={json.dumps(str(data))}"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err), err
    assert not (tmp_path / "run").exists()


def test_batches_draw_one_reference_each_reproducibly():
    images = torch.zeros(5, 1, 16, 16, dtype=torch.uint8)
    refs = [["a b", "c"], ["a"], ["b c", "a a a"], ["c"], ["b"]]
    from rnnkit.data.tokenizers import build_tokenizer

    vocab = build_tokenizer("word", ["a b c"], punctuation="keep")
    batches = CaptionBatches(Part(images, refs), vocab, batch_size=2, seed=3)
    assert len(batches) == 3
    first = [b["targets"] for b in batches.epoch(4)]
    again = [b["targets"] for b in batches.epoch(4)]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    resumed = list(batches.epoch(4, start=1))
    assert torch.equal(resumed[0]["targets"], first[1])
    assert all(t.dtype == torch.long for t in first)
    ordered = next(CaptionBatches(Part(images, refs), vocab, 5, shuffle=False).epoch(0))
    assert ordered["targets"][0].tolist()[:3] == [*vocab.encode("a b"), vocab.eos_id]
    assert ordered["inputs"].dtype == torch.float32 and ordered["inputs"].shape == (5, 1, 16, 16)


def test_held_out_numbers_are_fixed_and_parts_balance_digit_counts():
    held = held_out_numbers(0.1)
    assert held == held_out_numbers(0.1) and len(held) == 999
    assert all(10 <= n <= 9999 for n in held)
    mixed = balanced([n for n in range(10_000) if n not in held])
    counts = np.bincount([len(str(n)) for n in mixed])[1:]
    assert counts.max() / counts.min() < 1.15 and not held & set(mixed)


def test_caption_words_and_the_nearest_training_image():
    assert caption_words("  A Small T-shirt, next to Bob's bag! ") == \
        "a small t-shirt next to bob's bag"  # fmt: skip
    train = torch.zeros(3, 1, 8, 8, dtype=torch.uint8)
    train[1, :, :4] = 255
    train[2, :, 4:] = 255
    query = train[[2, 1]].clone()
    query[0, 0, 0, 0] = 40
    assert nearest_captions(train, [["blank"], ["top"], ["bottom"]], query) == ["bottom", "top"]


def test_the_captioner_checks_its_inputs():
    model = Captioner(1, (16, 32), vocab_size=5, bos=1, eos=1, widths=(4, 8), hidden_size=8,
                      embedding_dim=4)  # fmt: skip
    with pytest.raises(ValueError, match="images must be 16x32"):
        model.start(torch.zeros(2, 1, 16, 16))
    with pytest.raises(ValueError, match=r"images must be \(N, 1, H, W\)"):
        model.start(torch.zeros(2, 3, 16, 32))
    with pytest.raises(ValueError, match="at least 4 pixels"):
        Captioner(1, (2, 32), 5, 1, 1, widths=(4, 8))
    with pytest.raises(ValueError, match="attention"):
        Captioner(1, (16, 32), 5, 1, 1, attention="hard")
