// The library's prompt checks, glyph geometry, glyph layout and motions, in JavaScript, from the tables in
// model/vidgen.json (vidgen/browser/bundle.py). Each function names the Python it reproduces; tests/test_browser.py
// compares them cell by cell with the library in a real browser.

export class VidgenError extends Error {}

// Python's repr of a string, as the library's messages print it.
export function pyRepr(s) {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  return q + s.replace(/\\/g, "\\\\").replace(new RegExp(q, "g"), "\\" + q) + q;
}

// Python's round-half-to-even (np.rint, torch.round).
export function rint(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// vidgen.data.tokenizer.normalize_prompt (words=False): the prompt upper-cased, or a VidgenError with the reason.
export function normalizePrompt(cfg, text) {
  const { symbols, slots } = cfg.tokenizer;
  if (typeof text !== "string") throw new VidgenError(`prompt must be a string, got ${typeof text}`);
  const prompt = text.trim().toUpperCase();
  if (!prompt) throw new VidgenError(`prompt is empty: give 1 to ${slots} symbols from A-Z and 0-9`);
  const bad = [...new Set([...prompt].filter((c) => !symbols.includes(c)))].sort();
  if (bad.length) {
    const shown = bad.length === 1 && bad[0] === " " ? "a space" : pyRepr(bad.join(""));
    throw new VidgenError(`prompt ${pyRepr(text)} has ${shown} outside the allowed symbols A-Z and 0-9 (spaces between ` +
      `words need a long-video model: vidgen.load_pipeline() or 'long') (lower case is read as upper case)`);
  }
  if (prompt.length > slots) throw new VidgenError(`prompt ${pyRepr(text)} has ${prompt.length} symbols; at most ${slots} are allowed`);
  return prompt;
}

// vidgen.data.tokenizer.encode: token ids (slots,), PAD after the prompt.
export function encode(cfg, prompt) {
  const { symbols, slots, first_symbol_id, pad_id } = cfg.tokenizer;
  const ids = new BigInt64Array(slots).fill(BigInt(pad_id));
  [...prompt].forEach((c, i) => { ids[i] = BigInt(first_symbol_id + symbols.indexOf(c)); });
  return ids;
}

function table(cfg, size) {
  const t = cfg.font[String(size)];
  if (!t) throw new VidgenError(`font size must be in [${cfg.world.size_range[0]}, ${cfg.world.size_range[1]}], got ${size}`);
  return t;
}

// Pillow's font.getlength(text) at `size`: advances plus pair kerning (vidgen.browser.font_metrics.text_length).
export function textLength(cfg, text, size) {
  const t = table(cfg, size), sym = cfg.tokenizer.symbols;
  const idx = [...text].map((c) => sym.indexOf(c));
  let adv = 0, kern = 0;
  idx.forEach((i) => { adv += t.advance[i]; });
  for (let k = 0; k + 1 < idx.length; k++) kern += t.kerning[idx[k]][idx[k + 1]];
  return idx.length ? adv + kern : 0;
}

// vidgen.data.world.glyph_boxes: each glyph's ink box [left, top, right, bottom) in strip pixels.
export function glyphBoxes(cfg, prompt, size) {
  const t = table(cfg, size), sym = cfg.tokenizer.symbols, x0 = cfg.world.text_x;
  return [...prompt].map((c, i) => {
    const pen = x0 + (i ? textLength(cfg, prompt.slice(0, i), size) : 0);
    const [l, top, r, b] = t.bbox[sym.indexOf(c)];
    return [Math.floor(pen + l), top, Math.ceil(pen + r), b];
  });
}

// vidgen.data.layout2d.strip_columns: slot and in-glyph offset (float32) of every strip column, and the strip height.
export function stripColumns(cfg, text, size) {
  const t = table(cfg, size), sym = cfg.tokenizer.symbols, x0 = cfg.world.text_x;
  const n = text.length;
  const ends = [];
  for (let i = 0; i < n; i++) ends.push(textLength(cfg, text.slice(0, i + 1), size));
  const starts = [...text].map((c, i) => x0 + (ends[i] - t.advance[sym.indexOf(c)]));
  starts.push(x0 + ends[n - 1]);
  const stripWidth = Math.ceil(textLength(cfg, text, size)) + 2 * x0;
  const height = Math.max(...[...text].map((c) => t.bbox[sym.indexOf(c)][3])) + 1;
  const width = Math.max(stripWidth, Math.ceil(starts[n] - x0) + 2 * x0);
  const edges = starts.slice();
  edges[0] = 0; edges[n] = width;
  const slot = new Int32Array(width), offset = new Float32Array(width);
  for (let c = 0; c < width; c++) {
    const centre = c + 0.5;
    let s = 0;
    for (let k = 1; k < n; k++) if (edges[k] <= centre) s = k;  // searchsorted(edges[1:-1], centre, side="right")
    slot[c] = s;
    offset[c] = Math.fround(centre - starts[s]);
  }
  return { slot, offset, height, width };
}

// vidgen.data.layout2d.layout_batch_2d of one prompt along a motion: symbol (T*H*W) token ids (PAD where no glyph is)
// and uv (T*H*W*2) float32 in-glyph coordinates in FONT_SIZE pixels.
export function frameLayout(cfg, prompt, motion) {
  const { height: H, width: W } = cfg.world, T = motion.xs.length;
  const { first_symbol_id, pad_id, symbols } = cfg.tokenizer;
  const cols = stripColumns(cfg, prompt, motion.size);
  const scale = Math.fround(cfg.world.font_size / motion.size);
  const vscale = cfg.world.font_size / motion.size;
  const ids = [...prompt].map((c) => first_symbol_id + symbols.indexOf(c));
  const symbol = new BigInt64Array(T * H * W).fill(BigInt(pad_id));
  const uv = new Float32Array(T * H * W * 2);
  for (let f = 0; f < T; f++) {
    for (let y = 0; y < H; y++) {
      const row = y - motion.ys[f];
      if (row < 0 || row >= cols.height) continue;
      for (let x = 0; x < W; x++) {
        const col = x - motion.xs[f];
        if (col < 0 || col >= cols.width) continue;
        const k = (f * H + y) * W + x;
        symbol[k] = BigInt(ids[cols.slot[col]]);
        uv[2 * k] = Math.fround(cols.offset[col] * scale);
        uv[2 * k + 1] = Math.fround((row + 0.5) * vscale);
      }
    }
  }
  return { symbol, uv };
}

// vidgen.data.world.visible_frames: in how many frames each glyph's ink lies wholly inside the frame.
export function visibleFrames(cfg, prompt, motion) {
  const { height: H, width: W } = cfg.world;
  return glyphBoxes(cfg, prompt, motion.size).map(([l, t, r, b]) =>
    motion.xs.filter((x, f) => x + l >= 0 && x + r <= W && motion.ys[f] + t >= 0 && motion.ys[f] + b <= H).length);
}

// vidgen.data.world.check_motion (16 frames): a VidgenError naming the glyphs a motion does not show whole often enough.
export function checkMotion(cfg, prompt, motion) {
  const need = cfg.world.min_visible_frames;
  const seen = visibleFrames(cfg, prompt, motion);
  const short = [...prompt].map((c, i) => [c, i, seen[i]]).filter(([, , n]) => n < need)
    .map(([c, i, n]) => `${pyRepr(c)} (glyph ${i + 1}: ${n} frame${n !== 1 ? "s" : ""})`);
  if (short.length) {
    throw new VidgenError(`this motion does not show ${short.join(", ")} wholly on screen in at least ${need} frames; for a ` +
      `prompt of ${prompt.length} symbols at size ${motion.size}, try another direction or speed (a prompt wider than the ` +
      `frame must travel sideways, fast enough to show it all), a smaller size, or a shorter prompt`);
  }
}

export function checkSize(cfg, size) {
  const [lo, hi] = cfg.world.size_range;
  if (!(size >= lo && size <= hi)) throw new VidgenError(`font size must be in [${lo}, ${hi}], got ${size}`);
}

// vidgen.data.world.line_motion: heading `direction` degrees (0 = rightwards, 90 = downwards) at `speed` px a frame,
// the path's middle at the frame's centre; refused (checkMotion) if it hides a glyph.
export function lineMotion(cfg, prompt, direction, speed, size = cfg.world.font_size) {
  if (!Number.isInteger(size)) throw new VidgenError(`bad motion: SIZE must be a whole number`);
  checkSize(cfg, size);
  if (!Number.isFinite(direction) || !Number.isFinite(speed)) {
    throw new VidgenError(`direction and speed must be finite numbers, got ${direction} and ${speed}`);
  }
  if (!(speed > 0 && speed <= 8)) throw new VidgenError(`bad motion: SPEED must be in (0, 8] pixels a frame, got ${speed}`);
  const T = cfg.world.frames, a = direction * (Math.PI / 180);
  const hx = Math.cos(a), hy = Math.sin(a);
  const d = Array.from({ length: T }, (_, f) => [f * speed * hx, f * speed * hy]);
  const boxes = glyphBoxes(cfg, prompt, size);
  const cx = (Math.min(...boxes.map((b) => b[0])) + Math.max(...boxes.map((b) => b[2]))) / 2;
  const cy = (Math.min(...boxes.map((b) => b[1])) + Math.max(...boxes.map((b) => b[3]))) / 2;
  let mx = 0, my = 0;
  d.forEach(([x, y]) => { mx += x; my += y; });
  const sx = rint(cfg.world.width / 2 - cx - mx / T), sy = rint(cfg.world.height / 2 - cy - my / T);
  const motion = { xs: d.map(([x]) => sx + rint(x)), ys: d.map(([, y]) => sy + rint(y)), size, shape: "line" };
  checkMotion(cfg, prompt, motion);
  return motion;
}

// A small seeded generator (mulberry32): the page's own randomness, for its motions and its initial noise.
export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The page's own motion from a seed, with the world's invariant (every glyph wholly on screen in >= 2 frames): a
// straight line at a random heading, speed and size from the world's ranges, started at a random start among all
// that keep the invariant (vidgen.data.world.valid_starts); headings that show nothing are redrawn.
export function seededMotion(cfg, prompt, seed, tries = 2000) {
  const random = rng(seed);
  const { sizes, speeds, frames: T, width: W, height: H, min_visible_frames: need } = cfg.world;
  for (let k = 0; k < tries; k++) {
    const size = sizes[0] + Math.floor(random() * (sizes[1] - sizes[0] + 1));
    const speed = speeds[0] + random() * (speeds[1] - speeds[0]);
    const a = random() * 2 * Math.PI;
    const d = Array.from({ length: T }, (_, f) => [rint(f * speed * Math.cos(a)), rint(f * speed * Math.sin(a))]);
    const boxes = glyphBoxes(cfg, prompt, size);
    const starts = [];
    const xlo = Math.min(...d.flatMap(([dx]) => boxes.map((b) => -(dx + b[0]))));
    const xhi = Math.max(...d.flatMap(([dx]) => boxes.map((b) => W - (dx + b[2]))));
    const ylo = Math.min(...d.flatMap(([, dy]) => boxes.map((b) => -(dy + b[1]))));
    const yhi = Math.max(...d.flatMap(([, dy]) => boxes.map((b) => H - (dy + b[3]))));
    for (let x0 = xlo; x0 <= xhi; x0++) {
      for (let y0 = ylo; y0 <= yhi; y0++) {
        const ok = boxes.every(([l, t, r, b]) => d.filter(([dx, dy]) =>
          x0 + dx + l >= 0 && x0 + dx + r <= W && y0 + dy + t >= 0 && y0 + dy + b <= H).length >= need);
        if (ok) starts.push([x0, y0]);
      }
    }
    if (!starts.length) continue;
    const [x0, y0] = starts[Math.floor(random() * starts.length)];
    return { xs: d.map(([dx]) => x0 + dx), ys: d.map(([, dy]) => y0 + dy), size, shape: "line" };
  }
  throw new VidgenError(`no straight motion shows every glyph of ${pyRepr(prompt)} whole in ${need} frames (${tries} tries)`);
}

// Standard normal noise (Box-Muller on the seeded generator): the page's initial x_T for a seed.
export function seededNoise(n, seed) {
  const random = rng(seed ^ 0x9e3779b9);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - random(), v = random();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

// vidgen.data.render.to_uint8: [-1, 1] float32 -> uint8, clipped, (x + 1) * 127.5 rounded half to even (in float32).
export function toUint8(x) {
  const out = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = Math.min(1, Math.max(-1, x[i]));
    out[i] = rint(Math.fround(Math.fround(c + 1) * 127.5));
  }
  return out;
}
