"""The point detector: targets, peaks, tiles (properties), training, detection, files, CLI."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from cellcnn.cli import main as cnn_main
from cellcnn.detect import detect, draw_detections, evaluate_detector, load_detector, train_detector
from cellcnn.detect.edges import EDGE_BAND, SIDES, edge_kept, peak_thresholds, tune_edges
from cellcnn.detect.heatmap import TARGET_EXTRA, render_targets
from cellcnn.detect.inference import cells_from_maps, predict_maps
from cellcnn.detect.peaks import find_peaks
from cellcnn.detect.tiles import tile_grid
from cellconsensus.errors import CellConsensusInputError
from cellconsensus.tables import Vocabulary

SETTINGS = settings(max_examples=60, deadline=None)
TINY = {"widths": (8, 16, 32), "crop": 64, "batch_size": 8}


# --- targets -------------------------------------------------------------------------


@SETTINGS
@given(
    st.lists(st.tuples(st.floats(0, 39.99), st.floats(0, 29.99)), min_size=1, max_size=6),
    st.floats(0.7, 4.0),
)
def test_targets_peak_at_one_on_each_centre_pixel_and_stay_in_range(points, sigma):
    x, y = (np.array(v) for v in zip(*points, strict=True))
    proba = np.tile([[0.7, 0.3]], (len(x), 1))
    t = render_targets((30, 40), x, y, proba, sigma=sigma, weight=np.full(len(x), 0.5))
    assert t.shape == (30, 40, 5)
    assert np.all(t[np.floor(y).astype(int), np.floor(x).astype(int), 0] == 1.0)
    assert 0.0 <= t[..., 0].min() and t[..., 0].max() == 1.0
    # Class maps are the cells' probabilities where a bump is, weights 0.5 there, 1 elsewhere.
    bump = t[..., 0] > 0
    np.testing.assert_allclose(t[bump][:, 1:3], [[0.7, 0.3]] * int(bump.sum()), rtol=1e-6)
    assert set(np.unique(t[..., 3])) <= {0.5, 1.0} and (t[bump, 3] == 0.5).all()
    np.testing.assert_allclose(t[..., 4], t[..., 0])  # class weight: the bump (all labelled)


def test_unlabelled_cells_teach_only_the_centre_and_far_cells_reach_in():
    t = render_targets((20, 20), np.array([5.0, 22.0]), np.array([5.0, 10.0]),
                       np.array([[0.5, 0.5], [1.0, 0.0]]), sigma=2.0,
                       class_weight=np.array([0.0, 1.0]))  # fmt: skip
    assert t[5, 5, 0] == 1.0 and t[5, 5, 4] == 0.0
    assert t[10, 19, 0] > 0 and t[10, 19, 4] > 0  # the cell at x = 22 reaches in
    assert t[..., 0].max() == 1.0 and (t[..., 0] == 1.0).sum() == 1


def _symmetries(a: np.ndarray):
    """The eight symmetries of the square of ``a`` (its first two axes)."""
    for turns in range(4):
        turned = np.rot90(a, turns)
        yield turned
        yield turned[:, ::-1]


@SETTINGS
@given(
    st.integers(1, 90),
    st.integers(1, 90),
    st.sampled_from([16, 32, 48]),
    st.integers(0, 1),
    st.sampled_from([0, 5, 32]),
    st.integers(0, 999),
)
def test_training_crops_are_windows_of_the_padded_image_and_their_targets_follow(
    height, width, side, n_cells, reach, seed
):
    from cellcnn.detect.crops import TrainingImage, crop_range, random_crop
    from cellcnn.detect.heatmap import render_targets

    # Each pixel holds its row and column: a crop tells where it was taken.
    rows, cols = np.indices((height, width))
    image = np.stack([rows, cols, np.zeros_like(rows)], axis=-1).astype(np.uint8)
    # An image with one cell in its middle, or without any (a consensus lists those too).
    x, y = np.full(n_cells, width / 2), np.full(n_cells, height / 2)
    proba = np.tile([1.0, 0.0], (n_cells, 1))
    cells = TrainingImage(image, x, y, proba, np.ones(n_cells), np.ones(n_cells))
    rng = np.random.default_rng(seed)
    for _ in range(3):
        patch, target = random_crop(cells, side, rng, 2.0, reach)
        assert patch.shape == (side, side, 3) and target.shape == (side, side, 2 + TARGET_EXTRA)
        # Undone by one of the square's symmetries, the crop is the window at (top, left)
        # of the image with its edge pixels repeated, within ``reach`` of the image and
        # never wholly beyond it.
        found = []
        for back, back_target in zip(_symmetries(patch), _symmetries(target), strict=True):
            along = np.arange(side)
            for top in range(*crop_range(height, side, reach)):
                if not (back[..., 0] == np.clip(top + along, 0, height - 1)[:, None]).all():
                    continue
                for left in range(*crop_range(width, side, reach)):
                    if (back[..., 1] == np.clip(left + along, 0, width - 1)[None, :]).all():
                        found.append((top, left, back_target))
        assert found, "the crop is no window of the padded image"
        assert all(-reach <= tp < height and -reach <= lf < width for tp, lf, _ in found)
        assert all(tp + side > 0 and lf + side > 0 for tp, lf, _ in found)
        # (A window of constant rows or columns matches several symmetries: one of them
        # carries the target.)
        assert any(np.allclose(t, render_targets((side, side), x - lf, y - tp, proba, sigma=2.0,
                                                   weight=np.ones(n_cells),
                                                   class_weight=np.ones(n_cells)))
                   for tp, lf, t in found), "the target does not follow the crop"  # fmt: skip


def test_training_crops_reach_beyond_the_image_as_inference_tiles_do():
    from cellcnn.detect.crops import TrainingImage, random_crop

    image = np.full((40, 40, 1), 7, np.uint8)
    image[0], image[-1], image[:, 0], image[:, -1] = 1, 2, 3, 4  # the edges
    cells = TrainingImage(
        image, np.zeros(0), np.zeros(0), np.zeros((0, 2)), np.zeros(0), np.zeros(0)
    )
    rng = np.random.default_rng(0)
    crops = [random_crop(cells, 16, rng, 2.0, 32)[0] for _ in range(50)]
    # Inside, a crop shows at most one row and one column of edge pixels (31); beyond an
    # edge its pixels repeat.
    assert any(np.isin(c, [1, 2, 3, 4]).sum() > 31 for c in crops)
    inside = [random_crop(cells, 16, rng, 2.0, 0)[0] for _ in range(50)]
    assert all(np.isin(c, [1, 2, 3, 4]).sum() <= 31 for c in inside)


def test_balanced_weights_count_a_rare_class_as_much_as_a_common_one():
    from cellcnn.detect.training import _targets_of
    from cellconsensus.tables import ALIVE_DEAD

    table = pd.DataFrame({"label": ["alive", "alive", "alive", "dead", "unsure"],
                          "p_real": [1.0, 1.0, 0.5, 1.0, np.nan]})  # fmt: skip
    proba, weight, class_weight = _targets_of(table, ALIVE_DEAD, balance=True)
    np.testing.assert_allclose(proba[:4], [[1, 0], [1, 0], [1, 0], [0, 1]])
    assert class_weight[4] == 0 and class_weight.mean() == pytest.approx(0.8)
    assert class_weight[3] == pytest.approx(3 * class_weight[0])  # 3 alive, 1 dead
    np.testing.assert_allclose(weight[:4] / class_weight[:4], [1.0, 1.0, 0.5, 1.0])
    _, plain, flat = _targets_of(table, ALIVE_DEAD, balance=False)
    np.testing.assert_allclose(plain, [1.0, 1.0, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(flat, [1, 1, 1, 1, 0])


# --- peaks -----------------------------------------------------------------------------


@SETTINGS
@given(st.lists(st.tuples(st.integers(4, 59), st.integers(4, 59)), min_size=1, max_size=8),
       st.integers(2, 8))  # fmt: skip
def test_peaks_are_separated_sorted_and_recover_planted_bumps(centres, distance):
    heat = np.zeros((64, 64))
    yy, xx = np.mgrid[:64, :64]
    kept = []
    for cx, cy in centres:  # plant only bumps far from the others
        if all(max(abs(cx - a), abs(cy - b)) > 2 * distance + 4 for a, b in kept):
            kept.append((cx, cy))
            heat = np.maximum(heat, 0.9 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 4.0))
    x, y, score = find_peaks(heat, threshold=0.5, min_distance=distance)
    assert len(x) == len(kept)
    assert np.all(np.diff(score) <= 0)
    for cx, cy in kept:
        assert np.min(np.hypot(x - (cx + 0.5), y - (cy + 0.5))) < 0.05
    if len(x) > 1:
        d = np.hypot(x[:, None] - x[None], y[:, None] - y[None])
        assert d[np.triu_indices(len(x), 1)].min() >= distance


def test_peaks_of_a_plateau_or_noise_keep_one_within_the_distance():
    heat = np.zeros((10, 10))
    heat[4, 4:7] = 0.8  # a flat ridge: one peak
    x, y, _ = find_peaks(heat, threshold=0.5, min_distance=3)
    assert len(x) == 1
    assert find_peaks(np.full((5, 5), np.nan), threshold=0.1, min_distance=1)[0].size == 0
    with pytest.raises(ValueError, match="2-D"):
        find_peaks(np.zeros(5), threshold=0.1, min_distance=1)


# --- tiles -----------------------------------------------------------------------------


#: The padding of the tiles as a scipy.ndimage boundary mode of the whole image.
_AS_NDIMAGE = {"symmetric": "reflect", "edge": "nearest"}


def test_each_side_keeps_peaks_by_its_own_threshold():
    """Weak bumps near the left and the right edge: the left's low threshold keeps its
    own, the right's high one drops its own, the one in the middle takes the overall."""
    vocabulary = Vocabulary(("alive", "dead"))
    heat = np.zeros((40, 60))
    for col, height in ((2, 0.2), (30, 0.2), (57, 0.5)):
        heat[20, col] = height
    maps = np.concatenate([heat[..., None], np.full((40, 60, 2), 0.5)], axis=-1)
    edges = {"left": 0.1, "top": 0.3, "right": 0.6, "bottom": 0.3}
    found = cells_from_maps(maps, vocabulary, threshold=0.15, min_distance=3,
                            edges=edges, edge_band=5)  # fmt: skip
    assert sorted(np.floor(found["x"]).astype(int).tolist()) == [2, 30]
    plain = cells_from_maps(maps, vocabulary, threshold=0.15, min_distance=3)
    assert sorted(np.floor(plain["x"]).astype(int).tolist()) == [2, 30, 57]


