// The normalization zoo in the model: every placement with every norm, and QK-norm, against
// PyTorch's golden vectors (float64 on ts; float32 on every backend) and against finite
// differences in float64; the parameter layout and config rules.
import { assert, assertEquals, assertRejects, assertThrows } from "./std_assert.ts";
import { GPT } from "../lib/model/gpt.ts";
import { NORM_KINDS, PLACEMENTS, resolveConfig } from "../lib/model/config.ts";
import {
  arr,
  assertClose,
  checkGolden,
  dot,
  type Golden,
  goldenFiles,
  numericGrad,
  type Precision,
  randn,
  testBackend,
} from "./golden.ts";
import { Rng } from "../lib/model/rng.ts";

function zooModel(doc: Golden, p: Precision): GPT {
  const c = doc.config;
  const model = new GPT({
    nLayer: c.L,
    nHead: c.n_head,
    nEmbd: c.C,
    placement: c.placement,
    norm: c.norm,
    qkNorm: c.qk_norm,
    ...(c.placement === "mix" ? { mixPost: c.mix_post } : {}),
    eps: c.eps,
    dtype: p === "f64" ? "float64" : "float32",
    backend: p === "f64" ? "ts" : testBackend(),
  });
  assertEquals(model.config.finalNorm, c.final_norm, "finalNorm's default");
  // the layout is exactly the file's parameters, in its order
  const names = Object.keys(doc.inputs).filter((n) => n !== "x" && n !== "R");
  assertEquals(model.layout.map((s) => s.name), names);
  for (const n of names) model.param(n).set(arr(doc.inputs[n], p));
  return model;
}

function runZoo(doc: Golden, p: Precision): Record<string, ArrayLike<number>> {
  const { L, B, T } = doc.config;
  const model = zooModel(doc, p);
  const R = arr(doc.inputs.R, p);
  const y = model.forward(arr(doc.inputs.x, p), B, T);
  const out: Record<string, ArrayLike<number>> = {
    "outputs.y": y.slice(),
    "outputs.loss": [dot(y, R)],
  };
  for (let l = 0; l < L; l++) out[`outputs.h.${l}`] = model.activation(l, "h").slice();
  model.zeroGrad();
  out["grads.x"] = model.backward(R).slice();
  for (const s of model.layout) out[`grads.${s.name}`] = model.grad(s.name);
  return out;
}

Deno.test("zoo: every placement × norm, and QK-norm, matches PyTorch (float64 and float32 on every backend)", async (t) => {
  const docs = goldenFiles("zoo");
  assertEquals(docs.length, 22);
  for (const doc of docs) {
    // the loss is a sum of terms of both signs: relative to its terms, not to itself
    await checkGolden(t, doc, (p) => runZoo(doc, p), undefined, (key, tol) => {
      const yTol = 10 * doc.f32_vs_f64["outputs.y"].rel + 1e-6;
      return key === "outputs.loss" ? 1e-4 : Math.max(3 * tol, yTol);
    });
  }
});

/** Every combination of the zoo, as model options. */
const COMBOS = PLACEMENTS.flatMap((placement) =>
  NORM_KINDS.flatMap((norm) => [false, true].map((qkNorm) => ({ placement, norm, qkNorm })))
);

