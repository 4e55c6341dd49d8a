"""Scripts that measure (each `python -m benchmarks.NAME`), and what they share: printing and keeping a report."""
from __future__ import annotations

import json


def print_and_save(report: dict, path: str | None) -> None:
    """Print `report` as indented JSON; also write it to `path` (with a final newline) when one is given."""
    print(json.dumps(report, indent=2))
    if path:
        with open(path, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
