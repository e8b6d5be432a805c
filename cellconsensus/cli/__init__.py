"""Command line: ``cellconsensus aggregate | annotators | allocate | compare | simulate |
synthetic | patches | inspect | verify | export | report | run | demo``.

One module per command, each with ``add_parser(sub)`` and ``run(args)``;
:mod:`.options` holds the options several commands share and :mod:`.runner`
what every command line of the project shares (``cellcnn`` included). Every
sub-command has ``--help``. Errors in the input are reported as one line
naming the file, record and field, with exit status 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .. import __version__
from . import (
    aggregate,
    allocate,
    annotators,
    compare,
    demo,
    export,
    inspect,
    patches,
    report,
    run,
    simulate,
    synthetic,
    verify,
)
from .runner import run_command, show_defaults

__all__ = ["main", "build_parser", "run_command", "COMMANDS"]

_MODULES = (
    aggregate,
    annotators,
    allocate,
    compare,
    simulate,
    synthetic,
    patches,
    inspect,
    verify,
    export,
    report,
    run,
    demo,
)
#: Each command's name and the function that runs it.
COMMANDS = {module.NAME: module.run for module in _MODULES}


def build_parser() -> argparse.ArgumentParser:
    """The ``cellconsensus`` argument parser (its ``--help`` is the CLI reference page).

    Examples
    --------
    >>> build_parser().parse_args(["inspect", "patches.zarr"]).store
    'patches.zarr'
    """
    parser = argparse.ArgumentParser(
        prog="cellconsensus",
        description="Turn crowd clicks on microscopy images into consensus cells.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library does")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in _MODULES:
        module.add_parser(sub)
    return show_defaults(parser)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Examples
    --------
    >>> main(["--version"])  # doctest: +SKIP
    cellconsensus 0.1.0
    """
    # ImportError: an optional dependency missing (matplotlib for plots and the report).
    return run_command(COMMANDS, build_parser().parse_args(argv), (FileExistsError, ImportError))
