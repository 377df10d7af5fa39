import { assert, assertEquals, assertThrows } from "./std_assert.ts";
import { Arena } from "../lib/kernels/arena.ts";
import { GPT, type StackStats } from "../lib/model/gpt.ts";
import type { Floats } from "../lib/kernels/types.ts";
import { BLOCK_PARAMS } from "../lib/model/params.ts";
import { Rng } from "../lib/model/rng.ts";
import { layerNormBackward, layerNormForward } from "../lib/kernels/layernorm.ts";
import {
  arr,
  assertClose,
  checkGolden,
  dot,
  F32_BACKENDS,
  f32Tol,
  type Golden,
  goldenFiles,
  numericGrad,
  type Precision,
  randn,
  testBackend,
  withBackend,
  zeros,
} from "./golden.ts";

const dtypeOf = (p: Precision) => p === "f64" ? "float64" : "float32";

/** One golden block through a one-layer stack without final norm. */
function runBlock(doc: Golden, p: Precision) {
  const { B, T, C, n_head, eps, placement } = doc.config;
  const model = new GPT({
    nLayer: 1,
    nHead: n_head,
    nEmbd: C,
    placement,
    eps,
    finalNorm: false,
    dtype: dtypeOf(p),
    backend: p === "f64" ? "ts" : testBackend(),
  });
  for (const name of BLOCK_PARAMS) model.param(`blocks.0.${name}`).set(arr(doc.inputs[name], p));
  const R = arr(doc.inputs.R, p);
  const y = model.forward(arr(doc.inputs.x, p), B, T);
  model.zeroGrad();
  const dx = model.backward(R);
  const out: Record<string, ArrayLike<number>> = {
    "outputs.y": y,
    "outputs.loss": [dot(y, R)],
    "grads.x": dx,
  };
  for (const name of BLOCK_PARAMS) out[`grads.${name}`] = model.grad(`blocks.0.${name}`);
  const acts = Object.keys(doc.expected.f64.outputs).filter((k) => k.startsWith("act."));
  for (const k of acts) {
    // deno-lint-ignore no-explicit-any
    out[`outputs.${k}`] = model.activation(0, k.slice(4) as any);
  }
  return out;
}

/**
 * The float32 tolerance of the scalar loss Σ y·R. It is a sum of B·T·C products, so its error
 * follows from the outputs' elementwise bound: |Δloss| ≤ tol(y)·max|y|·Σ|R|. A float32 result
 * whose y is within tol(y) of torch's (any accumulation order, fused or not) meets it; torch's
 * own loss happens to sit closer, which made tol(loss) from f32_vs_f64 alone too tight for
 * any other valid float32 order of summation.
 */
function lossTol(doc: Golden) {
  return (key: string, tol: number) => {
    if (key !== "outputs.loss") return tol;
    const y = doc.expected.f32.outputs.y.data, R = doc.inputs.R.data;
    const loss = Math.abs(doc.expected.f32.outputs.loss.data[0]);
    const maxY = y.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const sumR = R.reduce((s, v) => s + Math.abs(v), 0);
    return Math.max(tol, (f32Tol(doc, "outputs.y") * maxY * sumR) / loss);
  };
}

Deno.test("GPT block (1-layer stack, no final norm) matches the golden blocks", async (t) => {
  for (const doc of goldenFiles("block")) {
    await checkGolden(t, doc, (p) => runBlock(doc, p), undefined, lossTol(doc));
  }
});

function stackModel(doc: Golden, p: Precision, from = 0) {
  const { L, C, n_head, eps, placement, final_ln } = doc.config;
  const model = new GPT({
    nLayer: L - from,
    nHead: n_head,
    nEmbd: C,
    placement,
    eps,
    finalNorm: final_ln,
    dtype: dtypeOf(p),
    backend: p === "f64" ? "ts" : testBackend(),
  });
  for (let l = from; l < L; l++) {
    for (const name of BLOCK_PARAMS) {
      model.param(`blocks.${l - from}.${name}`).set(arr(doc.inputs[`blocks.${l}.${name}`], p));
    }
  }
  if (final_ln) {
    model.param("ln_f_g").set(arr(doc.inputs.ln_f_g, p));
    model.param("ln_f_b").set(arr(doc.inputs.ln_f_b, p));
  }
  return model;
}

