"""The web app's building blocks, one module per tab or concern; `app.py` at the project root starts it
(`vidgen.app.server.main`). Only the tab, served, examples and server modules import Gradio, so the
rest is testable without a server."""
