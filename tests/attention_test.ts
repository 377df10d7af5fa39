import { assert, assertEquals } from "./std_assert.ts";
import { attentionBackward, attentionForward } from "../lib/kernels/attention.ts";
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
  testKernels,
  zeros,
} from "./golden.ts";

/** nanoGPT's CausalSelfAttention from the kernels: qkv matmul, attention, projection. */
function attentionModule(doc: Golden, p: Precision) {
  const k = testKernels(); // the backend under test
  const { B, T, C, n_head: NH } = doc.config;
  const i = doc.inputs, BT = B * T;
  const x = arr(i.x, p), Wa = arr(i.W_attn, p), ba = arr(i.b_attn, p);
  const Wp = arr(i.W_proj, p), bp = arr(i.b_proj, p), dy = arr(i.dy, p);
  const qkv = zeros(p, BT * 3 * C),
    att = zeros(p, B * NH * T * T),
    yh = zeros(p, BT * C),
    y = zeros(p, BT * C);
  k.matmulForward(qkv, x, Wa, ba, BT, C, 3 * C);
  k.attentionForward(yh, att, qkv, B, T, C, NH);
  k.matmulForward(y, yh, Wp, bp, BT, C, C);
  const dyh = zeros(p, BT * C), dqkv = zeros(p, BT * 3 * C), dx = zeros(p, BT * C);
  const dWa = zeros(p, C * 3 * C), dba = zeros(p, 3 * C), dWp = zeros(p, C * C), dbp = zeros(p, C);
  k.matmulBackward(dyh, dWp, dbp, dy, yh, Wp, BT, C, C);
  k.attentionBackward(dqkv, dyh, qkv, att, B, T, C, NH);
  k.matmulBackward(dx, dWa, dba, dqkv, x, Wa, BT, C, 3 * C);
  return {
    "outputs.y": y,
    "outputs.att": att,
    "outputs.y_heads": yh,
    "grads.x": dx,
    "grads.W_attn": dWa,
    "grads.b_attn": dba,
    "grads.W_proj": dWp,
    "grads.b_proj": dbp,
  };
}

Deno.test("attention matches the PyTorch golden vectors", async (t) => {
  for (const doc of goldenFiles("attention")) {
    await checkGolden(t, doc, (p) => attentionModule(doc, p));
  }
});

Deno.test("attention backward equals central finite differences, causal and not", () => {
  for (const causal of [true, false]) {
    const B = 2, T = 4, C = 6, NH = 2;
    const qkv = randn(B * T * 3 * C, 5), R = randn(B * T * C, 6);
    const att = new Float64Array(B * NH * T * T), out = new Float64Array(B * T * C);
    const loss = () => {
      attentionForward(out, att, qkv, B, T, C, NH, causal);
      return dot(out, R);
    };
    loss();
    const d = new Float64Array(qkv.length);
    attentionBackward(d, R, qkv, att, B, T, C, NH, causal);
    assertClose(d, numericGrad(loss, qkv), 1e-8, `dqkv causal=${causal}`);
  }
});

Deno.test("non-causal attention differs from causal only where a query sees future keys", () => {
  const B = 2, T = 5, C = 8, NH = 2;
  const qkv = randn(B * T * 3 * C, 9);
  const run = (causal: boolean) => {
    const att = new Float64Array(B * NH * T * T), out = new Float64Array(B * T * C);
    attentionForward(out, att, qkv, B, T, C, NH, causal);
    return { out, att };
  };
  const c = run(true), e = run(false);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      let diff = 0;
      for (let i = 0; i < C; i++) {
        diff = Math.max(diff, Math.abs(c.out[(b * T + t) * C + i] - e.out[(b * T + t) * C + i]));
      }
      if (t === T - 1) assertEquals(diff, 0, `last query sees every key in both`);
      else assert(diff > 1e-6, `query ${t} should differ (diff ${diff})`);
    }
  }
  // causal rows are zero above the diagonal; encoder rows are not
  assertEquals(c.att[1], 0);
  assert(e.att[1] > 0);
});