Deno.test("zoo: 3-layer float64 stack gradients equal finite differences, every combination", async (t) => {
  for (const combo of COMBOS) {
    const name = `${combo.placement}, ${combo.norm}${combo.qkNorm ? ", QK-norm" : ""}`;
    await t.step(name, () => {
      const B = 2, T = 3, C = 8;
      const model = new GPT({
        nLayer: 3,
        nHead: 2,
        nEmbd: C,
        ...combo,
        ...(combo.placement === "mix" ? { mixPost: 2 } : {}),
        dtype: "float64",
      });
      model.init({ scheme: "xavier", seed: 3 });
      const bump = randn(model.params.length, 4, 0.1);
      for (let i = 0; i < model.params.length; i++) model.params[i] += bump[i];
      const x = randn(B * T * C, 5), R = randn(B * T * C, 6);
      const loss = () => dot(model.forward(x, B, T), R);
      loss();
      model.zeroGrad();
      const dx = model.backward(R).slice();
      const P = model.params as Float64Array;
      // every norm parameter and DyT scalar, and a sample of the rest
      const pick = new Rng(9), idx = new Set<number>();
      for (const s of model.layout) {
        if (s.shape.length === 1) {
          for (let i = 0; i < Math.min(s.size, 3); i++) idx.add(s.offset + i);
        }
      }
      while (idx.size < 400) idx.add(pick.int(P.length));
      const fd = numericGrad(loss, P, 1e-6, [...idx]);
      const want = new Float64Array(idx.size), got = new Float64Array(idx.size);
      [...idx].forEach((i, j) => [want[j], got[j]] = [fd[i], model.grads[i]]);
      assertClose(got, want, 1e-6, `${name}: dparams`);
      assertClose(dx, numericGrad(loss, x, 1e-6), 1e-6, `${name}: dx`);
    });
  }
});

Deno.test("zoo: config defaults and errors", () => {
  const base = { nLayer: 8, nHead: 2, nEmbd: 8 };
  const r = (o: object) => resolveConfig({ ...base, placement: "pre", ...o });
  for (const p of PLACEMENTS) {
    const c = resolveConfig({ ...base, placement: p });
    assertEquals(c.finalNorm, p === "pre" || p === "peri" || p === "mix", `${p}: finalNorm`);
    assertEquals(c.norm, "layer");
    assertEquals(c.qkNorm, false);
    assertEquals(c.dytAlpha, 0.5);
  }
  assertEquals(resolveConfig({ ...base, placement: "mix" }).mixPost, 2); // ⌊8/4⌋
  assertEquals(resolveConfig({ ...base, placement: "mix", mixPost: 0 }).mixPost, 0);
  assertEquals(resolveConfig({ ...base, placement: "deepnorm", finalNorm: true }).finalNorm, true);
  assertThrows(
    () => r({ placement: "sandwich" }),
    RangeError,
    '"pre", "post", "peri", "deepnorm" or "mix"',
  );
  assertThrows(() => r({ norm: "batch" }), RangeError, '"layer", "rms" or "dyt"');
  assertThrows(() => r({ placement: "mix", mixPost: 9 }), RangeError, "mixPost");
  assertThrows(() => r({ placement: "mix", mixPost: 1.5 }), RangeError, "mixPost");
  assertThrows(() => r({ mixPost: 1 }), RangeError, 'placement "mix"');
  assertThrows(() => r({ norm: "dyt", dytAlpha: NaN }), RangeError, "dytAlpha");
  assertThrows(() => r({ qkNorm: "yes" }), RangeError, "qkNorm");
});

Deno.test("zoo: parameter names by norm and placement; absent names say why", () => {
  const m = (o: object) => new GPT({ nLayer: 2, nHead: 1, nEmbd: 4, placement: "pre", ...o });
  const rms = m({ norm: "rms" });
  assertThrows(() => rms.param("blocks.0.ln1_b"), RangeError, 'norm "rms" has no bias');
  assertThrows(() => rms.param("ln_f_b"), RangeError, 'norm "rms"');
  assertThrows(() => m({}).param("blocks.1.ln2_a"), RangeError, '"dyt"');
  assertThrows(() => m({}).param("blocks.0.ln1o_g"), RangeError, '"peri"');
  const dyt = m({ placement: "peri", norm: "dyt", dytAlpha: 0.8 });
  dyt.init({ scheme: "gpt2", seed: 1 });
  for (const n of ["blocks.0.ln1_a", "blocks.1.ln2o_a", "blocks.0.ln1o_a", "ln_f_a"]) {
    assertEquals([...dyt.param(n)], [Math.fround(0.8)], n);
  }
  assertEquals(dyt.param("blocks.1.ln1o_g").length, 4);
  // the weights do not depend on the norm: the same seed draws the same matrices
  const pre = m({});
  pre.init({ scheme: "gpt2", seed: 1 });
  assertEquals([...dyt.param("blocks.1.W_fc")], [...pre.param("blocks.1.W_fc")]);
  // layerStats has the block's parameters, and no others
  dyt.forward(new Float32Array(8).fill(1).map((v, i) => v + i), 1, 2);
  dyt.zeroGrad();
  dyt.backward(new Float32Array(8).fill(1));
  const s = dyt.layerStats();
  assert(s.layer_stats[0].grad.ln2o_a!.numel === 1 && s.ln_f_grad!.ln_f_a!.numel === 1);
  rms.forward(new Float32Array(8).map((_, i) => i), 1, 2);
  rms.zeroGrad();
  rms.backward(new Float32Array(8).fill(1));
  const rs = rms.layerStats();
  assert(!("ln1_b" in rs.layer_stats[0].grad) && !("ln_f_b" in rs.ln_f_grad!));
});

