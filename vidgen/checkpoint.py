"""Checkpoint I/O: safetensors for tensors, JSON for everything else, every write atomic.

A run directory holds
    config.json               model, diffusion and train configs, step, and run facts
    model.safetensors         raw weights
    ema.safetensors           EMA weights (what sampling uses)
    train_state.safetensors   optimizer moments (training only)
    train_state.json          optimizer hyper-parameters and step (training only)
    log.jsonl                 the training log (a resumed run drops the lines past its checkpoint)
A release directory needs only config.json and ema.safetensors (or model.safetensors).

Files that belong together (a checkpoint's weights, EMA, optimizer state and config; the best EMA and
best.json; a release's weights and config) are written as one set (`write_set`): each file goes to
NAME.pending, then commit.json names the set (the commit point), then each pending file is renamed
over its live one. A crash before the commit leaves the old set (its pending files are discarded);
a crash after it is finished by the next reader (`finish_interrupted_write`). Every file is itself
written atomically, so none is ever half-written.
Nothing here unpickles: a checkpoint handed over by a user is read as tensors and JSON only.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from .diffusion.schedule import DiffusionConfig
from .jsonconfig import config_from_dict, to_dict
from .models import build_model
from .models.config import ModelConfig

CONFIG_NAME = "config.json"
MODEL_NAME = "model.safetensors"
EMA_NAME = "ema.safetensors"
VAE_NAME = "vae.safetensors"  # a latent model's autoencoder beside its weights (vidgen.latent.release), or a VAE release's
STATE_NAME = "train_state.safetensors"
STATE_JSON = "train_state.json"
BEST_EMA_NAME = "ema_best.safetensors"  # the EMA weights at the lowest validation loss so far
SNAPSHOT_DIR = "snapshots"  # EMA weights kept every TrainConfig.snapshot_every steps, one release directory each
BEST_JSON = "best.json"  # {"step", "val_loss", "samples_seen", "train_seconds"} of those weights
LOG_NAME = "log.jsonl"  # a run's training log, one JSON object per line
COMMIT_NAME = "commit.json"  # present only while a set of files is being swapped in (write_set)
PENDING_SUFFIX = ".pending"


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, corrupt or does not fit its config."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would hide checkpoints from other users
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, json_bytes(obj))


def json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()


def tensor_bytes(tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> bytes:
    return save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, metadata=metadata)


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    atomic_write_bytes(path, tensor_bytes(tensors, metadata))


def _fsync_dir(d: Path) -> None:
    dir_fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_set(d: Path, files: dict[str, bytes]) -> None:
    """Replace several files of directory d so that a crash at any moment leaves either all the old
    versions or all the new ones (see the module docstring). files: name -> contents."""
    d = Path(d)
    written = []
    try:
        d.mkdir(parents=True, exist_ok=True)
        finish_interrupted_write(d)  # an earlier writer's committed set goes in first
        for name, data in files.items():
            atomic_write_bytes(d / (name + PENDING_SUFFIX), data)
            written.append(d / (name + PENDING_SUFFIX))
        atomic_write_json(d / COMMIT_NAME, {"files": list(files)})  # the commit point
    except OSError as e:  # a full disk, a read-only directory: the old set stays as it was
        for f in written:
            f.unlink(missing_ok=True)
        raise CheckpointError(f"cannot write {', '.join(files)} in {d}: {e.strerror or e}; the files there before are intact") from e
    finish_interrupted_write(d)


def finish_interrupted_write(d: Path) -> None:
    """Complete a set whose commit was written but whose files were not all swapped in (a crash, or
    another process mid-swap): rename its pending files over the live ones, then drop the commit.
    A no-op when there is no commit. Raises CheckpointError if the directory cannot be written."""
    d = Path(d)
    commit = d / COMMIT_NAME
    if not commit.is_file():
        return
    names = read_json(commit).get("files")
    if not isinstance(names, list) or not all(isinstance(n, str) and n and "/" not in n and n != ".." for n in names):
        raise CheckpointError(f"{commit} does not name a set of files in {d}")
    try:
        for name in names:
            try:
                os.replace(d / (name + PENDING_SUFFIX), d / name)
            except FileNotFoundError:  # swapped in already (by us before a crash, or by another reader)
                pass
        _fsync_dir(d)
        commit.unlink(missing_ok=True)
    except OSError as e:  # read-only directory or file system, full disk
        raise CheckpointError(f"{d} holds an interrupted write ({COMMIT_NAME}) and it cannot be finished: {e}") from e


def trim_log(path: Path, step: int) -> None:
    """Keep a run's JSON-lines log up to `step`, the step it resumes at: a run stopped between checkpoints left lines
    past the last one (the resumed run logs those steps again) and perhaps a half-written last line."""
    path = Path(path)
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] <= step:
            kept.append(line + "\n")
    atomic_write_bytes(path, "".join(kept).encode())


def discard_unfinished_writes(d: Path) -> list[str]:
    """For the one process that owns directory d (a resumed run, an export): finish a committed set,
    then delete what a crash left before any commit (pending files, temp files). -> names deleted."""
    d = Path(d)
    if not d.is_dir():
        return []
    finish_interrupted_write(d)
    gone = []
    for f in d.iterdir():
        if f.is_file() and (f.name.endswith(PENDING_SUFFIX) or (f.name.startswith(".") and f.name.endswith(".tmp"))):
            f.unlink()
            gone.append(f.name)
    return gone


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"cannot read {path}: not a valid safetensors file (truncated or corrupt?): {e}") from e


def read_json(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint config not found: {path}")
    try:
        obj = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"cannot parse {path}: {e}") from e
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} must hold a JSON object")
    return obj


def resolve_dir(path) -> Path:
    """Accept the run directory or any file inside it."""
    path = Path(path)
    if path.is_file():
        path = path.parent
    if not path.is_dir():
        raise CheckpointError(f"checkpoint not found: {path} (give a directory holding {CONFIG_NAME} and {EMA_NAME})")
    return path


def config_section(raw: dict, cls, name: str, source):
    """The config dataclass `cls` from section `name` of a checkpoint's config.json read as `raw`."""
    if name not in raw:
        raise CheckpointError(f"{source} lacks the {name!r} section")
    try:
        return config_from_dict(cls, raw[name], name)
    except ValueError as e:
        raise CheckpointError(f"{source}: {e}") from e


