"""A user's captioned images: CSV, COCO JSON and folders read into images and their
captions, each mistake one clear error naming the file and line; images of any mode read
as grey or colour pixels of the size asked, and what is not an image refused."""

import io
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from rnnkit.data.captions import CaptionedImage, read_captions, read_image


def picture(path, mode="L", size=(4, 3), colour=128):
    """A tiny image file of ``size`` (width, height), made here."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)
    return path


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_rows_of_one_image_are_grouped_in_first_seen_order(tmp_path):
    picture(tmp_path / "photos" / "cat.png")
    picture(tmp_path / "dog.png")
    csv = write(tmp_path / "captions.csv",
                "image,caption,author\n"
                "photos/cat.png,  A cat on a mat. ,ann\n"
                "dog.png,A dog,bob\n"
                'photos/cat.png,"A cat, sleeping",cy\n')  # fmt: skip
    images = read_captions(csv)
    assert images == [
        CaptionedImage(tmp_path / "photos" / "cat.png", ["A cat on a mat.", "A cat, sleeping"]),
        CaptionedImage(tmp_path / "dog.png", ["A dog"]),
    ]
    assert read_captions(tmp_path) == images  # the folder holding captions.csv
    (tmp_path / "other").mkdir()
    absolute = write(tmp_path / "other" / "list.csv", f"caption,image\nA dog,{tmp_path}/dog.png\n")
    assert read_captions(absolute) == [CaptionedImage(tmp_path / "dog.png", ["A dog"])]


def coco(images, annotations):
    return json.dumps({"images": images, "annotations": annotations})


def test_coco_json_beside_its_images_or_beside_an_images_folder(tmp_path):
    picture(tmp_path / "a.jpg", "RGB")
    picture(tmp_path / "images" / "b.jpg", "RGB")
    write(tmp_path / "captions.json", coco(
        [{"id": 7, "file_name": "b.jpg"}, {"id": 3, "file_name": "a.jpg", "width": 4}],
        [{"image_id": 3, "caption": " A. "}, {"image_id": 7, "caption": "B one"},
         {"image_id": 7, "caption": "B two", "id": 99}],
    ))  # fmt: skip
    assert read_captions(tmp_path / "captions.json") == [
        CaptionedImage(tmp_path / "images" / "b.jpg", ["B one", "B two"]),
        CaptionedImage(tmp_path / "a.jpg", ["A."]),
    ]
    assert read_captions(tmp_path) == read_captions(tmp_path / "captions.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [("image,text\nx.png,A\n", r"captions\.csv has no column 'caption'"),
     ("name,caption\nx.png,A\n", r"captions\.csv has no column 'image'"),
     ("image,caption\nx.png,A\n\nx.png,B\nphotos/cat.png,C\n",
      r"captions\.csv line 5: photos/cat\.png does not exist"),
     ("image,caption\nx.png,A\nx.png,   \n", r"captions\.csv line 3: the caption is empty"),
     ("image,caption\nx.png\n", r"captions\.csv line 2: the caption is empty"),
     ("image,caption\n,A\n", r"captions\.csv line 2: no image"),
     ("image,caption\n", r"captions\.csv has no captions"),
     ("", r"captions\.csv is empty")],
)  # fmt: skip
def test_csv_mistakes_are_one_line_errors_naming_the_line(tmp_path, text, message):
    one_line_error(tmp_path, "captions.csv", text, message)


@pytest.mark.parametrize(
    ("text", "message"),
    [(coco([{"id": 1, "file_name": "x.png"}], [{"image_id": 2, "caption": "A"}]),
      r"captions\.json annotations\[0\]: image_id 2 is not the id of any of images"),
     (coco([{"id": 1, "file_name": "x.png"}, {"id": 2, "file_name": "x.png"}],
           [{"image_id": 1, "caption": "A"}]),
      r"captions\.json images\[1\]: x\.png has no caption"),
     (coco([{"id": 1, "file_name": "gone.png"}], []),
      r"captions\.json images\[0\]: gone\.png does not exist"),
     (coco([{"id": 1, "file_name": "x.png"}], [{"image_id": 1, "caption": " "}]),
      r"captions\.json annotations\[0\]: the caption is empty"),
     (coco([{"id": 1, "file_name": "x.png"}, {"id": 1, "file_name": "x.png"}], []),
      r"images\[1\]: the id 1 is given twice"),
     (coco([], []), r"captions\.json has no captions"),
     ('{"images": [', r"captions\.json line 1 is not valid JSON"),
     ('{"images": []}', r"captions\.json is not a COCO captions file"),
     ("[1, 2]", r"captions\.json is not a COCO captions file")],
)  # fmt: skip
def test_coco_mistakes_are_one_line_errors_naming_the_entry(tmp_path, text, message):
    one_line_error(tmp_path, "captions.json", text, message)


def one_line_error(folder, name, text, message):
    """Reading ``text`` as the captions file ``name`` beside an x.png fails in one line."""
    picture(folder / "x.png")
    path = write(folder / name, text)
    with pytest.raises(ValueError, match=message) as caught:
        read_captions(path)
    assert "\n" not in str(caught.value)


def test_missing_files_and_folders_without_captions_are_refused(tmp_path):
    with pytest.raises(ValueError, match="no such file: .*nothing.csv"):
        read_captions(tmp_path / "nothing.csv")
    with pytest.raises(ValueError, match="holds neither captions.csv nor captions.json"):
        read_captions(tmp_path)
    write(tmp_path / "captions.csv", "image,caption\n")
    write(tmp_path / "captions.json", coco([], []))
    with pytest.raises(ValueError, match="holds both captions.csv and captions.json"):
        read_captions(tmp_path)
    with pytest.raises(ValueError, match=r"must be a \.csv/\.json file"):
        read_captions(write(tmp_path / "captions.txt", "x"))


def encoded(image, format="PNG"):
    buffer = io.BytesIO()
    image.save(buffer, format)
    return buffer.getvalue()


def test_read_image_gives_channels_first_pixels_of_the_size_asked(tmp_path):
    halves = np.zeros((2, 4), np.uint8)
    halves[:, 2:] = 200  # dark on the left, bright on the right: 4 wide, 2 high
    path = tmp_path / "halves.png"
    Image.fromarray(halves).save(path)
    grey = read_image(path, "L", (6, 3))  # (height, width): taller and narrower
    assert grey.shape == (1, 6, 3) and grey.dtype == np.uint8
    assert (grey[0, :, 0] < 50).all() and (grey[0, :, 2] > 150).all()
    colour = read_image(str(path), "RGB", (2, 4))  # L to RGB: the grey repeated
    assert colour.shape == (3, 2, 4) and (colour == halves).all()
    assert np.array_equal(read_image(path.read_bytes(), "L", (2, 4))[0], halves)


def test_read_image_converts_every_common_mode():
    rgba = Image.new("RGBA", (2, 2), (200, 100, 0, 128))  # half transparent, over black
    assert read_image(encoded(rgba), "RGB", (2, 2))[:, 0, 0].tolist() == [100, 50, 0]
    red = encoded(Image.new("RGB", (2, 2), (255, 0, 0)))
    assert read_image(red, "L", (2, 2))[0, 0, 0] == 76  # luminance: 0.299 of red
    assert read_image(encoded(Image.new("LA", (2, 2), (200, 0))), "L", (2, 2)).max() == 0
    palette = Image.new("P", (2, 2), 1)
    palette.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    assert read_image(encoded(palette), "RGB", (2, 2))[:, 1, 1].tolist() == [10, 20, 30]
    palette.info["transparency"] = 1
    assert read_image(encoded(palette), "RGB", (2, 2)).max() == 0
    one_bit = Image.new("1", (2, 2), 1)
    assert read_image(encoded(one_bit), "L", (2, 2)).tolist() == [[[255, 255], [255, 255]]]
    wide = Image.fromarray(np.array([[0, 65535], [257 * 100, 257]], np.uint16))
    assert wide.mode == "I;16"
    assert read_image(encoded(wide), "L", (2, 2))[0].tolist() == [[0, 255], [100, 1]]
    assert read_image(encoded(wide, "TIFF"), "RGB", (2, 2))[:, 0, 1].tolist() == [255] * 3
    thirty_two = Image.fromarray(np.array([[0, 1000], [70000, 140000]], np.int32))
    assert thirty_two.mode == "I"
    assert read_image(encoded(thirty_two, "TIFF"), "L", (2, 2))[0].tolist() == [[0, 2], [128, 255]]
    cmyk = Image.new("CMYK", (2, 2), (0, 255, 255, 0))  # red in ink
    assert read_image(encoded(cmyk, "JPEG"), "RGB", (2, 2))[:, 0, 0].tolist()[0] > 200


def png_claiming(width, height):
    """A small PNG file whose header claims ``width`` x ``height`` grey pixels: its data
    holds only the first few, so decoding it would fail, but it is refused before that."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(bytes(width + 1))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [7000, 10_000, 30_000])  # ours, Pillow's warning, its error
