"""`devhub publish`."""

import typer


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `devhub` command."""
