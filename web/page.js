// The page around window.vidgen: the form, every step's x_t and predicted x_0 as they come, the video and its GIF.
import { GIFEncoder } from "./node_modules/gifenc/dist/gifenc.esm.js";
import { vidgen } from "./vidgen.js";

const $ = (id) => document.getElementById(id);
const GRAYS = Array.from({ length: 256 }, (_, i) => [i, i, i]);
let playing = null;

function stripCanvas(frames, T = 16, S = 32) {  // the T frames side by side, one canvas
  const c = document.createElement("canvas");
  c.width = T * S; c.height = S; c.className = "strip";
  const img = c.getContext("2d").createImageData(T * S, S);
  for (let f = 0; f < T; f++) for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
    const v = frames[(f * S + y) * S + x], k = 4 * (y * T * S + f * S + x);
    img.data[k] = img.data[k + 1] = img.data[k + 2] = v; img.data[k + 3] = 255;
  }
  c.getContext("2d").putImageData(img, 0, 0);
  return c;
}

function play(frames, T = 16, S = 32) {
  const ctx = $("player").getContext("2d");
  let f = 0;
  clearInterval(playing);
  playing = setInterval(() => {
    const img = ctx.createImageData(S, S);
    for (let i = 0; i < S * S; i++) { const v = frames[f * S * S + i]; img.data.set([v, v, v, 255], 4 * i); }
    ctx.putImageData(img, 0, 0);
    f = (f + 1) % T;
  }, 100);
}

function gifUrl(frames, T = 16, S = 32) {
  const gif = GIFEncoder();
  for (let f = 0; f < T; f++) gif.writeFrame(frames.subarray(f * S * S, (f + 1) * S * S), S, S, { palette: GRAYS, delay: 100, repeat: 0 });
  gif.finish();
  return URL.createObjectURL(new Blob([gif.bytes()], { type: "image/gif" }));
}

function request() {
  const motion = document.querySelector("input[name=motion]:checked").value === "line"
    ? { direction: Number($("direction").value), speed: Number($("speed").value), size: Number($("size").value) } : null;
  return { prompt: $("prompt").value, seed: Number($("seed").value), guidance: Number($("guidance").value), motion };
}

async function run(event) {
  event.preventDefault();
  $("error").hidden = true;
  $("generate").disabled = true;
  $("steps").replaceChildren();
  try {
    const out = await vidgen.generate({
      ...request(),
      onStep: async ({ index, numSteps, t, xT, predX0, ms }) => {
        const div = document.createElement("div");
        div.className = "step";
        div.innerHTML = `<h3>step ${index + 1} of ${numSteps} (t = ${t}, ${ms.toFixed(0)} ms)</h3><p>x_t after the step</p>`;
        div.append(stripCanvas(xT));
        div.append(Object.assign(document.createElement("p"), { textContent: "predicted x_0" }), stripCanvas(predX0));
        $("steps").append(div);
        await new Promise(requestAnimationFrame);  // let the page draw it before the next step
      },
    });
    $("result").hidden = false;
    play(out.frames);
    $("download").href = gifUrl(out.frames);
    $("download").download = `${out.prompt}_seed${request().seed}.gif`;
    $("timing").textContent = `${out.prompt}: ${out.ms.toFixed(0)} ms in this browser; motion ${out.motion.xs.length} frames at size ${out.motion.size}`;
  } catch (e) {
    $("error").textContent = e instanceof vidgen.VidgenError ? e.message : `Something went wrong: ${e.message}`;
    $("error").hidden = false;
  } finally {
    $("generate").disabled = false;
  }
}

$("controls").addEventListener("submit", run);
vidgen.ready.then(({ model, steps, loadMs, threads }) => {
  $("status").textContent = `${model} loaded in ${loadMs.toFixed(0)} ms (${steps} steps a video, ${threads} WASM thread${threads > 1 ? "s" : ""}).`;
  $("generate").disabled = false;
}, (e) => { $("status").textContent = `The model did not load: ${e.message}`; });
