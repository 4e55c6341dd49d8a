// window.vidgen: the default model in this page, computed by onnxruntime-web's WASM backend from the files
// `python -m vidgen export-onnx --out web/model` writes: cond.onnx once a video (the prompt and its glyph layout),
// step.onnx once a DDIM step. Every step's x_t and predicted x_0 go to `onStep`.
//
//   await vidgen.ready
//   const {frames, motion, ms} = await vidgen.generate({prompt, seed, motion, noise, guidance, onStep})
//
// frames: Uint8Array(16*32*32); motion: {xs, ys, size} (given, {direction, speed, size}, or drawn from the seed);
// noise: the initial x_T as Float32Array(16*32*32) (default: the page's own, from the seed).
import * as ort from "./node_modules/onnxruntime-web/dist/ort.wasm.min.mjs";
import { VidgenError, checkMotion, checkSize, encode, frameLayout, lineMotion, normalizePrompt, seededMotion, seededNoise, toUint8 } from "./layout.js";

const BASE = new URL(".", import.meta.url);

ort.env.wasm.wasmPaths = new URL("node_modules/onnxruntime-web/dist/", BASE).href;  // served by this page's origin, never a CDN
const MOST_THREADS = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;  // threads need COOP/COEP
const ASKED_THREADS = Number(new URLSearchParams(self.location.search).get("threads"));  // ?threads=N: fewer, to compare
ort.env.wasm.numThreads = Number.isInteger(ASKED_THREADS) && ASKED_THREADS >= 1 ? Math.min(ASKED_THREADS, MOST_THREADS) : MOST_THREADS;

async function load() {
  const t0 = performance.now();
  const cfg = await (await fetch(new URL("model/vidgen.json", BASE))).json();
  const session = async (entry) => ort.InferenceSession.create(
    await (await fetch(new URL(`model/${entry.file}`, BASE))).arrayBuffer(), { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  const [cond, step] = await Promise.all([session(cfg.onnx.cond), session(cfg.onnx.step)]);
  return { cfg, cond, step, loadMs: performance.now() - t0 };
}

const loaded = load();

function checkSeed(seed) {
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 31 - 1) throw new VidgenError(`seed must be a whole number from 0 to ${2 ** 31 - 1}, got ${seed}`);
  return seed;
}

function checkGuidance(cfg, g) {
  const [lo, hi] = cfg.sampling.guidance_range || [1, 20];
  if (typeof g !== "number" || !(g >= lo && g <= hi)) throw new VidgenError(`guidance must be a number in [${lo}, ${hi}], got ${g}`);
  return g;
}

// A motion as the caller gives it: {xs, ys, size} (checked against the invariant), {direction, speed, size}, or none.
function chosenMotion(cfg, prompt, motion, seed) {
  if (motion == null) return seededMotion(cfg, prompt, seed);
  if (Array.isArray(motion.xs)) {
    const T = cfg.world.frames;
    if (motion.xs.length !== T || !Array.isArray(motion.ys) || motion.ys.length !== T || !Number.isInteger(motion.size)) {
      throw new VidgenError(`a motion is {xs, ys} of ${T} whole numbers each and a whole-number size`);
    }
    const m = { xs: motion.xs.map(Number), ys: motion.ys.map(Number), size: motion.size };
    if (![...m.xs, ...m.ys].every(Number.isInteger)) throw new VidgenError(`a motion's xs and ys must be whole numbers`);
    checkSize(cfg, m.size);
    checkMotion(cfg, prompt, m);
    return m;
  }
  return lineMotion(cfg, prompt, Number(motion.direction), Number(motion.speed), motion.size == null ? cfg.world.font_size : Number(motion.size));
}

async function generate({ prompt, seed = 0, motion = null, noise = null, guidance = null, onStep = null } = {}) {
  const { cfg, cond, step } = await loaded;
  const text = normalizePrompt(cfg, prompt);
  checkSeed(seed);
  const g = checkGuidance(cfg, guidance == null ? cfg.sampling.guidance : guidance);
  const m = chosenMotion(cfg, text, motion, seed);
  const { frames: T, height: H, width: W } = cfg.world;
  const n = T * H * W;
  if (noise != null && !(noise instanceof Float32Array && noise.length === n)) throw new VidgenError(`noise must be a Float32Array of ${n}`);
  const t0 = performance.now();
  const { symbol, uv } = frameLayout(cfg, text, m);
  const encoded = await cond.run({  // the prompt and its layout, once a video (text, mask, pooled, layout)
    ids: new ort.Tensor("int64", encode(cfg, text), [1, cfg.tokenizer.slots]),
    symbol: new ort.Tensor("int64", symbol, [1, T, H, W]),
    uv: new ort.Tensor("float32", uv, [1, T, H, W, 2]),
    size: new ort.Tensor("int64", BigInt64Array.from([BigInt(m.size)]), [1]),
  });
  const feeds = { ...encoded, guidance: new ort.Tensor("float32", Float32Array.from([g]), [1]) };
  let x = noise != null ? Float32Array.from(noise) : seededNoise(n, seed);
  const { timesteps, coef } = cfg.sampling;
  for (let i = 0; i < timesteps.length; i++) {
    const out = await step.run({
      ...feeds,
      x: new ort.Tensor("float32", x, [1, T, H, W]),
      t: new ort.Tensor("int64", BigInt64Array.from([BigInt(timesteps[i])]), [1]),
      coef: new ort.Tensor("float32", Float32Array.from(coef[i]), [1, 4]),
    });
    x = out.x_prev.data;
    if (onStep) await onStep({ index: i, numSteps: timesteps.length, t: timesteps[i], xT: toUint8(x), predX0: toUint8(out.pred_x0.data), ms: performance.now() - t0 });
  }
  return { frames: toUint8(x), motion: { xs: m.xs, ys: m.ys, size: m.size }, ms: performance.now() - t0, prompt: text, guidance: g };
}

export const vidgen = {
  ready: loaded.then(({ cfg, loadMs }) => ({ model: cfg.model.name, steps: cfg.sampling.steps, loadMs, threads: ort.env.wasm.numThreads })),
  generate,
  config: () => loaded.then(({ cfg }) => cfg),
  layout: async (prompt, motion) => {  // for tests: the glyph layout the page computes, as plain arrays
    const { cfg } = await loaded;
    const { symbol, uv } = frameLayout(cfg, normalizePrompt(cfg, prompt), motion);
    return { symbol: Array.from(symbol, Number), uv: Array.from(uv) };
  },
  lineMotion: async (prompt, direction, speed, size) => {
    const { cfg } = await loaded;
    return lineMotion(cfg, normalizePrompt(cfg, prompt), direction, speed, size);
  },
  VidgenError,
};
window.vidgen = vidgen;