Deno.test("zoo: DeepNorm's init scales W_fc, W_proj2, W_proj and the value third of W_attn by (8L)^-1/4", () => {
  const o = { nLayer: 3, nHead: 2, nEmbd: 4 } as const;
  const dn = new GPT({ ...o, placement: "deepnorm" }), post = new GPT({ ...o, placement: "post" });
  dn.init({ scheme: "xavier", seed: 2 });
  post.init({ scheme: "xavier", seed: 2 });
  const beta = Math.fround((8 * 3) ** -0.25);
  for (const w of ["W_fc", "W_proj2", "W_proj"]) {
    const a = dn.param(`blocks.1.${w}`), b = post.param(`blocks.1.${w}`);
    for (let i = 0; i < a.length; i++) {
      assert(Math.abs(a[i] - b[i] * beta) <= 1e-7 * Math.abs(b[i]) + 1e-12, w);
    }
  }
  const a = dn.param("blocks.2.W_attn"), b = post.param("blocks.2.W_attn");
  for (let r = 0; r < 4; r++) {
    for (let j = 0; j < 12; j++) {
      const want = j >= 8 ? b[r * 12 + j] * beta : b[r * 12 + j];
      assert(Math.abs(a[r * 12 + j] - want) <= 1e-7 * Math.abs(want) + 1e-12, `W_attn[${r},${j}]`);
    }
  }
});

Deno.test("zoo: the library's entry points take the zoo's fields; unknown values are RangeErrors naming the choices", async () => {
  const { train } = await import("../lib/train/trainer.ts");
  const { runStream } = await import("../lib/pipeline/pipeline.ts");
  const choices = '"pre", "post", "peri", "deepnorm" or "mix"';
  assertThrows(
    () => new GPT({ nLayer: 1, nHead: 1, nEmbd: 4, placement: "side" as never }),
    RangeError,
    choices,
  );
  const bad = { placement: "side" as never, workers: 1 };
  await assertRejects(() => train({ data: "abcdefgh".repeat(20), ...bad }), RangeError, choices);
  assertThrows(() => runStream(ReadableStream.from([]), bad), RangeError, choices);
  assertThrows(
    () => runStream(ReadableStream.from([]), { norm: "bn" as never }),
    RangeError,
    '"layer", "rms" or "dyt"',
  );
  // and a variant trains and streams
  const { summary } = await train({
    data: "the quick brown fox jumps over the lazy dog. ".repeat(20),
    layers: 2,
    heads: 2,
    dim: 8,
    block: 8,
    batch: 2,
    iters: 3,
    evalIters: 1,
    evalInterval: 3,
    placement: "deepnorm",
    norm: "rms",
    qkNorm: true,
    workers: 1,
  });
  assertEquals([summary.config.placement, summary.config.norm, summary.config.qkNorm], [
    "deepnorm",
    "rms",
    true,
  ]);
  assert(Number.isFinite(summary.final!.val_loss));
  const rows = new TextEncoder().encode("[1,2,3,4]\n[2,0,1,5]\n");
  const { readable, done } = runStream(ReadableStream.from([rows]), {
    workers: 1,
    layers: 2,
    heads: 2,
    seq: 2,
    placement: "peri",
    norm: "dyt",
    dytAlpha: 1,
  });
  await new Response(readable).arrayBuffer();
  const s = await done;
  assertEquals([s.config.placement, s.config.norm, s.config.dytAlpha], ["peri", "dyt", 1]);
});
