"""Fault injection for the crash-consistency checks (tests/test_crash.py runs a few kills,
benchmarks/soak.py many): SIGKILL a `python -m vidgen train` run at random moments, including while
it writes a checkpoint, check that every file in the run directory is still readable, resume, repeat;
then compare the finished run with one that never stopped, tensor by tensor.

Half the kills are timed from the moment the run's newest checkpoint appears on disk plus a random
delay (anywhere in a step); the other half wait until a checkpoint write is under way (pending files
on disk, --ckpt-every 1) and strike within a few milliseconds, inside the write.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import checkpoint as ckpt
from ..paths import PROJECT_ROOT

COMPARED = (ckpt.MODEL_NAME, ckpt.EMA_NAME, ckpt.STATE_NAME)  # what "bit-identical" compares


def train_command(out: Path, preset: str, steps: int, resume: bool) -> list[str]:
    cmd = [sys.executable, "-m", "vidgen", "train", "--preset", preset, "--out", str(out),
           "--max-steps", str(steps), "--ckpt-every", "1", "--no-progress"]
    return cmd + (["--resume"] if resume else [])


def unreadable_files(run_dir: Path) -> list[str]:
    """Every file a crash could have touched, read the way vidgen reads it: -> the ones that fail.
    Pending files of an uncommitted write are not part of the run (the next resume drops them)."""
    bad = []
    for f in sorted(Path(run_dir).rglob("*")):
        if not f.is_file() or f.name.endswith(ckpt.PENDING_SUFFIX) or f.name.endswith(".tmp"):
            continue
        try:
            if f.suffix == ".safetensors":
                ckpt.load_tensors(f)
            elif f.suffix == ".json":
                ckpt.read_json(f)
            elif f.suffix == ".jsonl":
                for line in f.read_text().splitlines():
                    json.loads(line)
        except (ckpt.CheckpointError, ValueError, UnicodeDecodeError) as e:
            bad.append(f"{f.relative_to(run_dir)}: {e}")
    return bad


@dataclass
class CrashReport:
    kills: int = 0  # SIGKILLs delivered while the run was still training
    kills_during_write: int = 0  # of those, how many found a checkpoint write under way (pending or temp files left)
    unreadable: list[str] = field(default_factory=list)  # files found unreadable after a kill
    mismatches: list[str] = field(default_factory=list)  # tensors that differ from the uninterrupted run
    seconds: float = 0.0


def _newest_mtime(run_dir: Path) -> float:
    f = run_dir / ckpt.CONFIG_NAME
    return f.stat().st_mtime if f.is_file() else 0.0


def _write_in_progress(run_dir: Path) -> bool:
    return any(f.name.endswith(ckpt.PENDING_SUFFIX) or f.name.endswith(".tmp") or f.name == ckpt.COMMIT_NAME
               for f in run_dir.iterdir())


def kill_and_resume(run_dir: Path, preset: str, steps: int, kills: int, seed: int = 0,
                    max_delay: float = 0.4, timeout: float = 600.0) -> CrashReport:
    """Train `preset` to `steps` in run_dir, SIGKILLing it `kills` times at random moments."""
    rng = random.Random(seed)
    run_dir = Path(run_dir)
    report = CrashReport()
    start = time.time()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    while True:
        resume = (run_dir / ckpt.CONFIG_NAME).is_file()
        proc = subprocess.Popen(train_command(run_dir, preset, steps, resume), cwd=PROJECT_ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if report.kills < kills:
            seen = _newest_mtime(run_dir)
            while proc.poll() is None and _newest_mtime(run_dir) == seen:  # until this process saves a checkpoint
                if time.time() - start > timeout:
                    proc.kill()
                    raise TimeoutError(f"no checkpoint within {timeout} s")
                time.sleep(0.005)
            if rng.random() < 0.5:  # a random moment, at the latest as the next write begins: on a fast machine
                # the run could otherwise finish inside the delay and the kill never land
                deadline = time.time() + rng.uniform(0, max_delay)
                while proc.poll() is None and time.time() < deadline and not _write_in_progress(run_dir):
                    time.sleep(0.0005)
            else:  # inside the next write
                while proc.poll() is None and not _write_in_progress(run_dir):
                    time.sleep(0.0005)
                time.sleep(rng.uniform(0, 0.004))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                report.kills += 1
                report.kills_during_write += _write_in_progress(run_dir)
                report.unreadable += [f"after kill {report.kills}: {b}" for b in unreadable_files(run_dir)]
                continue
        _, err = proc.communicate(timeout=max(1.0, timeout - (time.time() - start)))
        if proc.returncode != 0:
            raise RuntimeError(f"training exited with {proc.returncode}: {err.strip()[-2000:]}")
        step = ckpt.read_json(run_dir / ckpt.STATE_JSON)["step"]
        if step >= steps:
            break
    report.seconds = time.time() - start
    return report


def compare_runs(a: Path, b: Path) -> list[str]:
    """Tensors of the checkpoint files that differ between two run directories (names, shapes or bits)."""
    out = []
    for name in COMPARED:
        ta, tb = ckpt.load_tensors(Path(a) / name), ckpt.load_tensors(Path(b) / name)
        if ta.keys() != tb.keys():
            out.append(f"{name}: different tensor names")
            continue
        out += [f"{name}:{k}" for k in ta if ta[k].shape != tb[k].shape or not torch.equal(ta[k], tb[k])]
    return out


def uninterrupted(run_dir: Path, preset: str, steps: int) -> None:
    """The reference: the same command, never killed."""
    subprocess.run(train_command(Path(run_dir), preset, steps, resume=False), cwd=PROJECT_ROOT, check=True,
                   env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, stdout=subprocess.DEVNULL)


def export_command(run_dir: Path, out: Path, guidance: float) -> list[str]:
    return [sys.executable, "-m", "vidgen", "export", "--checkpoint", str(run_dir), "--out", str(out), "--guidance", str(guidance)]


def kill_exports(runs: list[Path], out: Path, kills: int, seed: int = 0) -> CrashReport:
    """Export runs[i % len(runs)] (with guidance i % len(runs) + 1, so config and weights identify the
    run) over the same release directory, SIGKILLing each export at a random moment, `kills` times;
    after every kill the release must load and its weights must be those of the run its config names
    (or the directory must not exist yet). unreadable lists every violation. Half the kills land in
    the last 30% of an export's measured duration; the other half wait for its write to begin (a
    pending file or the commit in the release directory) and strike within a few milliseconds.
    report.kills says how many landed while an export was running (`kills`, unless 4 * kills attempts
    all finished first)."""
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    t0 = time.time()
    subprocess.run(export_command(runs[0], out.parent / f"{out.name}_timing", 1.0), cwd=PROJECT_ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    duration = time.time() - t0
    weights = [ckpt.load_tensors(Path(r) / ckpt.EMA_NAME) for r in runs]
    report = CrashReport()
    start = time.time()
    for i in range(4 * kills):  # an export that ends before its kill lands does not count: try again
        if report.kills == kills:
            break
        k = i % len(runs)
        proc = subprocess.Popen(export_command(runs[k], out, k + 1.0), cwd=PROJECT_ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if rng.random() < 0.5:
            time.sleep(rng.uniform(0.7, 1.05) * duration)
        else:
            give_up = time.time() + 3 * duration
            while proc.poll() is None and time.time() < give_up and not (out.is_dir() and _write_in_progress(out)):
                time.sleep(0.0005)
            time.sleep(rng.uniform(0, 0.003))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            report.kills += 1
        proc.wait()
        report.kills_during_write += out.is_dir() and _write_in_progress(out)
        if not (out / ckpt.CONFIG_NAME).is_file() and not (out / ckpt.EMA_NAME).is_file():
            continue  # the first export died before its commit: nothing released yet
        try:
            model, _, raw = ckpt.load_model(out)
            j = int(raw["default_guidance"]) - 1
            state = model.state_dict()
            if not all(torch.equal(state[n], weights[j][n]) for n in state):
                report.unreadable.append(f"after export {i}: config names run {j} but the weights are another run's")
        except (ckpt.CheckpointError, KeyError, ValueError) as e:
            report.unreadable.append(f"after export {i}: {e}")
    report.seconds = time.time() - start
    return report
