"""Launch the app's page in this process on a free localhost port, for the client and browser tests."""
from __future__ import annotations

import contextlib
import socket

from vidgen.app.model_choices import load_models
from vidgen.app.server import build_demo, serve
from vidgen.app.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(checkpoint, blog_checkpoint=None, scroll_checkpoint=None, scroll_blog_checkpoint=None, fast_checkpoint=None,
                two_step_checkpoint=None, long_checkpoint=None, latent_checkpoint=None, latent64_checkpoint=None,
                **settings):
    """Yield the URL of the app serving `checkpoint` as the release, `blog_checkpoint` as the blog's model
    and `scroll_checkpoint` as the scroll world's release (None: not served); closed on exit."""
    missing = "/nonexistent/vidgen-checkpoint"
    opts = Settings(checkpoint=str(checkpoint) if checkpoint is not None else missing,
                    blog_checkpoint=str(blog_checkpoint) if blog_checkpoint is not None else missing,
                    scroll_checkpoint=str(scroll_checkpoint) if scroll_checkpoint is not None else missing,
                    scroll_blog_checkpoint=str(scroll_blog_checkpoint) if scroll_blog_checkpoint is not None else missing,
                    fast_checkpoint=str(fast_checkpoint) if fast_checkpoint is not None else missing,
                    two_step_checkpoint=str(two_step_checkpoint) if two_step_checkpoint is not None else missing,
                    long_checkpoint=str(long_checkpoint) if long_checkpoint is not None else missing,
                    latent_checkpoint=str(latent_checkpoint) if latent_checkpoint is not None else missing,
                    latent64_checkpoint=str(latent64_checkpoint) if latent64_checkpoint is not None else missing,
                    port=free_port(), **settings)
    pipes, error = load_models(opts)
    if checkpoint is not None and error:  # the models left out on purpose are not an error
        error = "\n\n".join(e for e in error.split("\n\n") if missing not in e) or None
    demo = build_demo(pipes, opts, error)
    _, url, _ = serve(demo, opts, prevent_thread_lock=True, quiet=True)
    try:
        yield url
    finally:
        demo.close()
