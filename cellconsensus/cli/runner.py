"""What every command line of the project shares: running a command, its parameters, Dask."""

from __future__ import annotations

import argparse
import ast
import contextlib
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..errors import CellConsensusInputError, InvalidParameterError

__all__ = ["run_command", "parse_params", "dask_client", "show_defaults", "whole_number"]


def whole_number(least: int, what: str = "a whole number") -> Callable[[str], int]:
    """An argparse ``type``: an integer of at least ``least`` (argparse's error otherwise,
    exit status 2, never a traceback from the function it is passed to).

    Examples
    --------
    >>> whole_number(1)("3")
    3
    >>> whole_number(0, "a whole number of runs")("-1")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: expected a whole number of runs (0 or more), got '-1'
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = least - 1
        if value < least:
            raise argparse.ArgumentTypeError(f"expected {what} ({least} or more), got {text!r}")
        return value

    return parse


def _with_default(action: argparse.Action) -> None:
    """Add ``(default: X)`` to an option's help, unless it already names its default."""
    text, default = action.help or "", action.default
    if (
        "default" in text
        or default is None
        or default is False
        or default is argparse.SUPPRESS
        or not action.option_strings
        or action.nargs == 0
    ):
        return
    shown = ", ".join(map(str, default)) if isinstance(default, list | tuple) else default
    action.help = f"{text} (default: {shown})" if text else f"default: {shown}"


def show_defaults(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make every sub-command's ``--help`` state the defaults (returns the parser).

    Examples
    --------
    >>> p = argparse.ArgumentParser(prog="x")
    >>> sub = p.add_subparsers()
    >>> _ = sub.add_parser("run").add_argument("--epochs", type=int, default=30)
    >>> "default: 30" in show_defaults(p)._subparsers._group_actions[0].choices["run"].format_help()
    True
    """
    parsers = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            parsers += list(action.choices.values())
    for p in parsers:
        for action in p._actions:
            _with_default(action)
    return parser


def run_command(
    commands: dict[str, Callable[[argparse.Namespace], int]],
    args: argparse.Namespace,
    handled: tuple[type[BaseException], ...] = (),
) -> int:
    """Run ``commands[args.command](args)`` with logging set by ``args.verbose``.

    Bad input (:class:`~cellconsensus.errors.CellConsensusInputError`,
    :class:`~cellconsensus.errors.InvalidParameterError` and the ``handled``
    exception types) is reported as one line on standard error with
    exit status 2, never as a traceback. Shared by the ``cellconsensus`` and
    ``cellcnn`` command lines.

    Examples
    --------
    >>> args = argparse.Namespace(command="hello", verbose=False)
    >>> run_command({"hello": lambda a: 0}, args)
    0
    """
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return commands[args.command](args)
    except (CellConsensusInputError, InvalidParameterError, *handled) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """``NAME=VALUE`` options as a dict; values are Python literals where they parse as one.

    Examples
    --------
    >>> parse_params(["eps=12.5", "metric=euclidean"])
    {'eps': 12.5, 'metric': 'euclidean'}
    """
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"error: --param expects NAME=VALUE, got {item!r}")
        out[key.strip()] = _value(value.strip())
    return out


@contextlib.contextmanager
def dask_client(spec: str | None) -> Iterator[Any]:
    """A ``distributed.Client`` for ``--scheduler``: an address, or ``local:N`` worker
    processes; ``None`` (no ``--scheduler``) gives no client: one process.

    Examples
    --------
    >>> with dask_client("local:2") as client:  # doctest: +SKIP
    ...     client.submit(sum, [1, 2]).result()
    3
    """
    if spec is None:
        yield None
        return
    from ..distributed import connect

    with connect(spec) as client:
        workers = len(client.scheduler_info()["workers"])
        kind = "LocalCluster" if spec.startswith("local:") else spec
        print(f"Dask: {kind} of {workers} worker(s), dashboard {client.dashboard_link}")
        yield client