@SETTINGS
@given(
    st.lists(st.tuples(st.floats(0, 99), st.floats(0, 99), st.floats(0.05, 1), st.booleans()),
             min_size=1, max_size=30),
    st.sampled_from([0.2, 0.4, 0.6]),
    st.floats(1, 30),
)  # fmt: skip
def test_thresholds_per_side_never_lose_f1_on_the_images_they_were_chosen_on(peaks, threshold,
                                                                             band):  # fmt: skip
    found = pd.DataFrame(peaks, columns=["x", "y", "score", "real"]).assign(image_id="a")
    n_real = int(found["real"].sum()) + 1  # one true cell nobody found

    def f1_of(kept):
        return 2 * kept["real"].sum() / (len(kept) + n_real)

    candidates = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8]
    shapes = {"a": (100, 100)}
    edges = tune_edges(found, shapes, threshold, band, f1_of, candidates)
    assert set(edges) == set(SIDES) and set(edges.values()) <= {*candidates, threshold}
    tuned = f1_of(found[edge_kept(found, shapes, threshold, edges, band)])
    assert tuned >= f1_of(found[found["score"] >= threshold]) - 1e-12


@SETTINGS
@given(
    st.integers(1, 130),
    st.integers(1, 130),
    st.integers(1, 12),
    st.sampled_from([32, 48, 64]),
    st.sampled_from(sorted(_AS_NDIMAGE)),
)
def test_tiles_stitch_back_to_a_local_filter_of_the_whole_image(
    height, width, margin, max_tile, padding
):
    if max_tile <= 2 * margin:
        max_tile = 2 * margin + 8 - (2 * margin) % 8
    rng = np.random.default_rng(height * 131 + width)
    image = rng.integers(0, 255, (height, width, 1)).astype(np.float32)
    grid = tile_grid(image.shape, margin=margin, max_tile=max_tile, padding=padding)
    tiles = grid.tiles(image)
    assert tiles.shape == (len(grid), grid.tile, grid.tile, 1) and grid.tile % 8 == 0
    np.testing.assert_array_equal(grid.stitch(tiles), image)
    # A 3 x 3 filter per tile equals the filter of the whole image padded the same way.
    box = np.stack([ndimage.uniform_filter(t, (3, 3, 1), mode="mirror") for t in tiles])
    whole = ndimage.uniform_filter(image, (3, 3, 1), mode=_AS_NDIMAGE[padding])
    np.testing.assert_allclose(grid.stitch(box), whole, rtol=1e-5, atol=1e-3)


