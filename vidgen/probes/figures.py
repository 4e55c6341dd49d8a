"""Figures of the interpretability probes: plotly builders (interactive) and small PNGs (PIL).

The builders take a model (or Pipeline), an `AttentionTrace` or a probe's result dict and return a
`plotly.graph_objects.Figure`; the web app shows them as they are, `python -m vidgen probe` writes
them with `write_html`. The PNGs are drawn with numpy and PIL (no kaleido needed).
"""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import torch
from einops import rearrange
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image
from plotly.subplots import make_subplots

from ..data import tokenizer as tok
from ..data.layout import glyph_layout
from . import analysis as probes
from .analysis import AttentionTrace
from .pictures import SLOT_COLOURS, layout_picture, slot_colour_hex

SIMILARITY_SCALE = "RdBu_r"  # cosine similarity in [-1, 1]: blue negative, white 0, red 1
ATTENTION_SCALE = "Magma"
PLOTLY_JS = "plotly.min.js"

# After the page loads, several sliders drive one set of frames: each step stops animating on its own
# (execute=false) and a change of any slider animates to the frame named from all their values.
# Figures opt in with layout.meta.linked_sliders = "name with {0}, {1}, ... for the sliders' labels".
_LINKED_SLIDERS_JS = """
var gd = document.getElementById('{plot_id}');
var fmt = gd.layout.meta && gd.layout.meta.linked_sliders;
if (fmt) {
  var upd = {};
  gd.layout.sliders.forEach(function(s, i) {
    s.steps.forEach(function(st, j) { upd['sliders[' + i + '].steps[' + j + '].execute'] = false; });
  });
  Plotly.relayout(gd, upd);
  gd.on('plotly_sliderchange', function() {
    var name = fmt;
    gd._fullLayout.sliders.forEach(function(s, i) { name = name.replace('{' + i + '}', s.steps[s.active || 0].label); });
    Plotly.animate(gd, [name], {frame: {duration: 0, redraw: true}, transition: {duration: 0}, mode: 'immediate'})
      .catch(function() {});  // a newer slider move interrupts this one: nothing to report
  });
}
"""


def _slider(values, active: int, prefix: str, frame_names, x: float = 0.05, length: float = 0.9, y: float = 0.0) -> dict:
    """A slider whose steps jump to `frame_names` (one per value)."""
    return dict(
        active=active, currentvalue={"prefix": prefix}, pad={"t": 30}, len=length, x=x, y=y, xanchor="left", yanchor="top",
        steps=[dict(args=[[name], {"frame": {"duration": 0, "redraw": True}, "mode": "immediate", "transition": {"duration": 0}}],
                    label=str(v), method="animate") for v, name in zip(values, frame_names)],
    )


# ----------------------------------------------------------------------------- positional embeddings


def _cube_traces(sim: np.ndarray, ref, threshold: float) -> list:
    t, h, w = np.nonzero(sim > threshold)
    return [
        go.Scatter3d(x=w, y=h, z=t, mode="markers", showlegend=False,
                     marker=dict(size=9, symbol="square", color=sim[t, h, w].round(3), colorscale="Viridis",
                                 cmin=threshold, cmax=1.0, opacity=0.75, colorbar=dict(title="cos sim", thickness=12, len=0.6)),
                     hovertemplate="(t=%{z}, h=%{y}, w=%{x})<br>similarity %{marker.color:.3f}<extra></extra>"),
        go.Scatter3d(x=[ref[2]], y=[ref[1]], z=[ref[0]], mode="markers", name="reference",
                     marker=dict(size=7, color="gold", symbol="diamond", line=dict(color="darkgoldenrod", width=2)),
                     hovertemplate=f"reference (t={ref[0]}, h={ref[1]}, w={ref[2]})<extra></extra>"),
    ]


