"""Outcomes of the fault-injection tests, counted by the reliability benchmark.

``benchmarks/reliability.py`` runs the fuzz suite, the kill matrix and the
corruption sweep with ``CELLCONSENSUS_RELIABILITY_TALLY`` naming a file; every
case then appends one JSON line (area, outcome). Without it :func:`record` does
nothing, so ``make test`` writes no file.
"""

from __future__ import annotations

import json
import os

#: Outcomes of a fuzz case: a result; a result under a documented policy that counted
#: what it dropped or moved; a clear error (``CellConsensusInputError``).
OUTCOMES = ("result", "policy", "error")


def record(area: str, outcome: str) -> None:
    """Append ``{"area": area, "outcome": outcome}`` to the tally file, if one is named."""
    path = os.environ.get("CELLCONSENSUS_RELIABILITY_TALLY")
    if path:
        with open(path, "a") as out:  # one short append per line: safe across xdist workers
            out.write(json.dumps({"area": area, "outcome": outcome}) + "\n")
