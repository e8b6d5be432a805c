"""Zooniverse classification exports: workflows, volunteers, tools, frames, null marks."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cellconsensus import CellConsensusInputError, find_consensus, make_truth, simulate_crowd
from cellconsensus.io import detect_format, read_export, read_zooniverse, write_zooniverse
from cellconsensus.io.zooniverse import tool_label_map

HEADER = ("classification_id,user_name,user_id,user_ip,workflow_id,workflow_name,"
          "workflow_version,created_at,gold_standard,expert,metadata,annotations,"
          "subject_data,subject_ids")  # fmt: skip


def _row(cid, user, marks, *, workflow=7, version="3.12", subject=42, frames=1, task="T0"):
    metadata = {"subject_dimensions": [{"naturalWidth": 300, "naturalHeight": 200}] * frames}
    annotations = [
        {"task": "T1", "task_label": "Any cells?", "value": "Yes"},
        {"task": task, "task_label": "Mark the cells", "value": marks},
    ]
    subject_data = {str(subject): {"Filename": f"img_{subject}.png"}}
    fields = [
        cid,
        user,
        "",
        "",
        workflow,
        "cells",
        version,
        "2026-01-01",
        "",
        "",
        json.dumps(metadata),
        json.dumps(annotations),
        json.dumps(subject_data),
        subject,
    ]
    return ",".join('"' + str(f).replace('"', '""') + '"' for f in fields)  # fmt: skip


def _mark(x, y, tool=0, label="Living cell", frame=0):
    return {"x": x, "y": y, "tool": tool, "frame": frame, "details": [], "tool_label": label}


def _write(tmp_path, rows) -> str:
    path = tmp_path / "classifications.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return str(path)


def test_marks_become_clicks_with_volunteers_tools_and_empty_runs(tmp_path):
    path = _write(tmp_path, [
        _row(1, "alice", [_mark(10, 20), _mark(50.5, 60, 1, "Dead cell")]),
        _row(2, "not-logged-in-ab12", [_mark(11, 21), _mark(None, None)]),
        _row(3, "bob", []),  # saw the image, marked nothing: a run all the same
    ])  # fmt: skip
    clicks = read_zooniverse(path)
    assert clicks[["annotator_id", "x", "y"]].values.tolist() == [
        ["alice", 10.0, 20.0], ["alice", 50.5, 60.0], ["not-logged-in-ab12", 11.0, 21.0]
    ]  # fmt: skip
    assert clicks["label"].astype(str).tolist() == ["alive", "dead", "alive"]
    assert set(clicks["image_id"]) == {"42"} and clicks["run_id"].tolist() == ["1", "1", "2"]
    report = clicks.attrs["report"]
    assert report.n_dropped_marks == 1 and report.n_empty_runs == 1
    assert len(clicks.attrs["runs"]) == 3  # bob counts in the support
    assert detect_format(path) == "zooniverse" and len(read_export(path)) == 3


def test_workflows_versions_frames_and_image_names(tmp_path):
    path = _write(tmp_path, [
        _row(1, "a", [_mark(10, 20)], workflow=7, version="3.12"),
        _row(2, "b", [_mark(10, 20)], workflow=7, version="4.2"),
        _row(3, "c", [_mark(10, 20)], workflow=9),
        _row(4, "d", [_mark(5, 5, frame=1)], workflow=8, frames=2, subject=43),
    ])  # fmt: skip
    with pytest.raises(CellConsensusInputError, match="holds 3 workflows.*pass workflow_id"):
        read_zooniverse(path)
    assert read_zooniverse(path, workflow_id=7)["annotator_id"].tolist() == ["a", "b"]
    newer = read_zooniverse(path, workflow_id=7, workflow_version="4.0")
    assert newer["annotator_id"].tolist() == ["b"]  # 4.2 >= 4.0 > 3.12, compared as numbers
    frames = read_zooniverse(path, workflow_id=8, image_key="Filename")
    assert frames["image_id"].tolist() == ["img_43_frame1"]
    assert sorted(frames.attrs["runs"]["image_id"]) == ["img_43_frame0", "img_43_frame1"]


@pytest.mark.parametrize(
    ("rows", "kwargs", "match"),
    [
        ([_row(1, "a", [_mark(1, 2, 3, "Debris")])], {}, r"unknown label 'Debris'"),
        (['1,a,,,7,c,1.0,t,,,{},"[{""task"": ""T0"", ""value"": [}",{},42'], {},
         r"line 2, field 'annotations': malformed JSON"),
        ([_row(1, "a", [])], {"workflow_id": 5}, r"no classification of workflow 5"),
        ([_row(1, "a", [])], {"image_key": "Name"}, r"subject 42 has no 'Name'"),
    ],
)  # fmt: skip
def test_bad_exports_are_named(tmp_path, rows, kwargs, match):
    with pytest.raises(CellConsensusInputError, match=match):
        read_zooniverse(_write(tmp_path, rows), **kwargs)


def test_tools_map_by_their_words():
    assert tool_label_map(["Alive", "DEAD cell", "not sure", "Live", "Deadline?"]) == {
        "Alive": "alive", "DEAD cell": "dead", "not sure": "unsure", "Live": "alive",
    }  # fmt: skip


def test_a_simulated_crowd_survives_the_round_trip(tmp_path):
    truth = make_truth(3, seed=2)
    clicks = simulate_crowd(truth, 4, seed=2)
    back = read_zooniverse(write_zooniverse(clicks, tmp_path / "z.csv"), image_key="Filename")
    assert len(back) == len(clicks) and set(back["image_id"]) == set(clicks["image_id"])
    a = find_consensus(clicks).cells
    b = find_consensus(back).cells
    pd.testing.assert_series_equal(
        a.sort_values(["image_id", "x"])["x"].reset_index(drop=True),
        b.sort_values(["image_id", "x"])["x"].reset_index(drop=True),
    )