def test_read_image_refuses_more_than_40_megapixels_before_decoding(side):
    with pytest.raises(ValueError, match="megapixels") as caught:
        read_image(png_claiming(side, side), "L", (8, 8))
    assert str(caught.value).startswith("the upload is ") and "\n" not in str(caught.value)


def test_read_image_refuses_what_is_not_an_image(tmp_path):
    text = write(tmp_path / "notes.png", "not an image at all\n")
    with pytest.raises(ValueError, match=r"notes\.png is not an image Pillow can read \(") as e:
        read_image(text, "L", (8, 8))
    assert "\n" not in str(e.value)
    noise = np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes()
    with pytest.raises(ValueError, match=r"^the upload is not an image Pillow can read \("):
        read_image(noise, "RGB", (8, 8))
    cut = encoded(Image.new("RGB", (64, 64), (1, 2, 3)))[:80]  # a header, then nothing
    with pytest.raises(ValueError, match=r"^photo\.png is not an image Pillow can read \("):
        read_image(cut, "RGB", (8, 8), what="photo.png")
    with pytest.raises(ValueError, match="does not exist"):
        read_image(tmp_path / "gone.png", "L", (8, 8))
    with pytest.raises(ValueError, match="mode must be 'L'"):
        read_image(text, "RGBA", (8, 8))
    with pytest.raises(ValueError, match=r"size must be \(height, width\)"):
        read_image(text, "L", (8, 0))