function runStack(doc: Golden, p: Precision) {
  const { L, B, T, C, final_ln } = doc.config;
  const model = stackModel(doc, p);
  const R = arr(doc.inputs.R, p);
  const y = model.forward(arr(doc.inputs.x, p), B, T);
  const loss = dot(y, R);
  const out: Record<string, ArrayLike<number>> = { "outputs.y": y.slice(), "outputs.loss": [loss] };
  out["outputs.h.0"] = model.activation(0, "h").slice();
  out[`outputs.h.${L - 1}`] = model.activation(L - 1, "h").slice();
  model.zeroGrad();
  out["grads.x"] = model.backward(R).slice();
  for (const l of [0, L - 1]) {
    for (const name of BLOCK_PARAMS) {
      out[`grads.blocks.${l}.${name}`] = model.grad(`blocks.${l}.${name}`);
    }
  }
  if (final_ln) {
    out["grads.ln_f_g"] = model.grad("ln_f_g");
    out["grads.ln_f_b"] = model.grad("ln_f_b");
  }
  const stats = model.layerStats();
  // dh.(L-1): through ln_f alone (or R itself without it)
  const n = B * T * C;
  const dhLast = zeros(p, n);
  if (final_ln) {
    // mean and rstd of h.(L-1) from the LayerNorm kernel, then its backward
    const h = out[`outputs.h.${L - 1}`] as Float64Array;
    const mean = zeros(p, B * T), rstd = zeros(p, B * T);
    layerNormForward(zeros(p, n), mean, rstd, h, null, null, B * T, C, doc.config.eps);
    layerNormBackward(dhLast, null, null, R, h, model.param("ln_f_g"), mean, rstd, B * T, C);
  } else dhLast.set(R);
  out[`outputs.dh.${L - 1}`] = dhLast;
  // dh.0: the input gradient of the sub-stack of blocks 1..L-1 fed with h.0
  const tail = stackModel(doc, p, 1);
  tail.forward(out["outputs.h.0"] as Float64Array, B, T);
  tail.zeroGrad();
  out["outputs.dh.0"] = tail.backward(R).slice();
  return { out, stats };
}

function assertStats(got: StackStats, exp: StackStats, tol: number, label: string) {
  const close = (a: number, b: number, what: string) =>
    assert(Math.abs(a - b) <= tol * Math.abs(b), `${label} ${what}: ${a} vs ${b}`);
  assertEquals(got.layer_stats.length, exp.layer_stats.length);
  for (const e of exp.layer_stats) {
    const g = got.layer_stats[e.layer];
    close(g.h_l2, e.h_l2, `layer ${e.layer} h_l2`);
    close(g.dh_l2, e.dh_l2, `layer ${e.layer} dh_l2`);
    for (const [name, s] of Object.entries(e.grad)) {
      const gs = g.grad[name as keyof typeof g.grad];
      assert(gs !== undefined, `layer ${e.layer}: no statistics of ${name}`);
      assertEquals(gs.numel, s!.numel);
      for (const k of ["l2", "rms", "max_abs"] as const) {
        close(gs[k], s![k], `layer ${e.layer} ${name}.${k}`);
      }
    }
  }
  close(got.dx_l2, exp.dx_l2, "dx_l2");
  if (exp.ln_f_grad) {
    for (const k of Object.keys(exp.ln_f_grad) as (keyof typeof exp.ln_f_grad)[]) {
      close(got.ln_f_grad![k]!.l2, exp.ln_f_grad[k]!.l2, `${k}.l2`);
      close(got.ln_f_grad![k]!.max_abs, exp.ln_f_grad[k]!.max_abs, `${k}.max_abs`);
    }
  } else assertEquals(got.ln_f_grad, undefined);
}

Deno.test("GPT stack matches the golden stacks, with layerStats", async (t) => {
  for (const doc of goldenFiles("stack")) {
    await checkGolden(t, doc, (p) => runStack(doc, p).out, undefined, lossTol(doc));
    await t.step(`${doc.name} layerStats float64`, () => {
      const e = doc.expected.f64;
      assertStats(runStack(doc, "f64").stats, e as unknown as StackStats, 1e-10, "f64");
    });
    for (const backend of F32_BACKENDS) {
      await t.step(`${doc.name} layerStats float32, ${backend}`, () => {
        const worst = Math.max(...Object.keys(doc.f32_vs_f64).map((k) => f32Tol(doc, k)));
        const e = doc.expected.f32;
        const got = withBackend(backend, () => runStack(doc, "f32").stats);
        assertStats(got, e as unknown as StackStats, worst, `f32 ${backend}`);
      });
    }
  }
});

