"""Figures of the interpretability probes: plotly builders (interactive) and small PNGs (PIL).

The builders take a model (or Pipeline), an `AttentionTrace` or a probe's result dict and return a
`plotly.graph_objects.Figure`; the web app shows them as they are, `python -m vidgen probe` writes
them with `write_html`. The PNGs are drawn with numpy and PIL (no kaleido needed).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from einops import rearrange
from PIL import Image, ImageDraw, ImageFont
from plotly.subplots import make_subplots

from . import analysis as probes
from .analysis import AttentionTrace

SIMILARITY_SCALE = "RdBu_r"  # cosine similarity in [-1, 1]: blue negative, white 0, red 1
ATTENTION_SCALE = "Magma"
TOKEN_COLORS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45")
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
    from ..data.tokenizer import TRAIN_MAX_LEN

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
    step = probes._check_index(step, trace.num_steps, "step")
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
            fig.add_trace(go.Scatter(x=ww, y=hh, mode="markers", marker=dict(size=4, color=TOKEN_COLORS[k % len(TOKEN_COLORS)],
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
    query = probes._check_position(query, trace.grid, "query")
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
    s = trace.self_steps[-1] if step is None else probes._check_index(step, trace.num_steps, "step")
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


# ----------------------------------------------------------------------------- PNG (numpy + PIL)

_DIVERGING = np.array([[33, 102, 172], [146, 197, 222], [247, 247, 247], [244, 165, 130], [178, 24, 43]], float)  # RdBu_r
_SEQUENTIAL = np.array([[0, 0, 4], [81, 18, 124], [183, 55, 121], [252, 137, 97], [252, 253, 191]], float)  # magma


def colorize(values: np.ndarray, vmin: float, vmax: float, cmap: str = "diverging") -> np.ndarray:
    """Values (...) -> uint8 RGB (..., 3) on a 5-anchor colormap: "diverging", "sequential" or "gray"."""
    x = np.clip((np.asarray(values, float) - vmin) / ((vmax - vmin) or 1.0), 0, 1)
    if cmap == "gray":
        return np.repeat((x * 255).round().astype(np.uint8)[..., None], 3, -1)
    anchors = {"diverging": _DIVERGING, "sequential": _SEQUENTIAL}.get(cmap)
    if anchors is None:
        raise ValueError(f"unknown colormap {cmap!r}; known: diverging, sequential, gray")
    pos = x * (len(anchors) - 1)
    lo = np.minimum(pos.astype(int), len(anchors) - 2)
    frac = (pos - lo)[..., None]
    return (anchors[lo] * (1 - frac) + anchors[lo + 1] * frac).round().astype(np.uint8)


def _font():
    return ImageFont.load_default()


def _titled(img: Image.Image, title: str, footer: str = "") -> Image.Image:
    """Add a title line above and an optional footer below an image."""
    pad = 14
    out = Image.new("RGB", (max(img.width, 6 * len(title) + 8, 6 * len(footer) + 8), img.height + pad + (pad if footer else 0) + 4), "white")
    out.paste(img, (0, pad + 2))
    d = ImageDraw.Draw(out)
    d.text((4, 1), title, fill="black", font=_font())
    if footer:
        d.text((4, img.height + pad + 4), footer, fill="black", font=_font())
    return out


def _colorbar(vmin: float, vmax: float, cmap: str, height: int) -> Image.Image:
    bar = colorize(np.linspace(vmax, vmin, max(height, 2))[:, None].repeat(10, 1), vmin, vmax, cmap)
    img = Image.new("RGB", (50, max(height, 2)), "white")
    img.paste(Image.fromarray(bar), (0, 0))
    d = ImageDraw.Draw(img)
    d.text((13, 0), f"{vmax:.2g}", fill="black", font=_font())
    d.text((13, max(height, 2) - 11), f"{vmin:.2g}", fill="black", font=_font())
    return img


def heatmap_png(z: np.ndarray, vmin: float, vmax: float, cmap: str = "diverging", scale: int = 1, title: str = "",
                footer: str = "", lines_every: int = 0) -> Image.Image:
    """A 2D array as an upscaled heatmap with a colorbar; `lines_every` draws grid lines every k cells."""
    rgb = colorize(z, vmin, vmax, cmap).repeat(scale, 0).repeat(scale, 1)
    if lines_every:
        for k in range(lines_every, z.shape[0], lines_every):
            rgb[k * scale, :] = 0
        for k in range(lines_every, z.shape[1], lines_every):
            rgb[:, k * scale] = 0
    img = Image.new("RGB", (rgb.shape[1] + 56, rgb.shape[0]), "white")
    img.paste(Image.fromarray(rgb), (0, 0))
    img.paste(_colorbar(vmin, vmax, cmap, rgb.shape[0]), (rgb.shape[1] + 6, 0))
    return _titled(img, title, footer)


def tiles_png(rows: list[list[np.ndarray]], vmin: float, vmax: float, cmap: str = "sequential", cell: int = 64,
              row_labels=None, col_labels=None, title: str = "", footer: str = "", marks=None) -> Image.Image:
    """A grid of small maps (each upscaled by an integer factor to about `cell` pixels) with row/column
    labels and one colorbar (cmap "none": no colorbar).

    Tiles may be RGB already (H, W, 3 uint8). `marks`: {(row, col): [(y, x), ...]} cells to outline.
    """
    gap, left, top = 4, 60 if row_labels else 0, 14 if col_labels else 0
    fit = lambda n: max(1, cell // n) * n  # noqa: E731
    th = max(fit(t.shape[0]) for r in rows for t in r)
    tw = max(fit(t.shape[1]) for r in rows for t in r)
    ncols = max(len(r) for r in rows)
    width, height = left + ncols * (tw + gap), top + len(rows) * (th + gap)
    img = Image.new("RGB", (width + 56, height), "white")
    d = ImageDraw.Draw(img)
    for i, r in enumerate(rows):
        if row_labels:
            d.text((2, top + i * (th + gap) + th // 2 - 5), str(row_labels[i]), fill="black", font=_font())
        for j, tile in enumerate(r):
            rgb = tile if tile.ndim == 3 else colorize(tile, vmin, vmax, cmap)
            s_y, s_x = max(1, cell // tile.shape[0]), max(1, cell // tile.shape[1])
            x0, y0 = left + j * (tw + gap), top + i * (th + gap)
            img.paste(Image.fromarray(rgb.repeat(s_y, 0).repeat(s_x, 1)), (x0, y0))
            for (y, x) in (marks or {}).get((i, j), []):
                d.rectangle([x0 + x * s_x, y0 + y * s_y, x0 + (x + 1) * s_x - 1, y0 + (y + 1) * s_y - 1], outline="cyan")
    if col_labels:
        for j, lab in enumerate(col_labels):
            d.text((left + j * (tw + gap) + 2, 1), str(lab), fill="black", font=_font())
    if cmap != "none":
        img.paste(_colorbar(vmin, vmax, cmap, height - top), (width + 4, top))
    return _titled(img, title, footer)


def lines_png(series: dict, title: str, xlabel: str, ylabel: str = "", log_y: bool = False, hlines: dict | None = None,
              size=(520, 300)) -> Image.Image:
    """A small line chart: series {name: (xs, ys)}, optional dashed horizontal lines {name: y}."""
    w, h = size
    ml, mr, mt, mb = 56, 10, 10, 30
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    f = (lambda v: np.log10(np.maximum(np.asarray(v, float), 1e-12))) if log_y else (lambda v: np.asarray(v, float))  # noqa: E731
    xs_all = np.concatenate([np.asarray(x, float) for x, _ in series.values()])
    ys = [f(y) for _, y in series.values()] + [f([v]) for v in (hlines or {}).values()]
    lo, hi = float(min(np.nanmin(y) for y in ys)), float(max(np.nanmax(y) for y in ys))
    hi = hi if hi > lo else lo + 1.0
    x_lo, x_hi = float(xs_all.min()), float(xs_all.max())
    px = lambda v: ml + (v - x_lo) / ((x_hi - x_lo) or 1.0) * (w - ml - mr)  # noqa: E731
    py = lambda v: mt + (hi - v) / (hi - lo) * (h - mt - mb)  # noqa: E731
    d.rectangle([ml, mt, w - mr, h - mb], outline="black")
    for v in (lo, hi):
        d.text((2, py(v) - 5), f"{10 ** v:.2g}" if log_y else f"{v:.3g}", fill="black", font=_font())
    d.text((ml, h - mb + 3), f"{x_lo:.4g}", fill="black", font=_font())
    d.text((w - mr - 30, h - mb + 3), f"{x_hi:.4g}", fill="black", font=_font())
    d.text((ml + 60, h - mb + 14), xlabel + (f"   y: {ylabel}" if ylabel else ""), fill="black", font=_font())
    for k, (name, (x, y)) in enumerate(series.items()):
        color = TOKEN_COLORS[k % len(TOKEN_COLORS)]
        pts = [(px(a), py(b)) for a, b in zip(np.asarray(x, float), f(y)) if np.isfinite(b)]
        if len(pts) > 1:
            d.line(pts, fill=color, width=2)
        for p in pts:
            d.ellipse([p[0] - 2, p[1] - 2, p[0] + 2, p[1] + 2], fill=color)
        d.text((ml + 6, mt + 4 + 12 * k), name, fill=color, font=_font())
    for name, v in (hlines or {}).items():
        yv = py(float(f([v])[0]))
        for xs in range(ml, w - mr, 8):
            d.line([(xs, yv), (xs + 4, yv)], fill="gray")
        d.text((w - mr - 6 * len(name) - 4, yv - 11), name, fill="gray", font=_font())
    return _titled(img, title)


def similarity_cube_png(model, t: int, h: int, w: int) -> Image.Image:
    """Fig. 11 flattened: one H' x W' similarity map per frame, the reference outlined."""
    model = probes.as_model(model)
    cube = probes.position_similarity_cube(model, t, h, w)
    return tiles_png([list(cube)], -1, 1, "diverging", cell=96, col_labels=[f"t={f}" for f in range(cube.shape[0])],
                     title=f"pos-embedding similarity to (t={t},h={h},w={w}), one map (H x W) per frame",
                     marks={(0, t): [(h, w)]})


def similarity_matrix_png(model) -> Image.Image:
    """Fig. 12: the all-to-all matrix with lines between frames."""
    model = probes.as_model(model)
    sim = probes.position_similarity_matrix(model)
    scale = max(1, 512 // sim.shape[0])
    per_frame = model.cfg.grid[1] * model.cfg.grid[2]
    return heatmap_png(sim, -1, 1, "diverging", scale=scale, lines_every=per_frame,
                       title=f"video pos-embedding cosine similarity, {sim.shape[0]} tokens (t h w)")


def prompt_similarity_png(model) -> Image.Image:
    """Fig. 13: the prompt slots' similarity, values written in the cells."""
    sim = probes.prompt_position_similarity(model)
    cell = 44
    img = heatmap_png(sim, -1, 1, "diverging", scale=cell, title="prompt pos-embedding cosine similarity (slots 1..L)")
    d = ImageDraw.Draw(img)
    for i in range(sim.shape[0]):
        for j in range(sim.shape[1]):
            d.text((j * cell + 8, 16 + i * cell + cell // 2 - 5), f"{sim[i, j]:.2f}", fill="black", font=_font())
    return img


def symbol_similarity_png(model) -> Image.Image:
    """The glyph-layout symbol embeddings' similarity (36, 36), A-Z then 0-9."""
    sim = probes.symbol_embedding_similarity(model)
    return heatmap_png(sim, -1, 1, "diverging", scale=12, title="symbol embedding cosine similarity (A-Z, 0-9)")


def layout_png(prompt: str, scale: int = 4) -> Image.Image:
    """The prompt's glyph layout, every frame side by side: what a layout model is told (colour = the
    glyph's slot, brighter further into the glyph)."""
    from ..data.layout import layout_picture

    video = layout_picture(prompt)  # (T, H, W, 3)
    strip = rearrange(np.pad(video, ((0, 0), (0, 0), (0, 1), (0, 0)), constant_values=255), "t h w c -> h (t w) c")
    img = Image.fromarray(strip).resize((strip.shape[1] * scale, strip.shape[0] * scale), Image.NEAREST)
    return _titled(img, f"glyph layout of {prompt!r}, frames 0-{video.shape[0] - 1} (colour = slot, brightness = offset in glyph)")


def timestep_embedding_png(model, num_timesteps: int = 1000, rows: int = 200) -> Image.Image:
    """Fig. 10 as a matrix: the sinusoidal features (t down, dimension across) at `rows` timesteps."""
    ts = np.rint(np.linspace(0, num_timesteps - 1, rows)).astype(int)
    emb = probes.timestep_embedding(model, ts)
    scale_x = max(1, 512 // emb.shape[1])
    rgb_src = np.repeat(emb, scale_x, axis=1)
    return heatmap_png(rgb_src, -1, 1, "diverging", scale=1,
                       title=f"timestep features [cos | sin], dim {emb.shape[1]}; t = 0 (top) .. {num_timesteps - 1} (bottom)")


def cross_attention_png(trace: AttentionTrace, step: int = -1) -> Image.Image:
    """Cross-attention maps at one step (layers and heads averaged): row 0 the clean-video estimate,
    then one row per symbol, one column per frame; ground-truth patches of the symbol outlined."""
    step = probes._check_index(step, trace.num_steps, "step")
    maps = probes.cross_attention_maps(trace, step)  # (n, T', H', W')
    t_ = trace.grid[0]
    video = [colorize(_frame_of(trace, step, f), 0, 255, "gray") for f in range(t_)]
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
    palette = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in TOKEN_COLORS], np.uint8)

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
    query = probes._check_position(query, trace.grid, "query")
    probes.self_attention_map(trace, query, step)  # checks that this step's self-attention was kept
    layers = trace.self_attn.shape[1]
    maps = [probes.self_attention_map(trace, query, step, layer=l) for l in range(layers)]
    s = trace.self_steps[-1] if step is None else step
    return tiles_png([list(m) for m in maps], 0, float(max(m.max() for m in maps)) or 1.0, "sequential",
                     row_labels=[f"layer {l}" for l in range(layers)], col_labels=[f"t'={f}" for f in range(trace.grid[0])],
                     marks={(l, query[0]): [query[1:]] for l in range(layers)},
                     title=f"self-attention from patch {query} at step {s} (t={trace.timesteps[s]}), mean of heads")
