"""Dataclass configs to and from JSON, strictly: a checkpoint's config with a field this code does not
know, or a value of the wrong kind, is refused with the field names instead of half-loaded."""
from __future__ import annotations

import dataclasses


def config_from_dict(cls, d: dict, what: str):
    """Build the dataclass `cls` from the JSON object `d`; `what` names it in errors ("model", ...)."""
    if not isinstance(d, dict):
        raise ValueError(f"{what} config must be a JSON object, got {type(d).__name__}")
    d = with_current_names(cls, d)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - known
    if unknown:
        raise ValueError(f"{what} config has unknown fields {sorted(unknown)}; known: {sorted(known)}")
    try:
        return cls(**d)
    except TypeError as e:
        raise ValueError(f"{what} config is malformed: {e}") from e


def with_current_names(cls, d: dict) -> dict:
    """`d` with the fields `cls.RENAMED` maps from an old name to a new one renamed, so configs written before a
    rename still load; a config that has both names is refused rather than guessed at."""
    renamed = getattr(cls, "RENAMED", {})
    both = [old for old, new in renamed.items() if old in d and new in d]
    if both:
        raise ValueError(f"config has both {both[0]!r} and its new name {renamed[both[0]]!r}")
    return {renamed.get(k, k): v for k, v in d.items()}


def to_dict(cfg) -> dict:
    """Dataclass -> plain JSON-able dict (tuples become lists)."""
    return dataclasses.asdict(cfg)
