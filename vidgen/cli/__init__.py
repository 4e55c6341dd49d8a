"""The command line, `python -m vidgen <subcommand>`: vidgen.cli.main lists the subcommands.

This file imports nothing, so a measuring module may use vidgen.cli.common's argument types without loading the
training commands."""