@SETTINGS
@given(st.integers(1, 3), st.integers(2, 9), st.integers(0, 2**16))
def test_symmetric_mean_turns_every_view_back(n, side, seed):
    from functools import partial

    from cellcnn.evaluate import symmetric_mean

    _symmetric_mean = partial(symmetric_mean, maps=True)

    tiles = np.random.default_rng(seed).random((n, side, side, 2))
    np.testing.assert_allclose(_symmetric_mean(lambda t: t, tiles), tiles)
    # A per-pixel function commutes with the symmetries; a position-dependent one averages
    # over the eight positions a pixel takes.
    np.testing.assert_allclose(_symmetric_mean(np.square, tiles), tiles**2)
    ramp = np.arange(side, dtype=float)[None, None, :, None]
    mean = _symmetric_mean(lambda t: t + ramp, tiles) - tiles
    np.testing.assert_allclose(mean, np.full_like(tiles, (side - 1) / 2))


def test_tile_grid_refuses_what_cannot_be_tiled():
    with pytest.raises(ValueError, match="nothing to tile"):
        tile_grid((0, 5))
    with pytest.raises(ValueError, match="multiple of 8"):
        tile_grid((50, 50), margin=32, max_tile=60)
    with pytest.raises(ValueError, match="padding must be one of edge, symmetric"):
        tile_grid((50, 50), padding="zeros")


