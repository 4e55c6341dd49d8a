"""Dataclass configs to and from JSON, strictly: a checkpoint's config with a field this code does not
know, or a value of the wrong kind, is refused with the field names instead of half-loaded."""
from __future__ import annotations

import dataclasses


def config_from_dict(cls, d: dict, what: str):
    """Build the dataclass `cls` from the JSON object `d`; `what` names it in errors ("model", ...)."""
    if not isinstance(d, dict):
        raise ValueError(f"{what} config must be a JSON object, got {type(d).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - known
    if unknown:
        raise ValueError(f"{what} config has unknown fields {sorted(unknown)}; known: {sorted(known)}")
    try:
        return cls(**d)
    except TypeError as e:
        raise ValueError(f"{what} config is malformed: {e}") from e


def to_dict(cfg) -> dict:
    """Dataclass -> plain JSON-able dict (tuples become lists)."""
    return dataclasses.asdict(cfg)
