import { assert, assertThrows } from "./std_assert.ts";
import { CharLM } from "../lib/train/lm.ts";
import { CharData } from "../lib/train/chardata.ts";
import { adamwUpdate } from "../lib/train/adamw.ts";
import { lrAt } from "../lib/train/schedule.ts";
import { Rng } from "../lib/model/rng.ts";
import { assertClose, numericGrad, randn } from "./golden.ts";

function draw(n: number, V: number, seed: number): Int32Array {
  return Int32Array.from(randn(n, seed), (v) => Math.floor(Math.abs(v) * 7919) % V);
}

Deno.test("CharLM: tied head, embeddings and stack gradients equal finite differences (float64)", async (t) => {
  for (const placement of ["pre", "post"] as const) {
    await t.step(`${placement}-LN`, () => {
      const V = 7, B = 2, T = 4, C = 8;
      const lm = new CharLM({
        vocab: V,
        block: 5,
        nLayer: 2,
        nHead: 2,
        nEmbd: C,
        placement,
        dtype: "float64",
      });
      lm.init({ scheme: "gpt2", seed: 5 });
      // embeddings large enough that the head's logits are not all ≈ 0
      const wte = lm.wte as Float64Array, wpe = lm.wpe as Float64Array;
      wte.set(randn(wte.length, 11, 0.5));
      wpe.set(randn(wpe.length, 12, 0.3));
      const P = lm.gpt.params as Float64Array, r = randn(P.length, 13, 0.05);
      for (let i = 0; i < P.length; i++) P[i] += r[i];
      const x = draw(B * T, V, 1), y = draw(B * T, V, 2);
      const loss = () => lm.loss(x, y, B, T);
      lm.zeroGrad();
      const L = lm.lossAndGrad(x, y, B, T);
      assert(Math.abs(L - loss()) === 0, "lossAndGrad and loss agree");
      assertClose(lm.dwte, numericGrad(loss, wte, 1e-6), 1e-6, "dwte (head + embedding)");
      assertClose(lm.dwpe, numericGrad(loss, wpe, 1e-6), 1e-6, "dwpe");
      assertClose(lm.gpt.grads, numericGrad(loss, P, 1e-6), 1e-6, "stack");
      // row 5 of wpe (position 4) is never used with T = 4: no gradient
      assert(lm.dwpe.subarray(4 * C).every((v) => v === 0));
    });
  }
});

Deno.test("CharLM: float32 on the wasm backend follows the float64 reference", () => {
  const cfg = { vocab: 11, block: 16, nLayer: 2, nHead: 2, nEmbd: 16, placement: "pre" as const };
  const a = new CharLM({ ...cfg, dtype: "float64" }), b = new CharLM({ ...cfg, backend: "wasm" });
  a.init({ scheme: "gpt2", seed: 9 });
  b.init({ scheme: "gpt2", seed: 9 });
  const x = draw(3 * 16, 11, 3), y = draw(3 * 16, 11, 4);
  const la = a.lossAndGrad(x, y, 3, 16), lb = b.lossAndGrad(x, y, 3, 16);
  assert(Math.abs(la - lb) < 1e-5 * la, `${la} vs ${lb}`);
  assertClose(b.dwte, a.dwte, 1e-3, "dwte");
  assertClose(b.gpt.grads, a.gpt.grads, 1e-3, "stack");
});

Deno.test("CharLM: a wrong shape or an id outside the vocabulary is a RangeError", () => {
  const lm = new CharLM({ vocab: 3, block: 4, nLayer: 1, nHead: 1, nEmbd: 4, placement: "pre" });
  lm.init({ scheme: "gpt2", seed: 1 });
  assertThrows(() => lm.loss(new Int32Array(5), new Int32Array(5), 1, 5), RangeError, "T ≤ 4");
  assertThrows(() => lm.loss(Int32Array.of(0, 3), Int32Array.of(0, 0), 1, 2), RangeError, "id 1");
  assertThrows(
    () => new CharLM({ vocab: 0, block: 4, nLayer: 1, nHead: 1, nEmbd: 4, placement: "pre" }),
    RangeError,
  );
});

Deno.test("CharLM + AdamW + schedule: 40 steps on a slice of Shakespeare lower the val loss", async () => {
  const text = await Deno.readTextFile(
    new URL("./fixtures/train/shakespeare_20k.txt", import.meta.url),
  );
  const d = CharData.fromText(text), B = 8, T = 32;
  const lm = new CharLM({
    vocab: d.size,
    block: T,
    nLayer: 2,
    nHead: 2,
    nEmbd: 32,
    placement: "pre",
    backend: "wasm",
  });
  lm.init({ scheme: "gpt2", seed: 1337 });
  const x = new Int32Array(B * T), y = new Int32Array(B * T);
  const groups = [
    [lm.gpt.params, lm.gpt.grads],
    [lm.wte, lm.dwte],
    [lm.wpe, lm.dwpe],
  ] as const;
  const moments = groups.map(([p]) => [new Float32Array(p.length), new Float32Array(p.length)]);
  const valLoss = () => {
    const rng = new Rng(7);
    let s = 0;
    for (let i = 0; i < 4; i++) {
      d.batch("val", rng, x, y, B, T);
      s += lm.loss(x, y, B, T);
    }
    return s / 4;
  };
  const before = valLoss(), rng = new Rng(1);
  const sched = { lr: 3e-3, minLr: 3e-4, warmup: 5, iters: 40 };
  for (let step = 0; step < 40; step++) {
    d.batch("train", rng, x, y, B, T);
    lm.zeroGrad();
    lm.lossAndGrad(x, y, B, T);
    groups.forEach(([p, g], i) => {
      const [m, v] = moments[i];
      adamwUpdate(p, g, m, v, p.length, { lr: lrAt(step, sched), t: step + 1 });
    });
  }
  const after = valLoss();
  assert(before > 3.9 && before < 4.5, `val loss at init ≈ ln 65 = 4.17, got ${before}`);
  assert(after < before - 0.5, `val loss ${before} → ${after}`);
});