# --- training and detection ----------------------------------------------------------------


@pytest.fixture(scope="module")
def detector(separable, tmp_path_factory):
    _, cells, images = separable
    out = tmp_path_factory.mktemp("detector") / "det"
    result = train_detector(cells, images, out, epochs=6, seed=0, **TINY)
    return result, cells, images


def test_the_detector_learns_the_blobs_and_records_its_choices(detector):
    result, cells, images = detector
    record = json.loads((result.out_dir / "detector.json").read_text())
    assert record == result.record
    assert record["classes"] == ["alive", "dead"] and record["channels"] == 1
    assert set(record["splits"]) == {"train", "val", "test"}
    split_images = sum(len(v) for v in record["splits"].values())
    assert split_images == cells["image_id"].nunique()
    assert 0 < record["threshold"] < 1 and record["cell_size"] == 20.0
    assert isinstance(record["tta"], bool) and record["padding"] == "edge"
    assert set(record["edge_thresholds"]) == set(SIDES)
    assert all(0 < t < 1 for t in record["edge_thresholds"].values())
    assert record["edge_band"] == pytest.approx(EDGE_BAND * record["cell_size"])
    assert result.validation["f1"] >= 0.9, result.validation
    figures, found = evaluate_detector(result.out_dir, cells, images)
    assert figures.f1 >= 0.9 and figures.localisation_error < 3.0
    assert figures.balanced_label_accuracy >= 0.8, figures
    assert set(found["image_id"]) <= set(record["splits"]["test"])


