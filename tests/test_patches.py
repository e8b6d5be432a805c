"""Patches: exact pixels, every border policy, odd sizes, small images, bad images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cellconsensus.errors import CellConsensusInputError
from cellconsensus.patches import contrast_score, crop, extract_patches
from cellconsensus.synthetic import make_images

IMAGE = np.arange(40 * 50 * 2, dtype=np.uint32).reshape(40, 50, 2).astype(np.uint8)


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1, 40),
    x=st.floats(0, 49.99, allow_nan=False),
    y=st.floats(0, 39.99, allow_nan=False),
    border=st.sampled_from(["reflect", "constant", "shift"]),
)
def test_patch_pixels_equal_the_image_region(size, x, y, border):
    """Inside the image, every policy gives the source region, centred as documented."""
    pixels, keep, padded, shift = crop(IMAGE, [x], [y], size, border)
    col, row = int(np.floor(x)) - size // 2, int(np.floor(y)) - size // 2
    inside = col >= 0 and row >= 0 and col + size <= 50 and row + size <= 40
    assert keep.all() and pixels.shape == (1, size, size, 2)
    if inside:
        assert np.array_equal(pixels[0], IMAGE[row : row + size, col : col + size])
        assert not padded[0] and (shift == 0).all()
    elif border == "shift" and size <= 40:
        c0, r0 = col + shift[0, 0], row + shift[0, 1]
        assert 0 <= c0 <= 50 - size and 0 <= r0 <= 40 - size
        assert np.array_equal(pixels[0], IMAGE[r0 : r0 + size, c0 : c0 + size])
        assert not padded[0]
    else:
        assert padded[0]
    # The cell's own pixel sits at the (shifted) centre.
    cy, cx = size // 2 - shift[0, 1], size // 2 - shift[0, 0]
    if 0 <= cy < size and 0 <= cx < size:
        assert np.array_equal(pixels[0, cy, cx], IMAGE[int(np.floor(y)), int(np.floor(x))])


def test_reflect_and_constant_match_numpy_padding():
    size = 21
    pixels, _, padded, _ = crop(IMAGE, [1.0], [38.5], size, "reflect")
    reference = np.pad(IMAGE, ((size, size), (size, size), (0, 0)), mode="reflect")
    r, c = 38 - 10 + size, 1 - 10 + size
    assert padded[0] and np.array_equal(pixels[0], reference[r : r + size, c : c + size])
    pixels, *_ = crop(IMAGE, [1.0], [38.5], size, "constant", fill=7)
    assert (pixels[0, :, :9] == 7).all() and (pixels[0, -8:, :] == 7).all()
    assert np.array_equal(pixels[0, :10, 9:], IMAGE[28:38, 0:12])


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1, 30),
    x=st.floats(-15, 65, allow_nan=False),
    y=st.floats(-15, 55, allow_nan=False),
    border=st.sampled_from(["reflect", "constant"]),
    height=st.integers(1, 40),
    width=st.integers(1, 50),
)
def test_any_window_equals_numpy_padding_of_the_image(size, x, y, border, height, width):
    """Windows are gathered by index, without padding the image: the pixels are those of
    numpy.pad (repeated reflection; the edge for one-pixel images) wide enough for them."""
    image = IMAGE[:height, :width]
    pixels, keep, padded, _ = crop(image, [x], [y], size, border, fill=7)
    if x < -size / 2 or y < -size / 2 or x > width + size / 2 or y > height + size / 2:
        assert not keep[0] and len(pixels) == 0  # no pixel of the image in its window
        return
    reach = 2 * size + 70
    mode = "edge" if border == "reflect" and min(height, width) < 2 else border
    extra = {"constant_values": 7} if border == "constant" else {}
    reference = np.pad(image, ((reach, reach), (reach, reach), (0, 0)), mode=mode, **extra)
    col, row = int(np.floor(x)) - size // 2 + reach, int(np.floor(y)) - size // 2 + reach
    assert keep[0] and np.array_equal(pixels[0], reference[row : row + size, col : col + size])


def test_far_away_cells_cost_nothing_and_are_counted():
    """A cell 40,000 px outside a 50 px image once asked for 17.7 GiB; now it gets no patch,
    the memory is that of the patches, and the report counts it."""
    import tracemalloc

    tracemalloc.start()
    for border in ("reflect", "constant", "shift", "drop"):
        pixels, keep, _, shift = crop(IMAGE, [25.0, 40_000.0, -1e12], [20.0, 20.0, 5.0], 32, border)
        assert keep.tolist() == [True, False, False]
        assert np.abs(shift).max(initial=0) < 2**15
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 10 * 2**20
    data = make_images(2, style="brightfield", seed=1)
    cells = data.truth.copy()
    cells.loc[cells.index[0], "x"] = 1e9
    result = extract_patches(cells, data.images, 32)
    assert result.report.n_dropped_outside == 1 and result.report.n_patches == len(cells) - 1
    assert (result.cells["x"] < 1e9).all()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_positions_are_named(bad):
    with pytest.raises(CellConsensusInputError, match="NaN or infinite position, e.g. point 1"):
        crop(IMAGE, [1.0, bad], [1.0, 2.0], 8)
    with pytest.raises(CellConsensusInputError, match="empty image"):
        crop(np.zeros((0, 5, 1), np.uint8), [1.0], [1.0], 8)
    with pytest.raises(ValueError, match="at most"):
        crop(IMAGE, [1.0], [1.0], 20_000)


def test_drop_removes_cells_whose_window_leaves_the_image():
    pixels, keep, padded, shift = crop(IMAGE, [25.0, 2.0, 48.0], [20.0, 20.0, 20.0], 9, "drop")
    assert keep.tolist() == [True, False, False] and len(pixels) == 1
    assert len(padded) == len(shift) == 1


@pytest.mark.parametrize("border", ["reflect", "constant", "shift", "drop"])
def test_images_smaller_than_the_patch(border):
    tiny = np.full((5, 3, 1), 9, np.uint8)
    pixels, keep, padded, _ = crop(tiny, [1.0], [2.0], 8, border)
    if border == "drop":
        assert not keep.any() and pixels.shape == (0, 8, 8, 1)
    else:
        assert pixels.shape == (1, 8, 8, 1) and padded.all()
        if border != "constant":
            assert (pixels == 9).sum() >= 15


def test_one_pixel_wide_image_reflects_as_edge():
    line = np.arange(7, dtype=np.uint8).reshape(7, 1, 1)
    pixels, *_ = crop(line, [0.5], [3.5], 3, "reflect")
    assert pixels[0, :, :, 0].tolist() == [[2, 2, 2], [3, 3, 3], [4, 4, 4]]


def test_contrast_separates_cells_from_background():
    data = make_images(8, style="brightfield", seed=3)
    cells = extract_patches(data.truth, data.images, 32).cells["contrast"]
    rng = np.random.default_rng(0)
    empty = data.truth.assign(
        x=rng.uniform(5, 220, len(data.truth)), y=rng.uniform(5, 214, len(data.truth))
    )
    truth_xy = data.truth[["x", "y"]].to_numpy()
    far = [
        np.hypot(*(truth_xy[data.truth["image_id"].to_numpy() == r.image_id] - (r.x, r.y)).T).min()
        > 30
        for r in empty.itertuples()
    ]
    background = extract_patches(empty[far], data.images, 32).cells["contrast"]
    assert background.median() < 2 < np.quantile(cells, 0.1)
    assert contrast_score(np.zeros((0, 8, 8, 1), np.uint8), data.images["syn00000"]).shape == (0,)


def test_extract_reports_every_dropped_cell():
    data = make_images(6, style="brightfield", seed=1)
    truth = data.truth
    result = extract_patches(truth, data.images, 64, border="drop", min_contrast=3.0)
    r = result.report
    assert r.n_cells == len(truth)
    assert r.n_patches == len(result.cells) == len(result.pixels)
    assert r.n_patches + r.n_dropped_border + r.n_dropped_contrast == r.n_cells
    assert r.n_dropped_outside == 0
    assert r.n_dropped_border > 0 and (result.cells["contrast"] >= 3).all()
    assert {"padded", "shifted", "shift_x", "shift_y", "contrast"} <= set(result.cells.columns)


def test_no_cells_gives_an_empty_stack():
    data = make_images(1, style="brightfield", seed=0)
    result = extract_patches(data.truth.iloc[:0], data.images, 16)
    assert result.pixels.shape == (0, 16, 16, 1) and len(result.cells) == 0


def test_unreadable_images_raise_or_are_skipped_and_counted(tmp_path):
    data = make_images(3, style="brightfield", seed=2, cells_per_image=(2, 2))
    images = {k: v for k, v in data.images.items()}
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    images["syn00001"] = tmp_path / "broken.png"
    with pytest.raises(CellConsensusInputError, match=r"broken\.png"):
        extract_patches(data.truth, images, 16)
    result = extract_patches(data.truth, images, 16, on_error="skip")
    assert result.report.n_dropped_error == 2 and "broken.png" in result.report.errors[0]
    assert "syn00001" not in set(result.cells["image_id"])


def test_mixed_grey_and_colour_needs_a_channel_choice():
    grey = np.zeros((20, 20), np.uint8)
    colour = np.random.default_rng(0).integers(0, 255, (20, 20, 3), dtype=np.uint8)
    cells = pd.DataFrame({"image_id": ["g", "c"], "x": [10.0, 10.0], "y": [10.0, 10.0]})
    with pytest.raises(CellConsensusInputError, match="channels=1 or 3"):
        extract_patches(cells, {"g": grey, "c": colour}, 8)
    assert extract_patches(cells, {"g": grey, "c": colour}, 8, channels=3).pixels.shape == (
        2,
        8,
        8,
        3,
    )


def test_bad_parameters():
    with pytest.raises(ValueError, match="border"):
        crop(IMAGE, [1.0], [1.0], 5, "wrap")
    with pytest.raises(ValueError, match="size"):
        crop(IMAGE, [1.0], [1.0], 0)
