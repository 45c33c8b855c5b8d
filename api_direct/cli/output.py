"""How commands speak: human text on a terminal, one JSON document with ``--json``.

Progress and notes go to stderr, results to stdout, so ``apid ... --json | jq``
always sees exactly one JSON value.
"""

import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape


class Output:
    """One per invocation; commands call it instead of ``print``."""

    def __init__(self, *, as_json: bool, verbose: bool) -> None:
        self.as_json = as_json
        self.verbose = verbose
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    @property
    def interactive(self) -> bool:
        """A person is watching: stderr is a terminal and output is not for a script."""
        return self.err.is_terminal and not self.as_json

    def result(self, data: Mapping[str, Any], human: str) -> None:
        """The command's answer: ``data`` as JSON, or ``human`` (rich markup) as text."""
        if self.as_json:
            sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        else:
            self.out.print(human)

    def note(self, message: str) -> None:
        """A line of progress or advice on stderr (kept out of ``--json`` results)."""
        self.err.print(message)

    def warning(self, message: str) -> None:
        """One ``warning:`` line on stderr: the command went on, but the user should act.

        ``--json`` results list it too.
        """
        self.err.print(f"[yellow]warning:[/yellow] {escape(message)}")

    def debug(self, message: str) -> None:
        if self.verbose:
            self.err.print(f"[dim]{message}[/dim]")

    @contextmanager
    def status(self, message: str) -> Iterator[None]:
        """A spinner while something slow runs; a plain line when nobody is watching."""
        if self.interactive:
            with self.err.status(message):
                yield
        else:
            self.err.print(message)
            yield