def test_detect_gives_a_cells_table_for_any_image_size(detector):
    result, cells, images = detector
    big = np.tile(images["im000"], (14, 14, 1))  # 896 x 896: several tiles
    found = detect(result.out_dir, {"big": big, "small": images["im001"][:20, :30]})
    assert list(found.columns) == ["image_id", "cell_id", "x", "y", "p_alive", "label", "score"]
    assert found.attrs["image_ids"] == ["big", "small"]
    on_big = found[found["image_id"] == "big"]
    assert len(on_big) >= 0.9 * 14 * 14 * 4  # the blobs of every tile copy, seams included
    assert on_big["cell_id"].tolist() == list(range(len(on_big)))
    record = result.record
    for image_id, shape in (("big", big.shape), ("small", (20, 30))):
        part = found[found["image_id"] == image_id]
        required = peak_thresholds(part["x"], part["y"], shape, record["threshold"],
                                   record["edge_thresholds"], record["edge_band"])  # fmt: skip
        assert ((part["score"] >= required) & (part["score"] <= 1)).all()
    assert found.attrs["detector"]["edge_thresholds"] == record["edge_thresholds"]
    assert found["label"].isin(["alive", "dead"]).all()
    assert found["p_alive"].between(0, 1).all()
    turned = detect(result.out_dir, {"small": images["im001"]}, tta=not result.record["tta"])
    assert turned.attrs["detector"]["tta"] is not result.record["tta"] and len(turned) >= 3
    none = detect(result.out_dir, {"blank": np.full((40, 40), 100, np.uint8)}, threshold=0.99)
    assert len(none) == 0 and list(none.columns) == list(found.columns)
    assert none.attrs["detector"]["edge_thresholds"] is None  # a threshold given: everywhere
    # The batching changes the memory, never the cells found.
    small = {"a": images["im002"], "b": images["im003"], "c": images["im004"]}
    by_pixels = detect(result.out_dir, small)
    for batch_size in (1, 2):
        pd.testing.assert_frame_equal(detect(result.out_dir, small, batch_size=batch_size),
                                      by_pixels, atol=1e-5)  # fmt: skip
    with pytest.raises(ValueError, match="batch_size"):
        detect(result.out_dir, small, batch_size=0)


def test_a_detector_recorded_without_padding_keeps_the_mirrored_padding(detector, tmp_path):
    # Detectors recorded before the padding was a setting were tuned on mirrored tiles.
    result, _, images = detector
    old = tmp_path / "old"
    shutil.copytree(result.out_dir, old)
    record = json.loads((old / "detector.json").read_text())
    del record["padding"]
    (old / "detector.json").write_text(json.dumps(record))
    edge = detect(result.out_dir, images, ["im001"])
    mirrored = detect(old, images, ["im001"])
    assert edge.attrs["detector"]["padding"] == "edge"
    assert mirrored.attrs["detector"]["padding"] == "symmetric"
    maps = [next(predict_maps(load_detector(folder)[0], [images["im001"]],
                              padding=padding))
            for folder, padding in ((result.out_dir, "edge"), (old, "symmetric"))]  # fmt: skip
    assert not np.allclose(*maps)  # the setting reaches the tiles
    record["padding"] = "zeros"  # a hand-edited record is named, not failed deep inside
    (old / "detector.json").write_text(json.dumps(record))
    with pytest.raises(CellConsensusInputError, match=r"detector\.json.*padding 'zeros'"):
        detect(old, images, ["im001"])
    # Detectors recorded before the thresholds per side keep one threshold everywhere.
    record["padding"] = "edge"
    del record["edge_thresholds"]
    (old / "detector.json").write_text(json.dumps(record))
    assert detect(old, images, ["im001"]).attrs["detector"]["edge_thresholds"] is None
    for bad in ({"left": 0.2}, {side: 2.0 for side in SIDES}, [0.1, 0.2, 0.3, 0.4]):
        record["edge_thresholds"] = bad
        (old / "detector.json").write_text(json.dumps(record))
        with pytest.raises(CellConsensusInputError, match=r"detector\.json.*edge_thresholds"):
            detect(old, images, ["im001"])
    record["edge_thresholds"] = result.record["edge_thresholds"]
    record["edge_band"] = "wide"
    (old / "detector.json").write_text(json.dumps(record))
    with pytest.raises(CellConsensusInputError, match=r"detector\.json.*edge_band"):
        detect(old, images, ["im001"])


def test_a_classifier_labels_the_detections(detector, tiny_run):
    result, _, images = detector
    own = detect(result.out_dir, images, ["im002"])
    classified = detect(result.out_dir, images, ["im002"], classifier=tiny_run)
    np.testing.assert_array_equal(own[["x", "y"]], classified[["x", "y"]])
    assert classified.attrs["detector"]["classifier"] == str(tiny_run)
    assert classified["p_alive"].between(0, 1).all()


