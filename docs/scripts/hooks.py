"""MkDocs hook: the CLI reference page, generated from the command lines' own ``--help``."""

from __future__ import annotations

import argparse
import io
from contextlib import redirect_stdout

from mkdocs.structure.files import File


def _help_of(parser: argparse.ArgumentParser) -> str:
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        parser.print_help()
    return buffer.getvalue().rstrip()


def _sections(prog: str, parser: argparse.ArgumentParser) -> list[str]:
    parts = [f"## `{prog}`", "", "```text", _help_of(parser), "```", ""]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                parts += [f"### `{prog} {name}`", "", "```text", _help_of(sub), "```", ""]
    return parts


def cli_page() -> str:
    """The Markdown of the CLI reference."""
    from cellcnn.cli import build_parser as cnn_parser
    from cellconsensus.cli import build_parser as consensus_parser

    lines = [
        "# Command line",
        "",
        "Generated from the programs' own `--help` when the documentation is built.",
        "",
    ]
    lines += _sections("cellconsensus", consensus_parser())
    lines += _sections("cellcnn", cnn_parser())
    return "\n".join(lines)


def on_files(files, config):
    """Add the generated ``cli.md`` to the site."""
    files.append(File.generated(config, "cli.md", content=cli_page()))
    return files