Deno.test("2-layer stack gradients equal finite differences: both placements, both inits", async (t) => {
  for (const placement of ["pre", "post"] as const) {
    for (const scheme of ["gpt2", "xavier"] as const) {
      await t.step(`${placement}-LN, ${scheme}`, () => {
        const B = 2, T = 3, C = 8;
        const model = new GPT({ nLayer: 2, nHead: 2, nEmbd: C, placement, dtype: "float64" });
        model.init({ scheme, seed: 3 });
        // perturb LN and biases off their init so every path is exercised
        const rng = randn(model.params.length, 4, 0.05);
        for (let i = 0; i < model.params.length; i++) model.params[i] += rng[i];
        const x = randn(B * T * C, 5), R = randn(B * T * C, 6);
        const loss = () => dot(model.forward(x, B, T), R);
        loss();
        model.zeroGrad();
        const dx = model.backward(R).slice();
        const P = model.params as Float64Array;
        // every parameter of a small stack: exhaustive
        assertClose(model.grads, numericGrad(loss, P, 1e-6), 1e-6, "dparams");
        assertClose(dx, numericGrad(loss, x, 1e-6), 1e-7, "dx");
      });
    }
  }
});

Deno.test("2-layer float32 stack gradients equal finite differences on every backend", async (t) => {
  // float32 forward passes make finite differences noisy (ε·|L|/h), so a larger step and a
  // tolerance of 1% of the gradient's scale: a wrong gradient is off by far more than that
  const B = 2, T = 4, C = 16;
  for (const backend of F32_BACKENDS) {
    for (const placement of ["pre", "post"] as const) {
      await t.step(`${backend}, ${placement}-LN`, () => {
        const model = new GPT({ nLayer: 2, nHead: 2, nEmbd: C, placement, backend });
        model.init({ scheme: "xavier", seed: 3 });
        const bump = randn(model.params.length, 4, 0.05);
        for (let i = 0; i < model.params.length; i++) model.params[i] += bump[i];
        const x = Float32Array.from(randn(B * T * C, 5)),
          R = Float32Array.from(randn(B * T * C, 6));
        const loss = () => dot(model.forward(x, B, T), R);
        loss();
        model.zeroGrad();
        const dx = model.backward(R).slice();
        const grads = model.grads.slice();
        const h = 3e-3;
        const fd = (v: Float32Array, i: number) => {
          const keep = v[i];
          v[i] = keep + h;
          const up = loss();
          v[i] = keep - h;
          const down = loss();
          v[i] = keep;
          return (up - down) / (2 * h);
        };
        const pick = new Rng(7);
        const check = (name: string, v: Float32Array, g: ArrayLike<number>, n: number) => {
          let scale = 0;
          for (let i = 0; i < g.length; i++) scale = Math.max(scale, Math.abs(g[i]));
          for (let s = 0; s < n; s++) {
            const i = pick.int(v.length);
            const err = Math.abs(fd(v, i) - g[i]);
            assert(err <= 1e-2 * scale, `${name}[${i}]: ${g[i]} vs finite difference, off ${err}`);
          }
        };
        check("params", model.params as Float32Array, grads, 60);
        check("x", x, dx, 20);
      });
    }
  }
});

Deno.test("pre-LN one-layer stack with final norm = ln_f(block)", () => {
  const C = 8, B = 1, T = 3;
  const a = new GPT({ nLayer: 1, nHead: 2, nEmbd: C, placement: "pre", dtype: "float64" });
  const b = new GPT({
    nLayer: 1,
    nHead: 2,
    nEmbd: C,
    placement: "pre",
    finalNorm: false,
    dtype: "float64",
  });
  a.init({ scheme: "xavier", seed: 1 });
  b.params.set(a.params.subarray(0, b.params.length));
  const x = randn(B * T * C, 2);
  const ya = a.forward(x, B, T), yb = b.forward(x, B, T);
  for (let r = 0; r < B * T; r++) {
    const row = Array.from(yb.subarray(r * C, r * C + C));
    const m = row.reduce((s, v) => s + v, 0) / C;
    const sd = Math.sqrt(row.reduce((s, v) => s + (v - m) ** 2, 0) / C + 1e-5);
    for (let c = 0; c < C; c++) assert(Math.abs(ya[r * C + c] - (row[c] - m) / sd) < 1e-12);
  }
});

