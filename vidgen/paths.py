"""Where the shipped files are: the font (assets/) and the shipped checkpoints (checkpoints/).

In a source checkout (or an editable install) they sit beside the package; a wheel built from the
project carries copies inside the package, under vidgen/_shipped/ (pyproject.toml says so).
"""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
PROJECT_ROOT = _PACKAGE.parent  # the source checkout
_SHIPPED = _PACKAGE / "_shipped"  # the copies a wheel carries


def _shipped_dir(name: str) -> Path:
    """The source tree's copy of a shipped folder, else the installed package's."""
    source = PROJECT_ROOT / name
    return source if source.is_dir() or not (_SHIPPED / name).is_dir() else _SHIPPED / name


ASSETS_DIR = _shipped_dir("assets")  # the font
CHECKPOINTS_DIR = _shipped_dir("checkpoints")  # the shipped models and the recognizer
