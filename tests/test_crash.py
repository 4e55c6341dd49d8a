"""Crash consistency: SIGKILL at random moments (inside checkpoint writes too) never leaves an
unreadable file, and the resumed run ends bit-identical to one that never stopped; the same for
export. A full disk or a read-only directory gives a clear error and keeps the last good checkpoint.
The soak (python -m benchmarks.soak) does the same with many more kills."""
import contextlib
import errno
import os
import shutil
import subprocess

import pytest

from vidgen import checkpoint as ckpt
from vidgen.presets import get_preset
from vidgen.training import faults
from vidgen.training.trainer import Trainer

pytestmark = pytest.mark.slow

STEPS = 14


def test_killed_training_resumes_bit_identical(tmp_path):
    faults.uninterrupted(tmp_path / "straight", "tiny", STEPS)
    report = faults.kill_and_resume(tmp_path / "killed", "tiny", STEPS, kills=3, seed=1)
    assert report.kills == 3
    assert report.unreadable == []
    assert faults.compare_runs(tmp_path / "straight", tmp_path / "killed") == []
    assert faults.unreadable_files(tmp_path / "killed") == []
    assert not any(f.name.endswith(ckpt.PENDING_SUFFIX) for f in (tmp_path / "killed").iterdir())


def test_killed_export_leaves_one_whole_release(tmp_path):
    runs = [tmp_path / "a", tmp_path / "b"]
    faults.uninterrupted(runs[0], "tiny", 2)
    faults.uninterrupted(runs[1], "tiny", 3)
    report = faults.kill_exports(runs, tmp_path / "release", kills=3, seed=2)
    assert report.unreadable == []
    assert report.kills == 3  # every kill asked for landed while an export was running


def _tiny_trainer(out, resume=False):
    p = get_preset("tiny")
    return Trainer(p.model, p.diffusion, p.train, out, resume=resume, preset_name="tiny")


def test_a_write_that_fails_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    """A full disk mid-save: a clear CheckpointError, the previous checkpoint loads and resumes."""
    tr = _tiny_trainer(tmp_path / "run")
    tr.fit(max_steps=3, progress=False)
    before = ckpt.load_tensors(tmp_path / "run" / ckpt.MODEL_NAME)
    real = ckpt.atomic_write_bytes
    calls = []

    def full_disk(path, data):
        calls.append(path)
        if len(calls) == 3:  # the third file of the set: two pending files are on disk already
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, data)

    monkeypatch.setattr(ckpt, "atomic_write_bytes", full_disk)
    tr.train_step()
    with pytest.raises(ckpt.CheckpointError, match="No space left.*intact"):
        tr.save()
    monkeypatch.setattr(ckpt, "atomic_write_bytes", real)
    assert not any(f.name.endswith(ckpt.PENDING_SUFFIX) for f in (tmp_path / "run").iterdir())
    after = ckpt.load_tensors(tmp_path / "run" / ckpt.MODEL_NAME)
    assert all(after[k].equal(before[k]) for k in before)
    assert _tiny_trainer(tmp_path / "run", resume=True).step == 3


@contextlib.contextmanager
def read_only(directory):
    """The directory made unwritable for this process: chmod 555, or for root (who writes through
    permissions) the immutable attribute, which root cannot write through either."""
    if os.geteuid() != 0:
        os.chmod(directory, 0o555)
        try:
            yield
        finally:
            os.chmod(directory, 0o755)
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(directory)], capture_output=True).returncode:
        pytest.skip("running as root and chattr +i is not available here: nothing makes a directory read-only for root")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(directory)], check=True)


def test_a_read_only_run_directory_gives_a_clear_error(tmp_path):
    tr = _tiny_trainer(tmp_path / "run")
    tr.fit(max_steps=2, progress=False)
    with read_only(tmp_path / "run"):
        with pytest.raises(ckpt.CheckpointError, match="intact"):
            tr.save()
    assert _tiny_trainer(tmp_path / "run", resume=True).step == 2


def test_a_committed_but_unfinished_set_is_finished_by_the_next_reader(tmp_path):
    """The crash window after the commit: the reader swaps the pending files in before reading."""
    d = tmp_path / "rel"
    ckpt.write_set(d, {"a.json": ckpt.json_bytes({"v": 1}), "b.json": ckpt.json_bytes({"v": 1})})
    ckpt.atomic_write_bytes(d / ("a.json" + ckpt.PENDING_SUFFIX), ckpt.json_bytes({"v": 2}))
    ckpt.atomic_write_bytes(d / ("b.json" + ckpt.PENDING_SUFFIX), ckpt.json_bytes({"v": 2}))
    ckpt.atomic_write_json(d / ckpt.COMMIT_NAME, {"files": ["a.json", "b.json"]})
    os.replace(d / ("a.json" + ckpt.PENDING_SUFFIX), d / "a.json")  # killed after swapping one file
    ckpt.finish_interrupted_write(d)
    assert ckpt.read_json(d / "a.json") == ckpt.read_json(d / "b.json") == {"v": 2}
    assert sorted(f.name for f in d.iterdir()) == ["a.json", "b.json"]
    # pending files without a commit are a write that never happened: the owner discards them
    ckpt.atomic_write_bytes(d / ("a.json" + ckpt.PENDING_SUFFIX), ckpt.json_bytes({"v": 3}))
    assert ckpt.discard_unfinished_writes(d) == ["a.json" + ckpt.PENDING_SUFFIX]
    assert ckpt.read_json(d / "a.json") == {"v": 2}
    # a commit naming paths outside the directory is refused
    ckpt.atomic_write_json(d / ckpt.COMMIT_NAME, {"files": ["../escape"]})
    with pytest.raises(ckpt.CheckpointError, match="does not name"):
        ckpt.finish_interrupted_write(d)