Deno.test("causal: false changes a block's output only for queries that see future keys", () => {
  const C = 8, B = 1, T = 4;
  const mk = (causal: boolean) => {
    const m = new GPT({
      nLayer: 1,
      nHead: 2,
      nEmbd: C,
      placement: "post",
      causal,
      dtype: "float64",
    });
    m.init({ scheme: "xavier", seed: 9 });
    return m.forward(randn(B * T * C, 10), B, T).slice();
  };
  const c = mk(true), e = mk(false);
  for (let t = 0; t < T; t++) {
    const d = Math.max(
      ...Array.from({ length: C }, (_, i) => Math.abs(c[t * C + i] - e[t * C + i])),
    );
    if (t === T - 1) assertEquals(d, 0);
    else assert(d > 1e-6);
  }
});

Deno.test("init: gpt2 and xavier scales, deterministic by seed", () => {
  const L = 4, C = 64;
  const m = new GPT({ nLayer: L, nHead: 4, nEmbd: C, placement: "pre" });
  const std = (a: ArrayLike<number>) => Math.sqrt(dot(a, a) / a.length);
  m.init({ scheme: "gpt2", seed: 1 });
  assert(Math.abs(std(m.param("blocks.0.W_fc")) / 0.02 - 1) < 0.03);
  assert(Math.abs(std(m.param("blocks.3.W_proj2")) / (0.02 / Math.sqrt(2 * L)) - 1) < 0.03);
  assertEquals(Array.from(m.param("blocks.1.ln2_g")), new Array(C).fill(1));
  assertEquals(Array.from(m.param("blocks.1.b_fc")), new Array(4 * C).fill(0));
  const first = m.params.slice();
  m.init({ scheme: "gpt2", seed: 1 });
  assertEquals(m.params, first);
  m.init({ scheme: "xavier", seed: 1 });
  assert(Math.abs(std(m.param("blocks.0.W_fc")) / Math.sqrt(2 / (5 * C)) - 1) < 0.03);
});

Deno.test("parameters on a SharedArrayBuffer can be attached without copying", () => {
  const cfg = {
    nLayer: 1,
    nHead: 1,
    nEmbd: 4,
    placement: "pre" as const,
    shared: true,
    backend: "ts" as const,
  };
  const a = new GPT(cfg);
  a.init({ scheme: "gpt2", seed: 5 });
  assert(a.params.buffer instanceof SharedArrayBuffer);
  const b = new GPT(cfg, { params: a.params.buffer });
  assertEquals(b.param("blocks.0.W_attn"), a.param("blocks.0.W_attn"));
  a.param("blocks.0.W_attn")[0] = 42;
  assertEquals(b.param("blocks.0.W_attn")[0], 42);
});

Deno.test("wasm: a model attached to another's arena shares its parameters", () => {
  const cfg = { nLayer: 1, nHead: 1, nEmbd: 4, placement: "pre" as const };
  const a = new GPT(cfg);
  a.init({ scheme: "gpt2", seed: 5 });
  assert(a.arena !== null && a.params.buffer instanceof SharedArrayBuffer);
  // as a worker does: a second view of the same memory, then the parameters' offset
  const arena = new Arena({ memory: a.arena!.memory });
  const b = new GPT(cfg, { arena, paramsAt: a.params.byteOffset });
  assertEquals(b.param("blocks.0.W_attn"), a.param("blocks.0.W_attn"));
  a.param("blocks.0.W_attn")[0] = 42;
  assertEquals(b.param("blocks.0.W_attn")[0], 42);
  // b's own buffers come after a's in the same memory
  assert(b.grads.byteOffset > a.grads.byteOffset);
  assertThrows(() => new GPT(cfg, { arena, paramsAt: 3 }), RangeError, "paramsAt");
});

Deno.test("bad configs and names are refused with a clear message", () => {
  assertThrows(
    () => new GPT({ nLayer: 1, nHead: 3, nEmbd: 8, placement: "pre" }),
    RangeError,
    "divide",
  );
  const m = new GPT({ nLayer: 1, nHead: 1, nEmbd: 4, placement: "pre" });
  assertThrows(() => m.param("blocks.1.W_fc"), RangeError, "no parameter");
  assertThrows(() => m.backward(new Float32Array(4)), Error, "forward first");
});

