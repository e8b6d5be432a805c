"""crowd-kit's multi-class and binary test fixtures, as data (facts: votes and the outputs
crowd-kit's own tests expect), from Toloka/crowd-kit tests/conftest.py and
tests/aggregation/data_mv.py at commit 35f0661.

``SIMPLE``: 10 tasks, 6 workers (four good, a fraudster always answering parrot, a careless
one), classes goose / parrot / chicken; ``SIMPLE_TRUTH`` is what crowd-kit's DawidSkene and
MajorityVote are expected to return; ``SIMPLE_MV_PROBAS`` its MajorityVote probabilities.
``TOY``: the YSDA toy set (yes / no), 5 tasks, 5 workers; ``TOY_TRUTH`` DawidSkene's expected
labels, ``TOY_MV_PROBAS`` MajorityVote's probabilities.
"""

from __future__ import annotations

import pandas as pd

_P = "1231239876--5fac0d234ffb2f3b00893"

SIMPLE = pd.DataFrame(
    [
        ("bde3b214b06c1efa6cb1bc6284dc72d2", _P + "eec", "goose"),
        ("bde3b214b06c1efa6cb1bc6284dc72d2", _P + "efb", "parrot"),
        ("bde3b214b06c1efa6cb1bc6284dc72d2", _P + "f03", "goose"),
        ("bde3b214b06c1efa6cb1bc6284dc72d2", _P + "f05", "goose"),
        ("bde3b214b06c1efa6cb1bc6284dc72d2", _P + "f02", "parrot"),
        ("bde3b214b06c1efa6cb1bc6284dc72d2", _P + "f08", "parrot"),
        ("b17c3301ad2ccbb798716fdd405d16e8", _P + "efb", "parrot"),
        ("b17c3301ad2ccbb798716fdd405d16e8", _P + "ee8", "chicken"),
        ("b17c3301ad2ccbb798716fdd405d16e8", _P + "f07", "parrot"),
        ("b17c3301ad2ccbb798716fdd405d16e8", _P + "efd", "chicken"),
        ("b17c3301ad2ccbb798716fdd405d16e8", _P + "ee4", "chicken"),
        ("b17c3301ad2ccbb798716fdd405d16e8", _P + "f03", "goose"),
        ("a452e450f913cfa987cad58d50393718", _P + "ee8", "chicken"),
        ("a452e450f913cfa987cad58d50393718", _P + "eec", "goose"),
        ("a452e450f913cfa987cad58d50393718", _P + "f05", "goose"),
        ("a452e450f913cfa987cad58d50393718", _P + "f02", "parrot"),
        ("a452e450f913cfa987cad58d50393718", _P + "f08", "parrot"),
        ("0f65edea0a6dc7b9acba1dea313bbb3d", _P + "eec", "goose"),
        ("0f65edea0a6dc7b9acba1dea313bbb3d", _P + "ee8", "chicken"),
        ("0f65edea0a6dc7b9acba1dea313bbb3d", _P + "f03", "goose"),
        ("0f65edea0a6dc7b9acba1dea313bbb3d", _P + "ee4", "chicken"),
        ("0c3eb7d5fcc414db137c4180a654c06e", _P + "eec", "parrot"),
        ("0c3eb7d5fcc414db137c4180a654c06e", _P + "efb", "parrot"),
        ("0c3eb7d5fcc414db137c4180a654c06e", _P + "f07", "parrot"),
        ("0c3eb7d5fcc414db137c4180a654c06e", _P + "efd", "parrot"),
        ("0c3eb7d5fcc414db137c4180a654c06e", _P + "ee4", "parrot"),
        ("0c3eb7d5fcc414db137c4180a654c06e", _P + "f05", "parrot"),
        ("e563e2fb32fce9f00123a65a1bc78c55", _P + "efb", "parrot"),
        ("e563e2fb32fce9f00123a65a1bc78c55", _P + "ee8", "goose"),
        ("e563e2fb32fce9f00123a65a1bc78c55", _P + "f02", "parrot"),
        ("e563e2fb32fce9f00123a65a1bc78c55", _P + "f08", "parrot"),
        ("e563e2fb32fce9f00123a65a1bc78c55", _P + "f07", "parrot"),
        ("e563e2fb32fce9f00123a65a1bc78c55", _P + "efd", "goose"),
    ],
    columns=["worker", "task", "label"],
)

SIMPLE_TRUTH = pd.Series(
    {
        _P + "eec": "goose",
        _P + "f03": "goose",
        _P + "f05": "goose",
        _P + "efb": "parrot",
        _P + "f02": "parrot",
        _P + "f08": "parrot",
        _P + "f07": "parrot",
        _P + "ee8": "chicken",
        _P + "efd": "chicken",
        _P + "ee4": "chicken",
    },
    name="label",
).sort_index()

SIMPLE_MV_PROBAS = pd.DataFrame(
    [
        [2 / 3, 0.0, 1 / 3],
        [3 / 4, 1 / 4, 0.0],
        [0.0, 3 / 4, 1 / 4],
        [0.0, 0.0, 1.0],
        [1 / 3, 1 / 3, 1 / 3],
        [0.0, 0.0, 1.0],
        [0.0, 1.0, 0.0],
        [0.0, 2 / 3, 1 / 3],
        [0.0, 0.0, 1.0],
        [0.0, 0.0, 1.0],
    ],
    columns=["chicken", "goose", "parrot"],
    index=[
        _P + "ee4",
        _P + "ee8",
        _P + "eec",
        _P + "efb",
        _P + "efd",
        _P + "f02",
        _P + "f03",
        _P + "f05",
        _P + "f07",
        _P + "f08",
    ],
)

TOY = pd.DataFrame(
    [
        ("w1", "t1", "no"),
        ("w1", "t2", "yes"),
        ("w1", "t3", "yes"),
        ("w1", "t4", "yes"),
        ("w1", "t5", "yes"),
        ("w2", "t1", "yes"),
        ("w2", "t2", "yes"),
        ("w2", "t3", "no"),
        ("w2", "t4", "yes"),
        ("w2", "t5", "no"),
        ("w3", "t2", "yes"),
        ("w3", "t3", "no"),
        ("w3", "t4", "yes"),
        ("w3", "t5", "no"),
        ("w4", "t1", "yes"),
        ("w4", "t2", "no"),
        ("w4", "t3", "yes"),
        ("w4", "t4", "yes"),
        ("w4", "t5", "no"),
        ("w5", "t1", "no"),
        ("w5", "t2", "no"),
        ("w5", "t3", "no"),
        ("w5", "t4", "yes"),
        ("w5", "t5", "no"),
    ],
    columns=["worker", "task", "label"],
)
TOY_TRUTH = pd.Series(
    ["yes", "yes", "no", "yes", "no"], index=["t1", "t2", "t3", "t4", "t5"], name="label"
)
TOY_MV_PROBAS = pd.DataFrame(
    [[0.5, 0.5], [0.6, 0.4], [0.4, 0.6], [1.0, 0.0], [0.2, 0.8]],
    columns=["yes", "no"],
    index=["t1", "t2", "t3", "t4", "t5"],
)
