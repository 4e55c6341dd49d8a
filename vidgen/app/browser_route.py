"""`/browser/`: the page that runs the default model in the visitor's browser (web/, docs/browser.md), served as
static files beside the app. Its responses carry the cross-origin isolation headers that let onnxruntime-web use
WASM threads (SharedArrayBuffer); everything it loads comes from this origin."""
from __future__ import annotations

from pathlib import Path

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from ..paths import PROJECT_ROOT

WEB_DIR = PROJECT_ROOT / "web"
ROUTE = "/browser"
ISOLATION_HEADERS = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp",
                     "Cross-Origin-Resource-Policy": "same-origin"}
NEEDED = ("index.html", "model/vidgen.json", "model/cond.onnx", "model/step.onnx", "node_modules/onnxruntime-web/dist/ort.wasm.min.mjs")


class IsolatedStaticFiles(StaticFiles):
    """Static files with the isolation headers, and .mjs served as JavaScript."""

    async def get_response(self, path, scope):
        response = await super().get_response(path, scope)
        response.headers.update(ISOLATION_HEADERS)
        if path.endswith(".mjs"):
            response.headers["content-type"] = "text/javascript"
        return response


def missing_browser_files(web_dir: Path = WEB_DIR) -> list[str]:
    """What the page needs that is not there: the exported model (python -m vidgen export-onnx --out web/model)
    and onnxruntime-web (npm ci --prefix web)."""
    return [name for name in NEEDED if not (web_dir / name).is_file()]


def mount_browser(app, web_dir: Path = WEB_DIR) -> bool:
    """Serve web_dir at ROUTE/ on the app's server, ahead of the app's own routes; -> False (nothing mounted) when a
    file the page needs is missing."""
    if missing_browser_files(web_dir):
        return False
    app.router.routes.insert(0, Mount(ROUTE, app=IsolatedStaticFiles(directory=str(web_dir), html=True), name="browser"))
    return True