Deno.test("a forward pass too large for the memory throws and leaves the model usable", () => {
  for (const backend of ["wasm", "ts"] as const) {
    const m = new GPT({ nLayer: 2, nHead: 2, nEmbd: 16, placement: "pre", backend });
    m.init({ scheme: "gpt2", seed: 1 });
    const x = new Float32Array(4 * 16).map((_, i) => Math.sin(i));
    const before = m.forward(x, 1, 4).slice();
    if (backend === "wasm") {
      // B·T whose activations pass the 4 GiB WebAssembly memory
      const big = new Float32Array(16 * 2 ** 21);
      assertThrows(() => m.forward(big, 2 ** 21, 1), RangeError, "activations");
    } else {
      assertThrows(() => m.forward(x, 0, 4), RangeError);
    }
    assertEquals(m.forward(x, 1, 4), before, backend);
    m.zeroGrad();
    m.backward(m.forward(x, 1, 4).slice());
    assert(m.layerStats().layer_stats.every((l) => Number.isFinite(l.grad.W_fc.l2)));
  }
  assertThrows(
    () => new GPT({ nLayer: 1, nHead: 1, nEmbd: 4, placement: "pre", eps: -1 }),
    RangeError,
    "eps must be a positive number",
  );
});

Deno.test("gradients: \"block\": each block's gradients, read in onBlockGrad, equal the full buffer's", async (t) => {
  const { PLACEMENTS, NORM_KINDS } = await import("../lib/model/config.ts");
  for (const backend of ["ts", "wasm"] as const) {
    for (const placement of PLACEMENTS) {
      for (const norm of NORM_KINDS) {
        await t.step(`${backend} ${placement} ${norm}`, () => {
          const config = { nLayer: 3, nHead: 2, nEmbd: 8, placement, norm, backend, qkNorm: true };
          // one block's gradients, and one block's activations recomputed in the backward
          const full = new GPT(config);
          const blk = new GPT(config, { gradients: "block", activations: "block" });
          full.init({ scheme: "gpt2", seed: 5 });
          blk.params.set(full.params);
          const B = 2, T = 3, n = B * T * 8, rng = new Rng(9);
          const x = new Float32Array(n), dy = new Float32Array(n);
          rng.fillNormal(x, 1);
          rng.fillNormal(dy, 1);
          const y = full.forward(x, B, T).slice();
          const outs: Floats[] = [];
          for (let l = 0; l < 3; l++) outs.push(full.activation(l, "mlp_out").slice());
          full.zeroGrad();
          full.backward(dy);
          const seenF: number[] = [];
          blk.onBlockForward = (l) => {
            seenF.push(l);
            // each block's activations, readable as its forward ends
            assertEquals(blk.activation(l, "mlp_out"), outs[l]);
          };
          assertEquals(blk.forward(x, B, T), y);
          assertEquals(seenF, [0, 1, 2]);
          blk.onBlockForward = null;
          assertThrows(() => blk.activation(0, "mlp_out"), RangeError, "onBlockForward");
          assertEquals(blk.activation(0, "h"), full.activation(0, "h"));
          blk.zeroGrad();
          const seen: number[] = [];
          blk.onBlockGrad = (l) => {
            seen.push(l);
            // bit for bit: the block's gradients accumulate from zero either way
            assertEquals(blk.blockGrads(l), full.blockGrads(l), `block ${l}`);
            assertEquals(blk.grad(`blocks.${l}.W_fc`), full.grad(`blocks.${l}.W_fc`));
          };
          const dx = blk.backward(dy);
          assertEquals(seen, [2, 1, 0]);
          assertEquals(dx, full.backward(dy).map((v) => v)); // the same ∂L/∂x
          // a third of the stack's gradients (and the final norm's) instead of all of them
          assert(blk.grads.length < full.grads.length / 2);
        });
      }
    }
  }
  await t.step("what a block-gradient model cannot do", () => {
    const m = new GPT({ nLayer: 2, nHead: 1, nEmbd: 4, placement: "pre" }, { gradients: "block" });
    assertThrows(() => m.layerStats(), RangeError, "block");
    assertThrows(() => m.useGrads(new Float32Array(m.params.length)), RangeError, "block");
    assertThrows(() => m.blockGrads(2), RangeError, "no block 2");
    assertThrows(
      () =>
        new GPT({ nLayer: 1, nHead: 1, nEmbd: 4, placement: "pre" }, { gradients: "x" as "block" }),
      RangeError,
      "full",
    );
  });
});
