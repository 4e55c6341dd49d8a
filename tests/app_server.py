"""Launch app.py's page in this process on a free localhost port, for the client and browser tests."""
from __future__ import annotations

import contextlib
import socket

import app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(checkpoint, **settings):
    """Yield the URL of the app serving `checkpoint` (None: no checkpoint); closed on exit."""
    opts = app.Settings(checkpoint=None if checkpoint is None else str(checkpoint), port=free_port(), **settings)
    pipe, error = app.load(opts.checkpoint if checkpoint is not None else "/nonexistent/vidgen-checkpoint")
    demo = app.build_demo(pipe, opts, error)
    _, url, _ = app.serve(demo, opts, prevent_thread_lock=True, quiet=True)
    try:
        yield url
    finally:
        demo.close()