def test_drawn_detections_are_pngs(detector, tmp_path):
    result, cells, images = detector
    found = detect(result.out_dir, images, ["im003", "im004"])
    written = draw_detections(found, images, tmp_path, truth=cells)
    assert [p.name for p in written] == ["im003.png", "im004.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in written)


def test_training_refuses_what_it_cannot_learn_from(separable, tmp_path):
    _, cells, images = separable
    with pytest.raises(CellConsensusInputError, match="lack column"):
        train_detector(cells.drop(columns="x"), images, tmp_path)
    bad = cells.copy()
    bad.loc[3, "y"] = np.nan
    with pytest.raises(CellConsensusInputError, match="row 4"):
        train_detector(bad, images, tmp_path)
    all_train = {i: "train" for i in cells["image_id"]}
    with pytest.raises(CellConsensusInputError, match="0 validation images"):
        train_detector(cells, images, tmp_path, split=all_train)
    with pytest.raises(CellConsensusInputError, match="has no split"):
        train_detector(cells, images, tmp_path, split={"im000": "train"})
    with pytest.raises(ValueError, match="crop"):
        train_detector(cells, images, tmp_path, crop=30)
    with pytest.raises(ValueError, match="learning_rate"):
        train_detector(cells, images, tmp_path, learning_rate=float("nan"))
    assert not (tmp_path / "detector.json").exists()


def test_images_without_cells_teach_the_background(separable, tmp_path):
    # A consensus lists its empty images too (attrs["image_ids"]): they are trained on.
    _, cells, images = separable
    few = cells[cells["image_id"].isin(["im000", "im001", "im002"])]
    blank = {f"blank{k}": np.full((64, 64, 1), 100, np.uint8) for k in range(4)}
    split = {"im000": "train", "im001": "val", "im002": "test",
             **{name: "train" for name in blank}}  # fmt: skip
    result = train_detector(few, {**images, **blank}, tmp_path / "det", image_ids=list(split),
                            split=split, epochs=1, **TINY)  # fmt: skip
    assert set(blank) <= set(result.record["splits"]["train"])


def test_a_damaged_detector_folder_names_the_file(detector, tmp_path):
    result, _, images = detector
    with pytest.raises(CellConsensusInputError, match="detector.keras missing"):
        detect(tmp_path, images)
    (tmp_path / "detector.keras").write_bytes(b"PK\x03\x04 truncated")
    (tmp_path / "detector.json").write_text(json.dumps(result.record))
    with pytest.raises(CellConsensusInputError, match="cannot load the model") as info:
        load_detector(tmp_path)
    assert "detector.keras" in str(info.value)
    (tmp_path / "detector.json").write_text("{not json")
    with pytest.raises(CellConsensusInputError, match="detector.json: not a readable record"):
        load_detector(tmp_path)


def test_cli_trains_detects_and_predicts_without_cells(detector, tiny_run, tmp_path, capsys):
    result, cells, images = detector
    folder = tmp_path / "images"
    folder.mkdir()
    from PIL import Image

    for image_id in ("im005", "im006"):
        Image.fromarray(images[image_id][..., 0]).save(folder / f"{image_id}.png")
    out = tmp_path / "found.csv"
    draw = tmp_path / "drawn"
    assert cnn_main(["detect", str(result.out_dir), "--images", str(folder), "-o", str(out),
                     "--draw", str(draw)]) == 0  # fmt: skip
    found = pd.read_csv(out)
    assert set(found["image_id"]) <= {"im005", "im006"} and len(found) >= 6
    assert sorted(p.name for p in draw.iterdir()) == ["im005.png", "im006.png"]
    assert "found" in capsys.readouterr().out
    # --tta and --batch-size reach detect: TTA as the library gives it, one tile per pass.
    flipped = tmp_path / "flipped.csv"
    tta = "--no-tta" if result.record["tta"] else "--tta"
    assert cnn_main(["detect", str(result.out_dir), "--images", str(folder), "-o", str(flipped),
                     tta, "--batch-size", "1"]) == 0  # fmt: skip
    library = detect(result.out_dir, str(folder), tta=not result.record["tta"], batch_size=1)
    written = pd.read_csv(flipped)
    assert np.allclose(written[["x", "y", "score"]], library[["x", "y", "score"]], atol=1e-4)
    assert len(found) != len(written) or not np.allclose(found["score"], written["score"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as bad:
        cnn_main(["detect", str(result.out_dir), "--images", str(folder), "-o", str(flipped),
                  "--batch-size", "0"])  # fmt: skip
    assert bad.value.code == 2 and "1 or more" in capsys.readouterr().err
    predicted = tmp_path / "predicted.csv"
    assert cnn_main(["predict", str(tiny_run), "--detector", str(result.out_dir), "--images",
                     str(folder), "-o", str(predicted)]) == 0  # fmt: skip
    table = pd.read_csv(predicted)
    assert len(table) == len(found) and {"p_alive_cnn", "label_cnn"} <= set(table.columns)
    assert cnn_main(["predict", str(tiny_run), "--images", str(folder), "-o", "x.csv"]) == 2
    assert "--detector" in capsys.readouterr().err


def test_cli_train_detector_from_a_truth_table(separable, tmp_path, capsys):
    _, cells, images = separable
    folder = tmp_path / "images"
    folder.mkdir()
    from PIL import Image

    keep = sorted(images)[:30]
    for image_id in keep:
        Image.fromarray(images[image_id][..., 0]).save(folder / f"{image_id}.png")
    truth = tmp_path / "truth.csv"
    cells[cells["image_id"].isin(keep)][["image_id", "x", "y", "label"]].to_csv(truth, index=False)
    out = tmp_path / "det"
    assert cnn_main(["train-detector", str(truth), "--images", str(folder), "--out", str(out),
                     "--epochs", "1", "--cell-size", "12", "--cache", str(tmp_path / "c.zarr")]) == 0  # fmt: skip
    assert "validation: F1" in capsys.readouterr().out
    assert json.loads((out / "detector.json").read_text())["cell_size"] == 12.0
    assert (tmp_path / "c.zarr" / "images").is_dir()  # the images were read from the cache


# --- images in zarr --------------------------------------------------------------------------


def _counting(images, fail_after=None):
    """An image source that counts its reads and is killed after ``fail_after`` of them."""
    from cellconsensus.images.source import ImageTable

    class Counting(ImageTable):
        reads = 0

        def load(self, image_id, **options):
            if fail_after is not None and self.reads >= fail_after:
                raise KeyboardInterrupt("killed")
            self.reads += 1
            return super().load(image_id, **options)

    return Counting(images)


def test_the_image_cache_holds_every_image_and_resumes_where_it_stopped(separable, tmp_path):
    from cellcnn.detect.image_cache import CHUNK, cache_images, open_images
    from cellconsensus.errors import CellConsensusInputError

    _, _, images = separable
    ids = sorted(images)[:12]
    path = tmp_path / "images.zarr"
    with pytest.raises(KeyboardInterrupt):
        cache_images(_counting(images, fail_after=5), path, ids, 1)
    with pytest.raises(CellConsensusInputError, match="not a complete image cache"):
        open_images(path, ids)  # an interrupted cache never looks complete
    again = _counting(images)
    arrays = cache_images(again, path, ids, 1)
    assert again.reads == len(ids) - 5  # the images done before are not read again
    for i in ids:
        expected = np.asarray(images[i], dtype=np.uint8).reshape(64, 64, 1)
        assert np.array_equal(arrays[i][...], expected)
        assert arrays[i].chunks == (CHUNK, CHUNK, 1)
    reused = _counting(images)
    cache_images(reused, path, ids, 1)
    assert reused.reads == 0
    with pytest.raises(CellConsensusInputError, match="other images or channels"):
        cache_images(images, path, ids[:3], 1)


def test_training_from_the_cache_learns_the_same_as_from_memory(separable, tmp_path):
    _, cells, images = separable
    options = {"epochs": 1, "seed": 0, **TINY}
    plain = train_detector(cells, images, tmp_path / "plain", **options).record
    cached = train_detector(cells, images, tmp_path / "cached", cache=tmp_path / "c.zarr",
                            **options).record  # fmt: skip
    assert cached["splits"] == plain["splits"] and cached["threshold"] == plain["threshold"]
    np.testing.assert_allclose(cached["history"]["loss"], plain["history"]["loss"], rtol=1e-5)
    assert cached["validation"]["f1"] == pytest.approx(plain["validation"]["f1"])
