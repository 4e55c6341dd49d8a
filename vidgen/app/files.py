"""Result files (GIF, MP4, PNG) in one folder that never grows past a fixed count."""
from __future__ import annotations

import os
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np

from ..data.video_io import gif_bytes, mp4_bytes
from .panels import grid_png


class OutputStore:
    """Result files in one folder, of which only the newest `keep` are kept, so disk use stays flat
    however many videos are made. (Gradio copies what it serves into its own cache, which the app
    cleans with Blocks(delete_cache=...).)"""

    def __init__(self, root: str | os.PathLike, keep: int = 64):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self._written: deque[Path] = deque()
        self._lock = threading.Lock()  # generations may run concurrently

    def write(self, data: bytes, name: str) -> Path:
        """Write bytes under a unique name ending in `name` and drop the oldest files beyond `keep`."""
        with self._lock:
            path = self.root / f"{time.time_ns()}-{len(self._written)}-{name}"
            path.write_bytes(data)
            self._written.append(path)
            while len(self._written) > self.keep:
                self._written.popleft().unlink(missing_ok=True)
        return path

    def save_gif(self, video: np.ndarray, stem: str, scale: int = 8, fps: int = 8) -> Path:
        """uint8 (T, H, W) -> GIF path, nearest-neighbour upscaled by `scale` (about 10 ms)."""
        return self.write(gif_bytes(video, scale=scale, fps=fps), f"{stem}.gif")

    def save_mp4(self, video: np.ndarray, stem: str, scale: int = 8, fps: int = 8) -> Path:
        """uint8 (T, H, W) -> MP4 path (h.264 through an ffmpeg process: about 0.1 s)."""
        return self.write(mp4_bytes(video, scale=scale, fps=fps), f"{stem}.mp4")

    def save_video(self, video: np.ndarray, stem: str, scale: int = 8, fps: int = 8) -> tuple[Path, Path]:
        """uint8 (T, H, W) -> (GIF path, MP4 path)."""
        return self.save_gif(video, stem, scale, fps), self.save_mp4(video, stem, scale, fps)

    def save_png(self, image: np.ndarray, stem: str) -> Path:
        return self.write(grid_png(image), f"{stem}.png")
