"""The page's words: title, introduction and the explanations beside the controls."""
from __future__ import annotations

TITLE = "vidgen: text-to-video diffusion you can watch"


INTRO = """\
# vidgen: watch a video diffusion model denoise
Type 1 to 6 letters or digits; a small diffusion transformer turns pure noise into a 16-frame, 32x32
video of them moving through the frame. Every denoising step is shown as it happens: the noisy sample **x_t**,
the model's current guess of the finished video, **predicted x_0**, and the prompt's **glyph layout**.
"""


EXPLAIN_MOTION = """\
**What varies.** In the *motion world* a prompt has many right videos: the text may move in any
direction, at 1 to 6 pixels a frame, along a line, an arc, a bouncing or a stop-and-go path, at font
sizes 16 to 24, as long as every glyph is seen whole in at least two frames. Leave **Motion** on
*Random* and each seed gives another motion (press **Variations** to see eight at once); or give a
direction and speed, or click a path, and the model follows it. The *release* is told where every glyph
is in every frame (the coloured panel), so a random motion is drawn for it from the world's
distribution by the seed. *The blog's model* decides itself: a small learned motion prior reads the
prompt and draws a motion by the seed (the panel then shows its own choice). The older *scroll*
models know one motion per prompt (right to left, speed set by the length): their seed changes noise only.
"""


EXPLAIN_LAYOUT = """\
**What the model is told, and what it learns.** The *release* (and its distilled students: release-fast, one
pass a step, and release-2step, the default, two passes a video) is **layout-guided**: besides the prompt
it is told, for every frame and pixel column, which symbol
covers it and how far into that glyph the column lies (the coloured panel: one colour per symbol,
brighter further into the glyph), computed from the font's advance widths exactly as the data is
drawn. It still has to learn what each of the 36 glyphs looks like and how to denoise: it keeps a
learned vector for every (symbol, column into the glyph, row of patches), a glyph template it fills in
from the denoising loss alone; no picture of a glyph is ever given to it. *The blog's model* gets
only the prompt tokens, as in the blog: it must also work out where each symbol goes and how fast the
text scrolls. It does so the way text-to-speech models decide which sound goes in which audio frame:
a small predictor reads the prompt and says how wide each glyph is and where the strip stands in each
frame (trained on the renderer's numbers, used alone when sampling); the coloured panel then shows
*its own prediction*, and the model reads it like the release reads the given layout. Without that
step the blog's network drew crisp glyphs at the right speed but mostly the wrong ones (docs/binding.md).
Pick one under **Model**, or put both side by side in **Compare**.
"""


EXPLAIN_STEP = """\
**What a step does.** The sampler starts from pure Gaussian noise x_T (T = {T}). At each step the
network looks at x_t and the prompt and predicts the clean video x_0 (right); the sampler then moves
x_t part of the way towards that guess, to a less noisy x_(t-Δ) (left). With {n} steps Δ = {T}/{n} = {d}.
Early guesses are blurry averages of every video the prompt could be; they sharpen as the noise drops.
"""


EXPLAIN_ETA = """\
**What eta does.** Each step can add fresh noise back: σ_t = eta · √((1-ᾱ_prev)/(1-ᾱ_t)) · √(1-ᾱ_t/ᾱ_prev).
eta = 0 is deterministic DDIM (same seed, same video, and few steps suffice); eta = 1 is DDPM's
ancestral sampling, which keeps correcting itself but needs more steps. The DDPM sampler forces eta = 1.
**DPM-Solver++ (2M)** solves the same deterministic path as DDIM with a second-order multistep
update (it reuses the previous step's x_0 guess), so 10-20 steps get about as far as many more DDIM
steps; it takes no eta. **UniPC** takes the same predictor step and then corrects it with the next
step's model output, at no extra network pass; it takes no eta either.
"""


EXPLAIN_GUIDANCE = """\
**What guidance does.** The network is run twice per step, with the prompt and with an empty prompt,
and the two predictions are mixed: **guided = uncond + s · (cond − uncond)**. s = 1 is the plain
conditional model, s = 0 ignores the prompt, s > 1 pushes away from "any video" towards "this prompt":
crisper letters, less variety; very large s over-saturates.
"""


EXPLAIN_LONG = """\
**Long videos.** Set **Length** above 16 frames (up to 128) and the prompt may be a sentence of up to 24
symbols with single spaces between words, e.g. `HELLO WORLD 2026`. The long-video model, which takes a noise
level per frame, makes it window by window with its own method and steps per frame (Sampler, Steps and eta are the
16-frame models'): each window of 16 frames starts with a few frames already made, its *clean context*, so the
next chunk continues the motion instead of starting again. The preview grows as chunks land: the frames made so
far, the window being denoised (its context framed in green) with the model's guess of it, and a bar with one
cell per frame of the whole video (white clean, darker noisier, the window outlined in blue). The **Step
viewer** then scrubs through every call of the model.
"""


EXPLORER_INTRO = """\
What the network learned about *where* and *when*. The video is cut into patches (a grid T' x H' x W'),
and each patch position has a learned embedding vector; so does each prompt slot. Cosine similarity
between these vectors shows which positions the model treats as alike (the blog's Figures 10-13).
"""