def read_configs(path):
    """-> (ModelConfig, DiffusionConfig, raw config dict); a run's "train" section is the trainer's to read."""
    d = resolve_dir(path)
    finish_interrupted_write(d)
    raw = read_json(d / CONFIG_NAME)
    model_cfg = config_section(raw, ModelConfig, "model", d / CONFIG_NAME)
    diff_cfg = config_section(raw, DiffusionConfig, "diffusion", d / CONFIG_NAME)
    return model_cfg, diff_cfg, raw


def load_state_into(model: torch.nn.Module, tensors: dict[str, torch.Tensor], source) -> None:
    """Copy tensors into the model after checking names and shapes, with a readable error."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if expected[k].shape != tensors[k].shape)
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}")
        if wrong:
            parts.append(
                "wrong shapes " + ", ".join(f"{k}: {tuple(tensors[k].shape)} vs {tuple(expected[k].shape)}" for k in wrong[:5])
            )
        raise CheckpointError(f"{source} does not match its config: " + "; ".join(parts))
    model.load_state_dict(tensors, strict=True)


def load_model(path, prefer_ema: bool = True, device="cpu"):
    """Rebuild the model from config.json and load (EMA) weights. -> (model, diffusion_cfg, raw_config)."""
    d = resolve_dir(path)
    model_cfg, diff_cfg, raw = read_configs(d)
    names = [EMA_NAME, MODEL_NAME] if prefer_ema else [MODEL_NAME, EMA_NAME]
    weights = next((d / n for n in names if (d / n).is_file()), None)
    if weights is None:
        raise CheckpointError(f"no weights in {d}: expected {EMA_NAME} or {MODEL_NAME}")
    model = build_model(model_cfg)
    load_state_into(model, load_tensors(weights), weights)
    return model.to(device).eval(), diff_cfg, raw


def read_best(run_dir) -> dict:
    """The run's best.json ({"step", "val_loss", ...}), checked: a CheckpointError if absent or malformed."""
    path = Path(run_dir) / BEST_JSON
    info = read_json(path)
    if not isinstance(info.get("step"), int) or not isinstance(info.get("val_loss"), (int, float)):
        raise CheckpointError(f"{path} must hold an integer 'step' and a numeric 'val_loss', got {info}")
    return info


def export_release(run_dir, out_dir, default_guidance: float | None = None, best: bool = False,
                   default_long: dict | None = None) -> Path:
    """Copy a run's EMA weights and config into a release directory (no optimizer state).

    best=True exports the EMA weights saved at the run's lowest validation loss (ema_best.safetensors)
    instead of the latest ones, e.g. when a run degraded at its end. The weights are loaded into the
    model first, so a broken run cannot be exported. default_long: a long-video model's default method and
    steps per frame ({"method": ..., "steps": ...}, Pipeline.default_long).
    """
    run_dir, out = resolve_dir(run_dir), Path(out_dir)
    model, _, raw = load_model(run_dir, prefer_ema=True)
    raw = dict(raw)
    raw["exported_from_step"] = raw.get("step")
    if best:
        if not (run_dir / BEST_EMA_NAME).is_file() or not (run_dir / BEST_JSON).is_file():
            raise CheckpointError(f"{run_dir} has no {BEST_EMA_NAME}: runs save it at each validation that improves the loss")
        info = read_best(run_dir)
        load_state_into(model, load_tensors(run_dir / BEST_EMA_NAME), run_dir / BEST_EMA_NAME)
        raw.update(step=info["step"], samples_seen=info.get("samples_seen"), train_seconds=info.get("train_seconds"),
                   exported_from_step=info["step"], exported_best_val_loss=info["val_loss"])
    if default_guidance is not None:
        raw["default_guidance"] = float(default_guidance)
    if default_long is not None:
        raw["default_long"] = dict(default_long)
    files = {EMA_NAME: tensor_bytes(model.state_dict(), metadata={"format": "vidgen-1", "weights": "ema"}), CONFIG_NAME: json_bytes(raw)}
    if model.cfg.latent:  # its VAE goes with it (load_pipeline checks that it fits)
        if not (run_dir / VAE_NAME).is_file() or "vae" not in raw:
            raise CheckpointError(f"{run_dir} is a latent model's run without its VAE ({VAE_NAME} and config.json's 'vae')")
        files[VAE_NAME] = (run_dir / VAE_NAME).read_bytes()
    discard_unfinished_writes(out)
    write_set(out, files)
    return out


def config_dict(model_cfg, diff_cfg, train_cfg, **extra) -> dict:
    out = {"model": to_dict(model_cfg), "diffusion": to_dict(diff_cfg), "format": "vidgen-1"}
    if train_cfg is not None:
        out["train"] = to_dict(train_cfg)
    out.update(extra)
    return out
