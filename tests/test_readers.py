"""Readers: real exports, PyBossa JSON/CSV, Pascal VOC, and every kind of bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cellconsensus import CellConsensusInputError, make_truth, simulate_crowd
from cellconsensus.io import (
    read_cells,
    read_cellspotting_csv,
    read_clicks,
    read_pybossa,
    read_voc,
    write_cells,
    write_clicks,
    write_voc,
)
from cellconsensus.tables import LABEL_DTYPE, validate_clicks

HEADER = "alive_array,task\n"


def _csv(tmp_path, rows: list[str], name="runs.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


# -- Cell Spotting CSV -------------------------------------------------------------------


def test_cellspotting_python2_repr_and_ids(tmp_path):
    path = _csv(
        tmp_path,
        [
            "\"[[u'alive', 97, 17], [u'dead', 195.5, 84]]\",http://h/img/input/feb2013-33-23",
            "\"[[u'not_sure_alive', 3, 4]]\",http://h/img/input/feb2013-33-23/",
        ],
    )
    clicks = read_cellspotting_csv(path)
    assert clicks["image_id"].tolist() == ["feb2013-33-23"] * 3
    assert clicks["label"].tolist() == ["alive", "dead", "unsure"]
    assert clicks["label"].dtype == LABEL_DTYPE
    assert clicks["annotator_id"].tolist() == ["r1", "r1", "r2"]
    assert clicks["x"].tolist() == [97.0, 195.5, 3.0]


def test_cellspotting_real_export(cellspotting_csv):
    clicks = read_cellspotting_csv(cellspotting_csv)
    assert clicks["label"].value_counts().to_dict() == {"alive": 5153, "dead": 2817, "unsure": 34}
    assert clicks["image_id"].nunique() == 800
    assert clicks["annotator_id"].nunique() == 999
    report = clicks.attrs["report"]
    assert report.n_records == 999 and report.n_clicks == len(clicks) == 8004
    # y = -3 occurs: clipped onto the canvas by the default policy, and counted.
    assert report.n_out_of_canvas >= 1 and report.n_clipped == report.n_out_of_canvas
    assert clicks["y"].min() >= 0 and clicks["x"].max() <= 524


def test_cellspotting_out_of_canvas_policies(cellspotting_csv):
    kept = read_cellspotting_csv(cellspotting_csv, out_of_canvas="keep")
    dropped = read_cellspotting_csv(cellspotting_csv, out_of_canvas="drop")
    n_out = kept.attrs["report"].n_out_of_canvas
    assert kept["y"].min() < 0
    assert len(dropped) == len(kept) - n_out
    assert dropped.attrs["report"].n_dropped_out_of_canvas == n_out
    with pytest.raises(
        CellConsensusInputError, match=r"task_runs_1000.csv, record \d+, click \d+, field 'y'"
    ):
        read_cellspotting_csv(cellspotting_csv, out_of_canvas="raise")


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ("\"[[u'alive', 97, 17\",http://h/a", r"record 1, field 'alive_array': cannot parse"),
        (
            "\"[[u'zombie', 1, 2]]\",http://h/a",
            r"record 1, field 'alive_array': unknown label 'zombie'",
        ),
        ("\"[[u'alive', nan, 2]]\",http://h/a", r"record 1, field 'alive_array'"),
        ("\"[[u'alive', 1]]\",http://h/a", r"click 1 is \['alive', 1\]"),
        ("\"[[u'alive', 'x', 2]]\",http://h/a", r"coordinates must be finite numbers"),
        ("\"{'a': 1}\",http://h/a", r"expected a list"),
        ("\"[[u'alive', 1, 2]]\",", r"record 1, field 'task': no image id"),
        ("\"__import__('os').system('true')\",http://h/a", r"cannot parse"),
    ],
)
def test_cellspotting_bad_records(tmp_path, row, match):
    path = _csv(tmp_path, [row])
    with pytest.raises(CellConsensusInputError, match=match) as info:
        read_cellspotting_csv(path)
    assert str(path) in str(info.value)


def test_cellspotting_missing_column_and_file(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("task\nhttp://h/a\n")
    with pytest.raises(CellConsensusInputError, match="missing column.*alive_array"):
        read_cellspotting_csv(path)
    with pytest.raises(CellConsensusInputError, match="file not found"):
        read_cellspotting_csv(tmp_path / "nope.csv")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00\x01garbage\x00")
    with pytest.raises(CellConsensusInputError, match="bin.csv"):
        read_cellspotting_csv(binary)


def test_empty_and_duplicate_runs(tmp_path):
    rows = [
        "\"[[u'alive', 1, 2]]\",http://h/a",
        "\"[[u'alive', 1, 2]]\",http://h/a",  # every field alike: the record exported twice
        "\"[[u'alive', 1, 2]]\",http://h/b",  # the same answer on another image
        "[],http://h/a",
    ]
    clicks = read_cellspotting_csv(_csv(tmp_path, rows))
    assert clicks.attrs["report"].n_duplicate_runs == 1
    assert clicks.attrs["report"].n_empty_runs == 1
    assert len(clicks.attrs["runs"]) == 3 and clicks["annotator_id"].tolist() == ["r1", "r3"]
    with pytest.raises(CellConsensusInputError, match="record 2: duplicate run: repeats record 1"):
        read_cellspotting_csv(_csv(tmp_path, rows), duplicate_runs="raise")
    assert len(read_cellspotting_csv(_csv(tmp_path, rows), duplicate_runs="keep")) == 3


def test_a_cellspotting_export_appended_to_itself_reads_as_once(cellspotting_csv, tmp_path):
    """Re-exporting rows twice once took their images from 27 to 69 cells."""
    text = cellspotting_csv.read_text()
    header, *records = text.splitlines(keepends=True)
    doubled = tmp_path / "doubled.csv"
    doubled.write_text(header + "".join(records) + "".join(records[:10]))
    once = read_cellspotting_csv(cellspotting_csv)
    twice = read_cellspotting_csv(doubled)
    assert twice.attrs["report"].n_duplicate_runs == 10
    pd.testing.assert_frame_equal(twice, once, check_like=False)
    with pytest.raises(
        CellConsensusInputError, match="record 1000: duplicate run: repeats record 1"
    ):
        read_cellspotting_csv(doubled, duplicate_runs="raise")


def test_a_truncated_cellspotting_export_is_an_error(cellspotting_csv, tmp_path):
    """A download cut inside the last task URL once read as image id 'sta'."""
    text = cellspotting_csv.read_text().rstrip("\r\n")
    cut = tmp_path / "cut.csv"
    cut.write_text(text[: text.rindex("/static/") + len("/sta")])
    with pytest.raises(CellConsensusInputError, match="record 999, field 'task': the file ends"):
        read_cellspotting_csv(cut)
    # Without the final newline but whole, it reads.
    whole = tmp_path / "whole.csv"
    whole.write_text(text)
    assert len(read_cellspotting_csv(whole)) == 8004


def _runs_json(tmp_path, runs, tasks=None):
    path = tmp_path / "runs.json"
    path.write_text(json.dumps(runs))
    tpath = None
    if tasks is not None:
        tpath = tmp_path / "tasks.json"
        tpath.write_text(json.dumps(tasks))
    return path, tpath


def test_pybossa_json_with_tasks(tmp_path):
    runs = [
        {
            "id": 1,
            "task_id": 7,
            "user_id": 3,
            "user_ip": None,
            "info": {"alive_array": [["alive", 10, 20]]},
        },
        {
            "id": 2,
            "task_id": 7,
            "user_id": None,
            "user_ip": "1.2.3.4",
            "info": {"alive_array": [["dead", 11, 21]]},
        },
        {"id": 3, "task_id": 8, "info": {"alive_array": []}},
    ]
    tasks = [
        {"id": 7, "info": {"link": "http://x/img/feb-1"}},
        {"id": 8, "info": {"url": "http://x/img/feb-2"}},
    ]
    path, tpath = _runs_json(tmp_path, runs, tasks)
    clicks = read_pybossa(path, tpath)
    assert clicks["image_id"].tolist() == ["feb-1", "feb-1"]
    assert clicks["annotator_id"].tolist() == ["3", "1.2.3.4"]
    assert clicks.attrs["report"].n_empty_runs == 1
    assert ("feb-2", "run3") in set(map(tuple, clicks.attrs["runs"].to_numpy().tolist()))


def test_a_repeated_task_id_names_both_records(tmp_path):
    path, tpath = _runs_json(
        tmp_path,
        [{"id": 1, "task_id": 7, "user_id": 1, "info": {"alive_array": []}}],
        [{"id": 7, "info": {"link": "http://x/a"}}, {"id": 7, "info": {"link": "http://x/b"}}],
    )
    with pytest.raises(
        CellConsensusInputError, match="record 2, field 'id': task id 7 repeats record 1"
    ):
        read_pybossa(path, tpath)


def test_the_cellspotting_task_list_points_to_its_reader(cellspotting_csv):
    with pytest.raises(CellConsensusInputError, match="read_cellspotting_csv"):
        read_pybossa(cellspotting_csv, cellspotting_csv.parent / "tasks_export.csv")


def test_pybossa_duplicate_run_ids(tmp_path):
    run = {"id": 1, "task_id": 7, "user_id": 3, "info": {"alive_array": [["alive", 10, 20]]}}
    path, _ = _runs_json(tmp_path, [run, run])
    clicks = read_pybossa(path)
    assert len(clicks) == 1 and clicks.attrs["report"].n_duplicate_runs == 1
    with pytest.raises(CellConsensusInputError, match="record 2, field 'id': duplicate run id 1"):
        read_pybossa(path, duplicate_runs="raise")
    assert len(read_pybossa(path, duplicate_runs="keep")) == 2


def test_pybossa_same_answer_twice_is_a_duplicate_run(tmp_path):
    runs = [
        {"id": 1, "task_id": 7, "user_id": 3, "info": {"alive_array": [["alive", 10, 20]]}},
        {"id": 2, "task_id": 7, "user_id": 3, "info": {"alive_array": [["alive", 10, 20]]}},
    ]
    path, _ = _runs_json(tmp_path, runs)
    assert read_pybossa(path).attrs["report"].n_duplicate_runs == 1


def test_pybossa_csv_forms(tmp_path):
    info = json.dumps({"alive_array": [["alive", 5, 6]]}).replace('"', '""')
    (tmp_path / "a.csv").write_text(f'id,task_id,user_id,info\n1,7,3,"{info}"\n')
    (tmp_path / "b.csv").write_text(
        "id,task_id,user_ip,info_alive_array\n1,7,9.9.9.9,\"[['dead', 5, 6]]\"\n"
    )
    (tmp_path / "tasks.csv").write_text("id,info_link\n7,http://x/y/img-7\n")
    a = read_pybossa(tmp_path / "a.csv", tmp_path / "tasks.csv")
    b = read_pybossa(tmp_path / "b.csv")
    assert a[["image_id", "annotator_id", "label"]].values.tolist() == [["img-7", "3", "alive"]]
    assert b[["image_id", "annotator_id", "label"]].values.tolist() == [["7", "9.9.9.9", "dead"]]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('[{"id": 1, "task_id": 7, ', r"runs.json, line 1, column \d+: malformed JSON"),
        ('{"a": [1]}', r"record 1, field 'task_id'"),
        ('[{"id": 1, "task_id": 7, "info": {}}]', r"record 1, field 'info.alive_array': no answer"),
        ('[{"id": 1, "task_id": 7, "info": {"alive_array": [["alive", null, 1]]}}]', r"x = None"),
        ("[1, 2]", "expected a JSON list of objects"),
    ],
)
def test_pybossa_bad_json(tmp_path, content, match):
    path = tmp_path / "runs.json"
    path.write_text(content)
    with pytest.raises(CellConsensusInputError, match=match):
        read_pybossa(path)


def test_pybossa_task_not_in_task_list(tmp_path):
    path, tpath = _runs_json(
        tmp_path,
        [{"id": 1, "task_id": 9, "info": {"alive_array": []}}],
        [{"id": 7, "info": {"link": "http://a/b"}}],
    )
    with pytest.raises(CellConsensusInputError, match="task_id 9 is not in the task list"):
        read_pybossa(path, tpath)


# -- Pascal VOC -------------------------------------------------------------------------

VOC = """<annotation><filename>old name.png</filename><size><width>225</width><height>219</height></size>
{objects}</annotation>"""
OBJ = "<object><name>{name}</name><bndbox><xmin>{x0}</xmin><ymin>10</ymin><xmax>{x1}</xmax><ymax>30</ymax></bndbox></object>"


def test_voc_reads_boxes_by_file_stem(tmp_path):
    (tmp_path / "b_1.xml").write_text(
        VOC.format(
            objects=OBJ.format(name="Living Cell", x0=10, x1=30)
            + OBJ.format(name="Dead Cell", x0=50, x1=72)
        )
    )
    (tmp_path / "b_2.xml").write_text(VOC.format(objects=""))
    truth = read_voc(tmp_path)
    assert truth["image_id"].tolist() == ["b_1", "b_1"]
    assert truth[["x", "y", "size"]].values.tolist() == [[20.0, 20.0, 20.0], [61.0, 20.0, 21.0]]
    assert truth["label"].tolist() == ["alive", "dead"]
    assert truth.attrs["image_ids"] == ["b_1", "b_2"] and truth.attrs["n_empty_images"] == 1


@pytest.mark.parametrize(
    ("objects", "match"),
    [
        (
            OBJ.format(name="Zombie Cell", x0=1, x1=2),
            r"object 1, field 'name': unknown object name 'Zombie Cell'",
        ),
        (OBJ.format(name="Dead Cell", x0="abc", x1=2), r"object 1, field 'xmin'"),
        (OBJ.format(name="Dead Cell", x0=9, x1=2), r"inverted box"),
        ("<object><name>Dead Cell</name></object>", r"object without <bndbox>"),
        ("<object>", r"malformed XML"),
        # Once read without a word: a box outside the image, an empty box.
        (OBJ.format(name="Dead Cell", x0=900, x1=920), r"box centred outside the 225 x 219 image"),
        (OBJ.format(name="Dead Cell", x0=20, x1=20), r"object 1, field 'bndbox': empty box"),
    ],
)
def test_voc_bad_files(tmp_path, objects, match):
    (tmp_path / "bad.xml").write_text(VOC.format(objects=objects))
    with pytest.raises(CellConsensusInputError, match=match) as info:
        read_voc(tmp_path)
    assert "bad.xml" in str(info.value)


def test_voc_box_reaching_past_the_edge_is_a_border_cell(tmp_path):
    (tmp_path / "edge.xml").write_text(VOC.format(objects=OBJ.format(name="Dead Cell", x0=-5,
                                                                      x1=15)))  # fmt: skip
    assert read_voc(tmp_path)["x"].tolist() == [5.0]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("<annotation><object/></annotation>", r"field 'size': no <size>"),
        (VOC.replace("<width>225</width>", "<width>0</width>").format(objects=""),
         r"image size 0 x 219 is empty"),
        ("<html><body/></html>", r"not a Pascal VOC annotation: the root element is <html>"),
    ],
)  # fmt: skip
def test_voc_files_that_are_not_voc_are_named(tmp_path, text, match):
    """Once: a missing <size> read as NaN, any XML counted as an image without cells."""
    (tmp_path / "x.xml").write_text(text)
    with pytest.raises(CellConsensusInputError, match=match):
        read_voc(tmp_path)


def test_voc_folder_without_annotations_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("no xml here")
    with pytest.raises(CellConsensusInputError, match="no Pascal VOC files"):
        read_voc(tmp_path)  # once: 0 rows, as if every image were empty


def test_write_voc_refuses_ids_that_leave_its_folder(tmp_path):
    truth = make_truth(1, seed=0).assign(image_id="../escape")
    truth.attrs.pop("image_ids", None)
    with pytest.raises(CellConsensusInputError, match="'../escape' cannot name a file"):
        write_voc(truth, tmp_path / "voc")
    assert not (tmp_path / "escape.xml").exists()


def test_atomic_writes_honour_the_umask(tmp_path):
    import os

    old = os.umask(0o027)
    try:
        path = write_voc(make_truth(1, seed=0), tmp_path)[0]
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640  # was 0600 whatever the umask


@pytest.mark.parametrize("canvas", [(0, 0), (-5, float("nan")), (10,), "big"])
def test_a_canvas_must_be_a_size(canvas):
    with pytest.raises(ValueError, match="canvas must be"):
        validate_clicks(_clicks(), canvas=canvas)


def test_voc_real_ldc(ldc_images):
    truth = read_voc(ldc_images)
    assert truth["label"].astype(str).value_counts().to_dict() == {"alive": 5710, "dead": 1211}
    assert len(truth.attrs["image_ids"]) == 1974
    assert truth.attrs["n_empty_images"] == 48
    assert truth["size"].between(5, 80).all()


# -- plain tables and validation --------------------------------------------------------


def _clicks(**overrides):
    data = {
        "image_id": ["a", "a"],
        "annotator_id": ["u1", "u2"],
        "x": [1.0, 2.0],
        "y": [3.0, 4.0],
        "label": ["alive", "dead"],
    }
    data.update(overrides)
    return pd.DataFrame(data)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"x": [1.0, np.nan]}, r"row 2, field 'x': coordinate must be a finite number"),
        ({"y": [np.inf, 1.0]}, r"row 1, field 'y'"),
        ({"label": ["alive", "zombie"]}, r"row 2, field 'label': unknown label 'zombie'"),
        ({"image_id": ["a", None]}, r"row 2, field 'image_id': missing identifier"),
        ({"annotator_id": ["", "u"]}, r"row 1, field 'annotator_id': empty identifier"),
    ],
)
def test_validate_clicks_errors(overrides, match):
    with pytest.raises(CellConsensusInputError, match=match):
        validate_clicks(_clicks(**overrides), source="mine.csv")


def test_validate_clicks_missing_column():
    with pytest.raises(CellConsensusInputError, match="missing column.*label"):
        validate_clicks(_clicks().drop(columns="label"))


def test_clicks_and_cells_round_trip(tmp_path):
    from cellconsensus import find_consensus

    clicks = simulate_crowd(make_truth(3, seed=0), seed=0)
    for suffix in ("csv", "parquet"):
        back = read_clicks(write_clicks(clicks, tmp_path / f"clicks.{suffix}"))
        pd.testing.assert_frame_equal(
            back[["image_id", "annotator_id", "label"]],
            clicks[["image_id", "annotator_id", "label"]],
        )
        np.testing.assert_allclose(back[["x", "y"]], clicks[["x", "y"]])
        cells = find_consensus(clicks).cells
        cells_back = read_cells(write_cells(cells, tmp_path / f"cells.{suffix}"))
        np.testing.assert_allclose(cells_back[["x", "y", "p_alive"]], cells[["x", "y", "p_alive"]])
        assert cells_back["cell_id"].tolist() == cells["cell_id"].tolist()
    csv = tmp_path / "bad.csv"
    csv.write_text("image_id,annotator_id,x,y,label\na,u,1,oops,alive\n")
    with pytest.raises(CellConsensusInputError, match=r"bad.csv, row 1, field 'y'"):
        read_clicks(csv)


def test_read_export_detects_the_format_and_checks_the_task_list(tmp_path):
    from cellconsensus.io import detect_format, read_export, write_pybossa

    clicks = simulate_crowd(make_truth(3, seed=1), 3, seed=1)
    runs, tasks = write_pybossa(clicks, tmp_path / "runs.json", tmp_path / "tasks.json")
    assert detect_format(runs) == "pybossa"
    read = read_export(runs, tasks=tasks)
    assert len(read) == len(clicks)
    # A task list that does not exist is an error naming it, not silently ignored.
    with pytest.raises(CellConsensusInputError, match="task list not found") as err:
        read_export(runs, tasks=tmp_path / "nope.json")
    assert "nope.json" in str(err.value)
    # A task list with a format that has none is refused.
    table = tmp_path / "clicks.csv"
    clicks.to_csv(table, index=False)
    assert detect_format(table) == "clicks"
    with pytest.raises(CellConsensusInputError, match="only goes with a PyBossa export"):
        read_export(table, tasks=tasks)
    with pytest.raises(ValueError, match="format must be one of"):
        read_export(table, format="labelbox")


def test_plain_tables_by_suffix(tmp_path):
    from cellconsensus.io import read_table, write_table

    table = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert read_table(write_table(table, tmp_path / "t.parquet")).equals(table)
    assert read_table(write_table(table, tmp_path / "t.csv"))["b"].tolist() == ["x", "y"]
    with pytest.raises(CellConsensusInputError, match="unknown table format") as err:
        write_table(table, tmp_path / "t.xlsx")
    assert "t.xlsx" in str(err.value)


def test_consensus_provenance_names_the_files_read(tmp_path):
    from cellconsensus import find_consensus
    from cellconsensus.io import write_pybossa

    clicks = simulate_crowd(make_truth(3, seed=2), 3, seed=2)
    runs, tasks = write_pybossa(clicks, tmp_path / "runs.json", tmp_path / "tasks.json")
    read = read_pybossa(runs, tasks)
    sources = find_consensus(read).cells.attrs["provenance"]["input_sources"]
    assert str(runs) in sources and all("<" not in s for s in sources)
    # A simulated crowd says so; a table built by hand names nothing.
    assert find_consensus(clicks).cells.attrs["provenance"]["input_sources"] == ["simulate_crowd"]
    plain = clicks.copy()
    plain.attrs = {}
    assert find_consensus(plain).cells.attrs["provenance"]["input_sources"] == []


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (
            json.dumps([{"id": 1, "task_id": 2, "user_id": 1, "info": {"alive_array": [["alive", 2**65, 3]]}}]),
            r"record 1, click 1, field 'x': coordinate 3.68935e\+19 is beyond",
        ),
        (
            json.dumps([{"id": 1, "task_id": 2, "user_id": 1, "info": {"alive_array": [["alive", 2**1100, 3]]}}]),
            "coordinates must be finite numbers",
        ),
        (
            json.dumps([{"id": 1, "task_id": 2, "user_id": 1, "info": {"alive_array": [[["alive"], 2, 3]]}}]),
            "click 1 has label .*a label is text",
        ),
    ],
)  # fmt: skip
def test_hostile_json_gets_a_clear_error(tmp_path, content, match):
    """Each once escaped as RecursionError, TypeError or 'unhashable type'."""
    path = tmp_path / "runs.json"
    path.write_text(content)
    with pytest.raises(CellConsensusInputError, match=match):
        read_pybossa(path)


def test_a_folder_given_as_a_file(tmp_path):
    for read in (read_pybossa, read_cellspotting_csv):
        with pytest.raises(CellConsensusInputError, match="a folder, not a file"):
            read(tmp_path)
