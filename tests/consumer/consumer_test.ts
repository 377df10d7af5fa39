// Another project using lnstream as a package: `links` in this folder's deno.json points at the
// lnstream checkout (works offline; with JSR, "imports": {"@lnstream/lnstream": "jsr:…"} instead).
// Run by tests/module_use_test.ts: `deno test --allow-read` here.
import { GPT, normalizeStream } from "@lnstream/lnstream";
import { Arena, layerNormForward } from "@lnstream/lnstream/kernels";
import { ExactSum } from "@lnstream/lnstream/stats";

function check(ok: boolean, what: string) {
  if (!ok) throw new Error(what);
}

Deno.test("a kernel from the ./kernels sub-path, in WebAssembly on an arena", () => {
  const a = new Arena(), x = a.alloc(4), y = a.alloc(4), m = a.alloc(1), r = a.alloc(1);
  x.set([1, 2, 3, 4]);
  layerNormForward(y, m, r, x, null, null, 1, 4);
  check(Math.abs(y[3] - 1.3416) < 1e-4, `LayerNorm gave ${y}`);
});

Deno.test("the whole API from the package root: a stream and a model", async () => {
  const input = ReadableStream.from([new TextEncoder().encode("[1, 2, 3]\n[4, 4, 8]\n")]);
  const { readable, done } = normalizeStream(input, { workers: 1 });
  const text = await new Response(readable).text();
  check(text.trim().split("\n").length === 2, text);
  check((await done).tokens_out === 2, "two tokens");
  const model = new GPT({ nLayer: 1, nHead: 2, nEmbd: 8, placement: "pre" });
  model.init({ scheme: "gpt2", seed: 0 });
  check(model.forward(new Float32Array(2 * 8), 1, 2).length === 16, "forward");
  const s = new ExactSum();
  s.add(1e16);
  s.add(1);
  s.add(-1e16);
  check(s.value() === 1, "exact sum");
});

Deno.test("train from the ./train sub-path: the built-in text, two workers, a sample", async () => {
  const { train } = await import("@lnstream/lnstream/train");
  const { trainer, summary } = await train({
    layers: 1,
    heads: 2,
    dim: 16,
    block: 16,
    batch: 4,
    iters: 3,
    evalIters: 1,
    workers: 2,
  });
  check(trainer.data.size === 65, `tiny Shakespeare has 65 characters, got ${trainer.data.size}`);
  check(summary.final?.step === 3 && summary.workers === 2, JSON.stringify(summary));
  check(trainer.sample(10).length >= 10, "a sample");
});

Deno.test("a Peri-LN / DyT model from the ./model sub-path", async () => {
  const { GPT: Model, PLACEMENTS, NORM_KINDS } = await import("@lnstream/lnstream/model");
  check(PLACEMENTS.includes("peri") && NORM_KINDS.includes("dyt"), "the zoo's names");
  const m = new Model({ nLayer: 2, nHead: 2, nEmbd: 8, placement: "peri", norm: "dyt", qkNorm: true });
  m.init({ scheme: "gpt2", seed: 1 });
  check(m.param("blocks.1.ln2o_a")[0] === 0.5, "DyT's a starts at dytAlpha");
  const y = m.forward(new Float32Array(16).map((_, i) => Math.sin(i)), 1, 2);
  m.zeroGrad();
  m.backward(y);
  check(m.layerStats().layer_stats[1].grad.ln1o_g!.numel === 8, "peri's output norms in layerStats");
});
