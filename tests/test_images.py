"""Images in: every mode met in practice, one normalisation rule, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from cellconsensus.errors import CellConsensusInputError
from cellconsensus.images import ImageFolder, ImageTable, as_image_source, read_image

RNG = np.random.default_rng(0)
COLOUR = RNG.integers(0, 256, (12, 10, 3), dtype=np.uint8)
GREY = RNG.integers(0, 256, (12, 10), dtype=np.uint8)


def save(path, array, mode=None, **kwargs):
    Image.fromarray(array, mode=mode).save(path, **kwargs)
    return path


def test_grey_and_colour_png_jpeg(tmp_path):
    assert np.array_equal(read_image(save(tmp_path / "g.png", GREY))[..., 0], GREY)
    assert np.array_equal(read_image(save(tmp_path / "c.png", COLOUR)), COLOUR)
    jpeg = read_image(save(tmp_path / "c.jpg", COLOUR, quality=95))
    assert jpeg.shape == (12, 10, 3) and jpeg.dtype == np.uint8


def test_rgb_with_equal_channels_is_grey_under_auto(tmp_path):
    path = save(tmp_path / "rgb-grey.png", np.repeat(GREY[..., None], 3, axis=2))
    assert read_image(path).shape == (12, 10, 1)
    assert read_image(path, channels=3).shape == (12, 10, 3)


def test_alpha_is_dropped_colour_kept(tmp_path):
    rgba = np.concatenate([COLOUR, np.zeros((12, 10, 1), np.uint8)], axis=2)
    assert np.array_equal(read_image(save(tmp_path / "a.png", rgba)), COLOUR)
    la = Image.fromarray(GREY).convert("LA")
    la.save(tmp_path / "la.png")
    assert np.array_equal(read_image(tmp_path / "la.png")[..., 0], GREY)


def test_palette_and_bilevel(tmp_path):
    Image.fromarray(COLOUR).convert("P").save(tmp_path / "p.png")
    expected = np.asarray(Image.open(tmp_path / "p.png").convert("RGB"))
    assert np.array_equal(read_image(tmp_path / "p.png"), expected)
    Image.fromarray(GREY > 128).save(tmp_path / "b.png")
    assert set(np.unique(read_image(tmp_path / "b.png"))) <= {0, 255}


@pytest.mark.parametrize(("top", "bits"), [(4095, 12), (65535, 16), (1023, 10), (200, 8)])
def test_sixteen_bit_is_scaled_by_its_bit_depth(tmp_path, top, bits):
    data = np.array([[0, top // 2, top]], dtype=np.uint16)
    Image.fromarray(data).save(tmp_path / "i16.png")
    assert Image.open(tmp_path / "i16.png").mode.startswith("I")
    got = read_image(tmp_path / "i16.png")[0, :, 0]
    expected = np.rint(data[0].astype(float) * 255 / (2**bits - 1)).astype(np.uint8)
    assert got.tolist() == expected.tolist()


def test_tiff_uint16_float_planar_and_stacks(tmp_path):
    tifffile.imwrite(tmp_path / "u16.tif", np.full((6, 7), 65535, np.uint16))
    assert read_image(tmp_path / "u16.tif").max() == 255
    tifffile.imwrite(tmp_path / "f.tiff", np.full((6, 7), 0.5, np.float32))
    assert read_image(tmp_path / "f.tiff")[0, 0, 0] == 128
    planar = np.stack([GREY, GREY // 2, GREY // 3])
    tifffile.imwrite(tmp_path / "planar.tif", planar, photometric="rgb", planarconfig="separate")
    assert read_image(tmp_path / "planar.tif").shape == (12, 10, 3)
    tifffile.imwrite(
        tmp_path / "stack.tif", np.zeros((4, 3, 6, 7), np.uint8), photometric="minisblack"
    )
    with pytest.raises(CellConsensusInputError, match=r"stack\.tif.*stack"):
        read_image(tmp_path / "stack.tif")


def test_channels_one_uses_luma(tmp_path):
    path = save(tmp_path / "c.png", COLOUR)
    grey = read_image(path, channels=1)[..., 0]
    luma = np.rint(COLOUR.astype(float) @ [0.299, 0.587, 0.114])
    assert np.abs(grey.astype(int) - luma).max() <= 1
    with pytest.raises(ValueError, match="channels"):
        read_image(path, channels=2)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.png", b"", "empty file"),
        ("noise.png", bytes(range(256)) * 4, "not an image"),
        ("text.jpg", b"hello, not a jpeg", "not an image"),
    ],
)
def test_bad_files_name_the_file(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(CellConsensusInputError, match=rf"{name}.*{message}"):
        read_image(tmp_path / name)


def test_truncated_png_and_missing_file(tmp_path):
    path = save(tmp_path / "full.png", RNG.integers(0, 256, (200, 200, 3), dtype=np.uint8))
    (tmp_path / "cut.png").write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CellConsensusInputError, match=r"cut\.png.*(truncated|corrupt)"):
        read_image(tmp_path / "cut.png")
    with pytest.raises(CellConsensusInputError, match=r"nope\.png.*not found"):
        read_image(tmp_path / "nope.png")


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    path = save(tmp_path / "big.png", np.zeros((300, 400), np.uint8))
    with pytest.raises(CellConsensusInputError, match=r"big\.png.*400 x 300.*max_pixels"):
        read_image(path, max_pixels=100_000)
    assert read_image(path, max_pixels=120_000).shape == (300, 400, 1)


def test_folder_finds_files_by_id_pattern_and_extension(tmp_path):
    save(tmp_path / "feb2013-33-23.JPG", COLOUR)
    save(tmp_path / "raw_cell_1.png", GREY)
    (tmp_path / "notes.txt").write_text("not an image")
    folder = ImageFolder(tmp_path)
    assert folder.load("feb2013-33-23")[0].shape == (12, 10, 3)
    assert folder.load("feb2013-33-23.JPG")[0].shape == (12, 10, 3)
    assert sorted(folder.ids()) == ["feb2013-33-23", "raw_cell_1"]
    prefixed = ImageFolder(tmp_path, pattern="raw_{image_id}")
    assert prefixed.ids() == ["cell_1"] and prefixed.load("cell_1")[0].shape == (12, 10, 1)
    with pytest.raises(CellConsensusInputError, match="no image file for image_id 'missing'"):
        folder.load("missing")
    with pytest.raises(CellConsensusInputError, match="image folder not found"):
        ImageFolder(tmp_path / "nowhere")


def test_table_of_paths_or_arrays_and_hashes(tmp_path):
    path = save(tmp_path / "x.png", GREY)
    import pandas as pd

    table = as_image_source(pd.DataFrame({"image_id": ["a"], "path": [str(path)]}))
    pixels, digest = table.load("a")
    assert pixels.shape == (12, 10, 1) and len(digest) == 64
    assert digest == table.sha256("a")
    arrays = ImageTable({"b": GREY})
    assert np.array_equal(arrays.load("b")[0][..., 0], GREY)
    with pytest.raises(CellConsensusInputError, match="'zzz' is not in the image table"):
        arrays.load("zzz")
    with pytest.raises(TypeError, match="images must be"):
        as_image_source(42)


@pytest.mark.realdata
def test_every_real_image_reads(ldc_images, cellspotting_images):
    paths = [*sorted(ldc_images.glob("*.png")), *sorted(cellspotting_images.parent.rglob("*.png"))]
    paths += sorted(cellspotting_images.glob("*.jpg"))
    modes = set()
    for path in paths:
        with Image.open(path) as image:
            modes.add(image.mode)
        pixels = read_image(path)
        assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] in (1, 3)
    assert {"RGB", "L", "RGBA", "P", "I;16"} <= modes


def test_ids_that_differ_only_in_case_are_not_one_file(tmp_path):
    """``Case.png`` and ``case.png`` once resolved to one file for both ids."""
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "Case.png")
    Image.fromarray(np.full((4, 4), 9, np.uint8)).save(tmp_path / "case.png")
    folder = ImageFolder(tmp_path)
    assert folder.load("Case")[0].max() == 0 and folder.load("case")[0].max() == 9
    with pytest.raises(CellConsensusInputError, match=r"matches 2 files that differ only in case"):
        folder.load("CASE")
    (tmp_path / "case.png").unlink()
    assert ImageFolder(tmp_path).load("CASE")[0].shape == (4, 4, 1)  # one file: found


def test_overlapping_reads_put_pillows_limit_back(tmp_path, monkeypatch):
    """Two reads in threads that overlap once left Image.MAX_IMAGE_PIXELS at None."""
    import threading

    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "a.png")
    import time

    barrier = threading.Barrier(2, timeout=30)
    original = Image.open
    arrived = []

    def open_together(*args, **kwargs):
        arrived.append(threading.get_ident())
        barrier.wait()  # both decodes are inside the lifted limit at once
        if arrived[-1] == threading.get_ident():
            time.sleep(0.3)  # the second to lift it is the last to finish
        return original(*args, **kwargs)

    monkeypatch.setattr(Image, "open", open_together)
    limit = Image.MAX_IMAGE_PIXELS
    threads = [threading.Thread(target=read_image, args=(tmp_path / "a.png",)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Image.MAX_IMAGE_PIXELS == limit is not None
