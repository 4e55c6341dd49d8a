"""The command line, `python -m vidgen <subcommand>`: vidgen.cli.main lists the subcommands."""
from .main import main

__all__ = ["main"]