def similarity_cube_figure(model, t: int | None = None, h: int | None = None, w: int | None = None,
                           threshold: float = 0.4, sliders: bool = True) -> go.Figure:
    """Blog Fig. 11: cosine similarity of every video position embedding to the one at (t, h, w) as a
    3D cube (W, H, T axes), showing positions above `threshold`. Default reference: the grid centre.

    With `sliders`, W/H/T sliders move the reference (one frame per position; in HTML written by
    `write_html` the three sliders act together). Without, one static cube: cheap to redraw from app widgets.
    """
    model = probes.as_model(model)
    grid = model.cfg.grid
    ref = tuple(g // 2 if v is None else v for v, g in zip((t, h, w), grid))
    sim = probes.position_similarity_cube(model, *ref)  # validates ref
    fig = go.Figure(_cube_traces(sim, ref, threshold))
    axis = lambda n, title: dict(title=title, tickvals=list(range(n)), range=[-0.5, n - 0.5])  # noqa: E731
    fig.update_layout(
        title=dict(text=f"Video positional embeddings: similarity to (t={ref[0]}, h={ref[1]}, w={ref[2]})", x=0.5),
        scene=dict(xaxis=axis(grid[2], "W (width)"), yaxis=axis(grid[1], "H (height)"), zaxis=axis(grid[0], "T (time)"),
                   aspectmode="cube", camera=dict(eye=dict(x=1.6, y=1.6, z=1.0))),
        margin=dict(l=0, r=0, t=50, b=40 if not sliders else 160), height=620, legend=dict(x=0.8, y=0.95),
    )
    if not sliders:
        return fig
    full = probes.position_similarity_matrix(model)
    name = lambda tt, hh, ww: f"t{tt}h{hh}w{ww}"  # noqa: E731
    frames = []
    for idx in range(full.shape[0]):
        pos = np.unravel_index(idx, grid)
        cube = full[idx].reshape(grid)
        frames.append(go.Frame(data=_cube_traces(cube, pos, threshold), name=name(*pos), traces=[0, 1]))
    fig.frames = frames
    rt, rh, rw = ref
    fig.update_layout(
        sliders=[
            _slider(range(grid[2]), rw, "W: ", [name(rt, rh, v) for v in range(grid[2])], x=0.02, length=0.3),
            _slider(range(grid[1]), rh, "H: ", [name(rt, v, rw) for v in range(grid[1])], x=0.35, length=0.3),
            _slider(range(grid[0]), rt, "T: ", [name(v, rh, rw) for v in range(grid[0])], x=0.68, length=0.3),
        ],
        meta={"linked_sliders": "t{2}h{1}w{0}"},
    )
    return fig


def similarity_matrix_figure(model) -> go.Figure:
    """Blog Fig. 12: the (N, N) all-to-all cosine similarity of the video position embeddings, with
    lines between frames (tokens in (t h w) order)."""
    model = probes.as_model(model)
    sim = probes.position_similarity_matrix(model).astype(np.float32)
    t_, h_, w_ = model.cfg.grid
    per_frame = h_ * w_
    fig = go.Figure(go.Heatmap(z=sim, zmin=-1, zmax=1, colorscale=SIMILARITY_SCALE, colorbar=dict(title="cos sim"),
                               hovertemplate="token %{y} vs %{x}<br>similarity %{z:.3f}<extra></extra>"))
    ticks = [f * per_frame + per_frame / 2 for f in range(t_)]
    for f in range(1, t_):
        for kw in (dict(x0=f * per_frame - 0.5, x1=f * per_frame - 0.5, y0=-0.5, y1=sim.shape[0] - 0.5),
                   dict(y0=f * per_frame - 0.5, y1=f * per_frame - 0.5, x0=-0.5, x1=sim.shape[0] - 0.5)):
            fig.add_shape(type="line", line=dict(color="black", width=0.5), **kw)
    tickaxis = dict(tickvals=ticks, ticktext=[f"t={f}" for f in range(t_)])
    fig.update_layout(title=dict(text=f"Video positional embeddings: all-to-all similarity ({sim.shape[0]} tokens, (t h w) order)", x=0.5),
                      xaxis=dict(**tickaxis, constrain="domain"), yaxis=dict(**tickaxis, autorange="reversed", scaleanchor="x"),
                      height=700, width=760)
    return fig


def prompt_similarity_figure(model) -> go.Figure:
    """Blog Fig. 13: cosine similarity of the learned prompt-slot embeddings (L, L), values written in."""
    from ..data.prompts import TRAIN_MAX_LEN

    sim = probes.prompt_position_similarity(model)
    labels = [f"slot {i + 1}" + ("*" if i >= TRAIN_MAX_LEN else "") for i in range(sim.shape[0])]
    fig = go.Figure(go.Heatmap(z=sim, x=labels, y=labels, zmin=-1, zmax=1, colorscale=SIMILARITY_SCALE,
                               texttemplate="%{z:.2f}", colorbar=dict(title="cos sim"),
                               hovertemplate="%{y} vs %{x}<br>similarity %{z:.3f}<extra></extra>"))
    fig.update_layout(title=dict(text=f"Prompt positional embeddings (* = never used in training, > {TRAIN_MAX_LEN} symbols)", x=0.5),
                      yaxis=dict(autorange="reversed", scaleanchor="x"), height=520, width=600)
    return fig


def symbol_similarity_figure(model) -> go.Figure:
    """A glyph-layout model's learned symbol embeddings: cosine similarity of A-Z and 0-9 (36, 36)."""
    from ..data.tokenizer import SYMBOLS

    sim = probes.symbol_embedding_similarity(model)
    labels = list(SYMBOLS)
    fig = go.Figure(go.Heatmap(z=sim, x=labels, y=labels, zmin=-1, zmax=1, colorscale=SIMILARITY_SCALE,
                               colorbar=dict(title="cos sim"),
                               hovertemplate="%{y} vs %{x}<br>similarity %{z:.3f}<extra></extra>"))
    fig.update_layout(title=dict(text="Glyph-layout symbol embeddings: which symbols the model treats as alike", x=0.5),
                      xaxis=dict(dtick=1), yaxis=dict(dtick=1, autorange="reversed", scaleanchor="x"), height=640, width=680)
    return fig


def distance_profile_figure(by_distance: dict) -> go.Figure:
    """Mean position-embedding similarity against distance (from `probes.similarity_by_distance`)."""
    fig = go.Figure()
    for name, row in by_distance.items():
        fig.add_trace(go.Scatter(x=row["distance"], y=row["mean"], mode="lines+markers", name=name,
                                 customdata=row["pairs"], hovertemplate="distance %{x}: %{y:.3f} (%{customdata} pairs)"))
    fig.update_layout(title=dict(text="Position-embedding similarity by distance (time/height/width: along that axis only; "
                                      "space: within a frame)", x=0.5, font=dict(size=13)),
                      xaxis_title="distance (patches)", yaxis_title="mean cosine similarity", height=420)
    return fig


# ----------------------------------------------------------------------------- timestep embedding


def timestep_embedding_figure(model_or_dim, num_timesteps: int = 1000, after_mlp: bool = False, t: int = 0,
                              slider_steps: int = 101) -> go.Figure:
    """Blog Fig. 10: the timestep embedding vector at t (top, with a t slider) and the whole
    (t x dimension) matrix (bottom, the current t marked).

    model_or_dim: a model (its sinusoidal features, or with `after_mlp` its MLP output) or an int
    dimension (the raw sinusoidal features of that size, e.g. 32 as in the blog).
    """
    if not 0 <= t < num_timesteps:
        raise ValueError(f"t must be in [0, {num_timesteps - 1}], got {t}")
    ts = np.arange(num_timesteps)
    if isinstance(model_or_dim, (int, np.integer)):
        emb, what = probes.timestep_features(ts, int(model_or_dim)), f"sinusoidal features (dim={model_or_dim})"
    else:
        emb = probes.timestep_embedding(model_or_dim, ts, after_mlp=after_mlp)
        what = "after the MLP" if after_mlp else f"sinusoidal features (dim={emb.shape[1]})"
    emb = emb.astype(np.float32)
    lim = float(np.abs(emb).max()) or 1.0
    fig = make_subplots(rows=2, cols=1, row_heights=[0.18, 0.82], vertical_spacing=0.08,
                        subplot_titles=(f"t = {t}", "all t"))
    row = lambda tt: go.Heatmap(z=emb[tt : tt + 1], zmin=-lim, zmax=lim, colorscale=SIMILARITY_SCALE, showscale=False,  # noqa: E731
                                xgap=1, hovertemplate="dim %{x}: %{z:.3f}<extra></extra>")
    marker = lambda tt: go.Scatter(x=[-0.5, emb.shape[1] - 0.5], y=[tt, tt], mode="lines", showlegend=False,  # noqa: E731
                                   line=dict(color="black", width=2), hoverinfo="skip")
    fig.add_trace(row(t), 1, 1)
    fig.add_trace(go.Heatmap(z=emb, zmin=-lim, zmax=lim, colorscale=SIMILARITY_SCALE, colorbar=dict(title="value", len=0.7, y=0.4),
                             hovertemplate="t=%{y}, dim %{x}: %{z:.3f}<extra></extra>"), 2, 1)
    fig.add_trace(marker(t), 2, 1)
    values = np.unique(np.rint(np.linspace(0, num_timesteps - 1, slider_steps)).astype(int))
    titles = [a.to_plotly_json() for a in fig.layout.annotations]
    fig.frames = [go.Frame(data=[row(v), marker(v)], traces=[0, 2], name=str(v),
                           layout=dict(annotations=[{**titles[0], "text": f"t = {v}"}, titles[1]]))
                  for v in values]
    active = int(np.abs(values - t).argmin())
    fig.update_layout(title=dict(text=f"Timestep embedding: {what}", x=0.5), height=620,
                      sliders=[_slider(values, active, "t = ", [str(v) for v in values], y=-0.05)])
    fig.update_yaxes(visible=False, row=1, col=1)
    fig.update_yaxes(title="t", autorange="reversed", row=2, col=1)
    fig.update_xaxes(title="dimension", row=2, col=1)
    return fig


# ----------------------------------------------------------------------------- attention


def _square_cells(fig: go.Figure) -> None:
    """Every subplot's y axis keeps the scale of its own x axis, so map cells stay square."""
    fig.for_each_yaxis(lambda ax: ax.update(scaleanchor=ax.anchor, constrain="domain"))
    fig.for_each_xaxis(lambda ax: ax.update(constrain="domain"))


def _frame_of(trace: AttentionTrace, step: int, f: int) -> np.ndarray:
    """The model's clean-video estimate at `step`, first frame of token frame f: (H, W) uint8."""
    return trace.pred_x0[step, f * trace.patch[0]]


def cross_attention_figure(trace: AttentionTrace, step: int = -1, layer: int | None = None, head: int | None = None,
                           steps_slider: bool = True) -> go.Figure:
    """Cross-attention maps over the frames: top row the model's clean-video estimate, then one row per
    prompt symbol (T' columns, each an H' x W' map of how much every patch reads that symbol). Dots
    mark the patches where the ground truth draws that symbol. A slider walks the denoising steps.

    layer/head None = averaged over layers/heads.
    """
    step = probes.check_index(step, trace.num_steps, "step")
    t_, h_, w_ = trace.grid
    n = len(trace.prompt)
    maps_at = lambda s: probes.cross_attention_maps(trace, s, layer, head)  # noqa: E731  (n, T', H', W')
    zmax = float(max(maps_at(s).max() for s in range(trace.num_steps))) or 1.0
    fig = make_subplots(rows=n + 1, cols=t_, horizontal_spacing=0.01, vertical_spacing=0.02,
                        column_titles=[f"t'={f}" for f in range(t_)],
                        row_titles=["x0 est."] + [f"'{c}'" for c in trace.prompt])

    def heatmaps(s):
        maps = maps_at(s)
        out = [go.Heatmap(z=_frame_of(trace, s, f), colorscale="gray", zmin=0, zmax=255, showscale=False, hoverinfo="skip")
               for f in range(t_)]
        out += [go.Heatmap(z=maps[k, f], coloraxis="coloraxis",
                           hovertemplate=f"'{trace.prompt[k]}' t'={f} h=%{{y}} w=%{{x}}: %{{z:.3f}}<extra></extra>")
                for k in range(n) for f in range(t_)]
        return out

    for i, hm in enumerate(heatmaps(step)):
        r, c = (1, i + 1) if i < t_ else (2 + (i - t_) // t_, 1 + (i - t_) % t_)
        fig.add_trace(hm, r, c)
    for k in range(n):
        for f in range(t_):
            hh, ww = np.nonzero(trace.ownership[f] == k)
            fig.add_trace(go.Scatter(x=ww, y=hh, mode="markers", marker=dict(size=4, color=slot_colour_hex(k),
                                     line=dict(color="white", width=0.5)), showlegend=False, hoverinfo="skip"), 2 + k, 1 + f)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed")
    _square_cells(fig)
    what = f"layer {layer}" if layer is not None else "mean over layers"
    what += f", head {head}" if head is not None else ", mean over heads"
    fig.update_layout(title=dict(text=f"Cross-attention to the prompt '{trace.prompt}' ({what})", x=0.5),
                      coloraxis=dict(colorscale=ATTENTION_SCALE, cmin=0, cmax=zmax, colorbar=dict(title="attention")),
                      height=110 * (n + 1) + 160, width=90 * t_ + 200, margin=dict(b=110))
    if steps_slider:
        idx = list(range(t_ * (n + 1)))
        fig.frames = [go.Frame(data=heatmaps(s), traces=idx, name=f"step{s}") for s in range(trace.num_steps)]
        fig.update_layout(sliders=[_slider([f"{s} (t={trace.timesteps[s]})" for s in range(trace.num_steps)], step,
                                           "step ", [f"step{s}" for s in range(trace.num_steps)], y=-0.02)])
    return fig


def self_attention_figure(trace: AttentionTrace, query, step: int | None = None, head: int | None = None) -> go.Figure:
    """Self-attention from the patch `query` (t, h, w) to every patch: one row per layer, one column per
    frame; the query is marked. `step` must be one of trace.self_steps (default the last kept)."""
    t_, h_, w_ = trace.grid
    query = probes.check_position(query, trace.grid, "query")
    probes.self_attention_map(trace, query, step)  # checks that this step's self-attention was kept
    layers = trace.self_attn.shape[1]
    maps = [probes.self_attention_map(trace, query, step, layer=l, head=head) for l in range(layers)]  # layers x (T', H', W')
    fig = make_subplots(rows=layers, cols=t_, horizontal_spacing=0.01, vertical_spacing=0.02,
                        column_titles=[f"t'={f}" for f in range(t_)], row_titles=[f"layer {l}" for l in range(layers)])
    for l, m in enumerate(maps):
        for f in range(t_):
            fig.add_trace(go.Heatmap(z=m[f], coloraxis="coloraxis",
                                     hovertemplate=f"layer {l} t'={f} h=%{{y}} w=%{{x}}: %{{z:.4f}}<extra></extra>"), l + 1, f + 1)
    fig.add_trace(go.Scatter(x=[query[2]], y=[query[1]], mode="markers", showlegend=False, hoverinfo="skip",
                             marker=dict(symbol="x", size=10, color="cyan")), 1, query[0] + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed")
    _square_cells(fig)
    s = trace.self_steps[-1] if step is None else probes.check_index(step, trace.num_steps, "step")
    zmax = float(max(m.max() for m in maps)) or 1.0
    fig.update_layout(title=dict(text=f"Self-attention from patch (t={query[0]}, h={query[1]}, w={query[2]}) at step {s} "
                                      f"(t={trace.timesteps[s]}), {'mean over heads' if head is None else f'head {head}'}", x=0.5),
                      coloraxis=dict(colorscale=ATTENTION_SCALE, cmin=0, cmax=zmax, colorbar=dict(title="attention")),
                      height=100 * layers + 120, width=90 * t_ + 200)
    return fig


def alignment_figure(over_steps: dict | None = None, on_data: dict | None = None) -> go.Figure:
    """Attention alignment (share of symbol patches whose strongest cross-attention is that symbol)
    against the noise level t: while sampling (`probes.alignment_over_steps`) and/or teacher-forced on
    validation prompts (`probes.alignment_on_data`), with chance and majority levels."""
    fig = go.Figure()
    for name, res, dash in (("sampling", over_steps, None), ("validation data", on_data, "dot")):
        if res is None:
            continue
        fig.add_trace(go.Scatter(x=res["timesteps"], y=res["mean"], mode="lines+markers", name=f"{name}: layers averaged", line=dict(dash=dash)))
        per_layer = np.asarray(res["per_layer"])
        for l in range(per_layer.shape[1]):
            fig.add_trace(go.Scatter(x=res["timesteps"], y=per_layer[:, l], mode="lines", name=f"{name}: layer {l}",
                                     line=dict(dash=dash, width=1), visible="legendonly"))
        for level, label in ((res["chance"], "chance"), (res["majority"], "majority")):
            fig.add_hline(y=level, line=dict(dash="dash", width=1, color="gray"), annotation_text=f"{name} {label}")
    fig.update_layout(title=dict(text="Attention alignment with the drawn symbol", x=0.5), height=440,
                      xaxis=dict(title="timestep t (noisier to the right)"), yaxis=dict(title="alignment", range=[0, 1.02]))
    return fig


def loss_by_noise_figure(loss: dict) -> go.Figure:
    """Denoising loss against t (from `probes.loss_by_noise_level`): the training target's MSE and the
    clean-video estimate's MSE, log scale."""
    fig = go.Figure([go.Scatter(x=loss["timesteps"], y=loss["target_mse"], mode="lines+markers", name=f"{loss['prediction']}-MSE (training target)"),
                     go.Scatter(x=loss["timesteps"], y=loss["x0_mse"], mode="lines+markers", name="x0-MSE")])
    fig.update_layout(title=dict(text=f"Loss by noise level ({len(loss['prompts'])} validation prompts, fixed noise)", x=0.5),
                      xaxis_title="timestep t (noisier to the right)", yaxis=dict(title="MSE", type="log"), height=420)
    return fig


# ----------------------------------------------------------------------------- HTML


def write_html(fig: go.Figure, path, plotlyjs: str = PLOTLY_JS) -> Path:
    """Write a figure as HTML that loads plotly from `plotlyjs` next to it (copied there if missing),
    so the files work offline; linked sliders get their script."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    js = path.parent / plotlyjs
    if not js.exists():
        copy_plotlyjs(js)
    fig.write_html(str(path), include_plotlyjs=plotlyjs, full_html=True, post_script=_LINKED_SLIDERS_JS,
                   auto_play=False)  # frames are slider states, not an animation to play on load
    return path


def copy_plotlyjs(dest) -> Path:
    """Copy the plotly.js bundle of the installed plotly package to dest."""
    import plotly

    src = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    dest = Path(dest)
    if src.is_file():
        shutil.copyfile(src, dest)
    else:
        from plotly.offline import get_plotlyjs

        dest.write_text(get_plotlyjs(), encoding="utf-8")
    return dest


# ----------------------------------------------------------------------------- PNG (matplotlib)

CMAPS = {"diverging": "RdBu_r", "sequential": "magma", "gray": "gray"}  # the plotly figures' scales, by use


def _cmap(name: str) -> str:
    if name not in CMAPS:
        raise ValueError(f"unknown colormap {name!r}; known: {', '.join(CMAPS)}")
    return CMAPS[name]


def figure_image(fig) -> Image.Image:
    """A matplotlib figure -> PIL image. Figures are built as `Figure` objects, not through pyplot, so
    no backend is chosen and nothing global changes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def heatmap_png(z: np.ndarray, vmin: float, vmax: float, cmap: str = "diverging", title: str = "", footer: str = "",
                lines_every: int = 0, annotate: bool = False, size: float = 6.0, labels=None) -> Image.Image:
    """A 2D array as a heatmap with a colorbar; `lines_every` draws lines every k cells, `annotate` writes
    the values, `labels` names the rows and columns of a square matrix."""
    fig = Figure(figsize=(size * 1.15, size))
    ax = fig.subplots()
    im = ax.imshow(z, cmap=_cmap(cmap), vmin=vmin, vmax=vmax, interpolation="nearest", aspect="auto")
    if labels is not None:
        ax.set_xticks(range(len(labels)), labels, fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
    for k in range(lines_every, z.shape[0], lines_every or z.shape[0]):
        ax.axhline(k - 0.5, color="black", lw=0.5)
    for k in range(lines_every, z.shape[1], lines_every or z.shape[1]):
        ax.axvline(k - 0.5, color="black", lw=0.5)
    if annotate:
        for (i, j), v in np.ndenumerate(z):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title(title, fontsize=9)
    if footer:
        fig.text(0.01, 0.0, footer, fontsize=8)
    return figure_image(fig)


def tiles_png(rows: list[list[np.ndarray]], vmin: float, vmax: float, cmap: str = "sequential", row_labels=None,
              col_labels=None, title: str = "", footer: str = "", marks=None, tile: float = 1.1) -> Image.Image:
    """A grid of small maps with row/column labels and one colorbar (cmap "none": none).

    Tiles may be RGB already (H, W, 3 uint8). `marks`: {(row, col): [(y, x), ...]} cells to outline.
    """
    nrows, ncols = len(rows), max(len(r) for r in rows)
    fig = Figure(figsize=(tile * ncols + 1.2, tile * nrows + 0.6))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    im = None
    for i, r in enumerate(rows):
        for j in range(ncols):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(r):
                ax.axis("off")
                continue
            if r[j].ndim == 3:
                ax.imshow(r[j], interpolation="nearest")
            else:
                im = ax.imshow(r[j], cmap=_cmap(cmap) if cmap != "none" else "gray", vmin=vmin, vmax=vmax, interpolation="nearest")
            for (y, x) in (marks or {}).get((i, j), []):
                ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor="cyan", lw=1.2))
            if col_labels and i == 0:
                ax.set_title(str(col_labels[j]), fontsize=8)
            if row_labels and j == 0:
                ax.set_ylabel(str(row_labels[i]), fontsize=8)
    if cmap != "none" and im is not None:
        fig.colorbar(im, ax=axes, fraction=0.02)
    fig.suptitle(title, fontsize=9)
    if footer:
        fig.text(0.01, 0.0, footer, fontsize=8)
    return figure_image(fig)


def lines_png(series: dict, title: str, xlabel: str, ylabel: str = "", log_y: bool = False, hlines: dict | None = None) -> Image.Image:
    """A small line chart: series {name: (xs, ys)}, optional dashed horizontal lines {name: y}."""
    fig = Figure(figsize=(5.6, 3.2))
    ax = fig.subplots()
    for k, (name, (x, y)) in enumerate(series.items()):
        ax.plot(x, y, marker="o", ms=3, color=slot_colour_hex(k), label=name)
    for name, v in (hlines or {}).items():
        ax.axhline(v, ls="--", color="gray", lw=1)
        ax.annotate(name, (1, v), xycoords=("axes fraction", "data"), ha="right", va="bottom", fontsize=8, color="gray")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return figure_image(fig)


def similarity_cube_png(model, t: int, h: int, w: int) -> Image.Image:
    """Fig. 11 flattened: one H' x W' similarity map per frame, the reference outlined."""
    model = probes.as_model(model)
    cube = probes.position_similarity_cube(model, t, h, w)
    return tiles_png([list(cube)], -1, 1, "diverging", col_labels=[f"t={f}" for f in range(cube.shape[0])],
                     title=f"pos-embedding similarity to (t={t},h={h},w={w}), one map (H x W) per frame",
                     marks={(0, t): [(h, w)]})


def similarity_matrix_png(model) -> Image.Image:
    """Fig. 12: the all-to-all matrix with lines between frames."""
    model = probes.as_model(model)
    sim = probes.position_similarity_matrix(model)
    per_frame = model.cfg.grid[1] * model.cfg.grid[2]
    return heatmap_png(sim, -1, 1, "diverging", lines_every=per_frame, size=8.0,
                       title=f"video pos-embedding cosine similarity, {sim.shape[0]} tokens (t h w)")


def prompt_similarity_png(model) -> Image.Image:
    """Fig. 13: the prompt slots' similarity, values written in the cells."""
    sim = probes.prompt_position_similarity(model)
    return heatmap_png(sim, -1, 1, "diverging", annotate=True, size=4.5, title="prompt pos-embedding cosine similarity (slots 1..L)")


def symbol_similarity_png(model) -> Image.Image:
    """The glyph-layout symbol embeddings' similarity (36, 36), A-Z then 0-9."""
    sim = probes.symbol_embedding_similarity(model)
    return heatmap_png(sim, -1, 1, "diverging", title="symbol embedding cosine similarity", size=7.0, labels=list(tok.SYMBOLS))


def layout_png(prompt: str, scale: int = 4, model=None) -> Image.Image:
    """The prompt's glyph layout, every frame side by side: what a layout model is told (colour = the
    glyph's slot, brighter further into the glyph); with a "learned" `model`, the layout it predicts
    above the true one, with the columns it gets wrong marked in white below."""

    true = layout_picture(prompt)  # (T, H, W, 3)
    rows, title = [true], f"glyph layout of {prompt!r}"
    if model is not None:
        ids = torch.from_numpy(tok.encode_batch([prompt], slots=model.cfg.prompt_len))
        slot, offset = (a[0].cpu().numpy() for a in model.predicted_layout(ids))
        predicted = layout_picture(prompt, (slot, offset))
        wrong = (slot != glyph_layout(prompt).frame_columns()[0])  # (T, W)
        marks = np.broadcast_to(wrong[:, None, :, None] * np.uint8(255), true.shape[:1] + (4,) + true.shape[2:]).copy()
        gap = np.full(true.shape[:1] + (2,) + true.shape[2:], 128, np.uint8)  # grey rows between the three
        rows = [predicted, gap, true, gap, marks]
        title = (f"glyph layout of {prompt!r}: predicted by the model (top), the renderer's (middle), "
                 f"{int(wrong.sum())} of {wrong.size} columns differ (white, bottom)")
    video = np.concatenate(rows, axis=1)  # (T, rows * H, W, 3)
    strip = rearrange(np.pad(video, ((0, 0), (0, 0), (0, 1), (0, 0)), constant_values=255), "t h w c -> h (t w) c")
    fig = Figure(figsize=(strip.shape[1] * scale / 100, strip.shape[0] * scale / 100 + 0.4))
    ax = fig.subplots()
    ax.imshow(strip, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"{title}, frames 0-{video.shape[0] - 1} (colour = slot, brightness = offset in glyph)", fontsize=9)
    return figure_image(fig)


def timestep_embedding_png(model, num_timesteps: int = 1000, rows: int = 200) -> Image.Image:
    """Fig. 10 as a matrix: the sinusoidal features (t down, dimension across) at `rows` timesteps."""
    ts = np.rint(np.linspace(0, num_timesteps - 1, rows)).astype(int)
    emb = probes.timestep_embedding(model, ts)
    return heatmap_png(emb, -1, 1, "diverging",
                       title=f"timestep features [cos | sin], dim {emb.shape[1]}; t = 0 (top) .. {num_timesteps - 1} (bottom)")


def cross_attention_png(trace: AttentionTrace, step: int = -1) -> Image.Image:
    """Cross-attention maps at one step (layers and heads averaged): row 0 the clean-video estimate,
    then one row per symbol, one column per frame; ground-truth patches of the symbol outlined."""
    step = probes.check_index(step, trace.num_steps, "step")
    maps = probes.cross_attention_maps(trace, step)  # (n, T', H', W')
    t_ = trace.grid[0]
    video = [np.repeat(_frame_of(trace, step, f)[..., None], 3, -1) for f in range(t_)]  # (H, W, 3) uint8 grey
    rows = [video] + [list(maps[k]) for k in range(len(trace.prompt))]
    marks = {(1 + k, f): list(zip(*np.nonzero(trace.ownership[f] == k))) for k in range(len(trace.prompt)) for f in range(t_)}
    return tiles_png(rows, 0, float(maps.max()) or 1.0, "sequential", row_labels=["x0 est."] + [f"'{c}'" for c in trace.prompt],
                     col_labels=[f"t'={f}" for f in range(t_)], marks=marks,
                     title=f"cross-attention to '{trace.prompt}' at step {step} (t={trace.timesteps[step]}), mean of layers and heads")


def attention_argmax_png(trace: AttentionTrace, steps=None) -> Image.Image:
    """Which symbol each patch attends to most, over the denoising steps: first row the ground truth
    (which symbol is drawn where), then one row per chosen step; colour = symbol, grey = background."""
    t_ = trace.grid[0]
    steps = np.unique(np.rint(np.linspace(0, trace.num_steps - 1, min(6, trace.num_steps))).astype(int)) if steps is None else steps
    palette = SLOT_COLOURS.astype(np.uint8)

    def paint(labels, strength=None):
        rgb = np.where((labels >= 0)[..., None], palette[labels % len(palette)], 40).astype(np.float64)
        if strength is not None:  # fade weak maxima
            rgb = rgb * (0.35 + 0.65 * strength[..., None])
        return rgb.astype(np.uint8)

    rows, labels = [[paint(trace.ownership[f]) for f in range(t_)]], ["drawn"]
    for s in steps:
        maps = probes.cross_attention_maps(trace, int(s))  # (n, T', H', W')
        strength = maps.max(0) / (maps.max() or 1.0)
        arg = maps.argmax(0)
        rows.append([paint(arg[f], strength[f]) for f in range(t_)])
        labels.append(f"t={trace.timesteps[s]}")
    legend = "  ".join(f"{k + 1}:'{c}'" for k, c in enumerate(trace.prompt))
    return tiles_png(rows, 0, 1, "none", row_labels=labels, col_labels=[f"t'={f}" for f in range(t_)],
                     title=f"strongest cross-attention per patch over denoising ('{trace.prompt}', colours {legend})",
                     footer="row 'drawn': the symbol the ground truth draws in each patch; darker = weaker maximum")


def self_attention_png(trace: AttentionTrace, query, step: int | None = None) -> Image.Image:
    """Self-attention from `query` (t, h, w): one row per layer, one column per frame, query outlined."""
    query = probes.check_position(query, trace.grid, "query")
    probes.self_attention_map(trace, query, step)  # checks that this step's self-attention was kept
    layers = trace.self_attn.shape[1]
    maps = [probes.self_attention_map(trace, query, step, layer=l) for l in range(layers)]
    s = trace.self_steps[-1] if step is None else step
    return tiles_png([list(m) for m in maps], 0, float(max(m.max() for m in maps)) or 1.0, "sequential",
                     row_labels=[f"layer {l}" for l in range(layers)], col_labels=[f"t'={f}" for f in range(trace.grid[0])],
                     marks={(l, query[0]): [query[1:]] for l in range(layers)},
                     title=f"self-attention from patch {query} at step {s} (t={trace.timesteps[s]}), mean of heads")
