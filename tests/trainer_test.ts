import { assert, assertEquals, assertRejects, assertThrows } from "./std_assert.ts";
import { CharData } from "../lib/train/chardata.ts";
import {
  divergedAt,
  train,
  type TrainConfig,
  Trainer,
  type TrainRecord,
} from "../lib/train/trainer.ts";
import { decodeCheckpoint, encodeCheckpoint } from "../lib/train/checkpoint.ts";
import { CharLM } from "../lib/train/lm.ts";
import { adamwUpdate } from "../lib/train/adamw.ts";
import { lrAt } from "../lib/train/schedule.ts";
import { hashAt, Rng } from "../lib/model/rng.ts";
import { BLAS_AVAILABLE } from "./golden.ts";

const text = await Deno.readTextFile(
  new URL("./fixtures/train/shakespeare_20k.txt", import.meta.url),
);
const data = CharData.fromText(text);
const small: Partial<TrainConfig> = {
  layers: 2,
  heads: 2,
  dim: 32,
  block: 32,
  batch: 6,
  iters: 16,
  warmup: 3,
  lr: 3e-3,
  minLr: 3e-4,
  evalInterval: 5,
  evalIters: 2,
  shards: 3,
};

/** The records without their wall times, NaN as null: what must repeat bit for bit. */
const numbers = (h: readonly TrainRecord[]) =>
  JSON.parse(JSON.stringify(h.map((r) => r.type === "step" ? { ...r, ms: 0 } : r)));

async function run(
  settings: Partial<TrainConfig>,
  workers: number,
  backend: "wasm" | "ts" | "blas" = "wasm",
) {
  const t = await Trainer.create(data, settings, { workers, backend });
  try {
    while (!t.done) await t.advance();
  } finally {
    t.close();
  }
  return t;
}

Deno.test("Trainer: the same seed gives the same curve, bit for bit, on 1, 2 and 3 workers", async (t) => {
  const backends = BLAS_AVAILABLE ? ["wasm", "blas", "ts"] as const : ["wasm", "ts"] as const;
  for (const backend of backends) {
    await t.step(backend, async () => {
      const one = numbers((await run(small, 1, backend)).history);
      for (const w of [2, 3]) assertEquals(numbers((await run(small, w, backend)).history), one);
    });
  }
});

Deno.test("Trainer: the log has a step record per step and an eval every interval and at the last step", async () => {
  const t = await run(small, 2);
  const steps = t.history.filter((r) => r.type === "step");
  const evals = t.history.filter((r) => r.type === "eval");
  assertEquals(steps.map((r) => r.step), [...Array(16).keys()]);
  assertEquals(evals.map((r) => r.step), [0, 5, 10, 15, 16]);
  for (const r of steps) {
    assertEquals(Object.keys(r), ["type", "step", "lr", "loss", "grad_norm", "ms"]);
    assert(r.lr === lrAt(r.step, small as TrainConfig));
    assert(Number.isFinite(r.loss) && r.grad_norm > 0 && r.ms >= 0);
  }
  for (const e of evals) {
    assertEquals(Object.keys(e), ["type", "step", "train_loss", "val_loss", "layers"]);
    if (e.type !== "eval") continue;
    assertEquals(e.layers.length, 2);
    for (const l of e.layers) {
      const sq = Object.values(l.grad).reduce((a, v) => a + v * v, 0);
      assert(Math.abs(Math.sqrt(sq) - l.l2) <= 1e-9 * l.l2, "a layer's l2 is its parameters'");
    }
  }
  const first = evals[0], last = evals.at(-1)!;
  assert(first.type === "eval" && last.type === "eval");
  assert(last.val_loss < first.val_loss - 0.3, `val ${first.val_loss} → ${last.val_loss}`);
});

Deno.test("Trainer: one step equals the sum of the shards' gradients, clipped, then AdamW by hand", async () => {
  const cfg = { ...small, iters: 1, evalInterval: 100, clip: 0.5, weightDecay: 0.1 };
  const t = await run(cfg, 2, "ts");
  // by hand: the whole batch's gradient in one piece (float64 sums differ from the shards' by
  // rounding only), clipped to 0.5, AdamW with decay on matrices and embeddings only
  const ref = new CharLM({
    vocab: data.size,
    block: 32,
    nLayer: 2,
    nHead: 2,
    nEmbd: 32,
    placement: "pre",
    dtype: "float64",
  });
  ref.init({ scheme: "gpt2", seed: 1337 });
  const B = 6, T = 32, x = new Int32Array(B * T), y = new Int32Array(B * T);
  data.batch("train", new Rng(hashAt(1337, 0, 0)), x, y, B, T);
  ref.zeroGrad();
  const loss = ref.lossAndGrad(x, y, B, T);
  const g = ref.grads as Float64Array;
  let sq = 0;
  for (const v of g) sq += v * v;
  const norm = Math.sqrt(sq);
  const step = t.history.find((r) => r.type === "step")!;
  assert(step.type === "step");
  assert(Math.abs(step.loss - loss) < 1e-5, `${step.loss} vs ${loss}`);
  assert(Math.abs(step.grad_norm - norm) < 1e-4 * norm, `${step.grad_norm} vs ${norm}`);
  const f = 0.5 / (norm + 1e-6);
  for (let i = 0; i < g.length; i++) g[i] *= f;
  const m = new Float64Array(g.length), v = new Float64Array(g.length);
  for (const s of ref.layout) {
    const a = s.offset, b = a + s.size;
    adamwUpdate(
      ref.params.subarray(a, b),
      g.subarray(a, b),
      m.subarray(a, b),
      v.subarray(a, b),
      s.size,
      {
        lr: lrAt(0, cfg as TrainConfig),
        weightDecay: s.shape.length >= 2 ? 0.1 : 0,
        t: 1,
      },
    );
  }
  let worst = 0;
  for (let i = 0; i < g.length; i++) {
    worst = Math.max(worst, Math.abs(t.lm.params[i] - ref.params[i]));
  }
  // the first Adam step moves every parameter by about lr; float32 vs float64 is far below
  assert(worst < 1e-6, `parameters differ by ${worst}`);
});

Deno.test("Trainer: a resumed run continues to the same curve as one never stopped", async () => {
  const whole = await run(small, 2);
  const t = await Trainer.create(data, small, { workers: 2 });
  while (t.step < 7) await t.advance();
  t.close();
  const bytes = encodeCheckpoint(t.state());
  const state = decodeCheckpoint(bytes);
  assertEquals(state.step, 7);
  const again = await Trainer.create(data, state.config, { workers: 1 }, state);
  while (!again.done) await again.advance();
  again.close();
  assertEquals(numbers(again.history), numbers(whole.history));
  assertEquals(again.lm.params, whole.lm.params);
});

Deno.test("Trainer: bad settings are refused before any work (exit 64)", async () => {
  const bad: [Partial<TrainConfig>, string][] = [
    [{ lr: 0 }, "lr"],
    [{ lr: -1e-3 }, "lr"],
    [{ minLr: 1e-2 }, "minLr"],
    [{ heads: 3 }, "multiple of `heads`"],
    [{ shards: 0 }, "shards"],
    [{ block: 100000 }, "block"],
    [{ beta2: 1 }, "beta2"],
  ];
  for (const [s, what] of bad) {
    const e = await assertRejects(() => Trainer.create(data, { ...small, ...s }));
    assert((e as Error).message.includes(what), (e as Error).message);
    assertEquals((e as { exitCode?: number }).exitCode, 64);
  }
  const state = (await Trainer.create(data, small)).state();
  const other = CharData.fromText("abc ".repeat(1000));
  await assertRejects(() => Trainer.create(other, state.config, {}, state), Error, "vocabulary");
});

Deno.test("checkpoint: truncated, altered or foreign bytes are a DataError naming the file", async () => {
  const t = await Trainer.create(data, { ...small, iters: 1 });
  const good = encodeCheckpoint(t.state());
  t.close();
  const cases: Uint8Array[] = [
    good.subarray(0, 5),
    good.subarray(0, good.length - 4),
    new TextEncoder().encode("not a checkpoint at all, just text"),
    (() => {
      const b = good.slice();
      b[12] ^= 0x20; // break the JSON header
      return b;
    })(),
  ];
  for (const b of cases) {
    const e = assertThrows(() => decodeCheckpoint(b, "ck.st"));
    assertEquals((e as { exitCode?: number }).exitCode, 65);
    assert((e as Error).message.startsWith("ck.st is not an lnstream checkpoint"));
  }
  // the header is plain safetensors: JSON after an 8-byte length, tensors by name
  const n = Number(new DataView(good.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(good.subarray(8, 8 + n)));
  assertEquals(header.wte.dtype, "F32");
  assertEquals(header.wte.shape, [data.size, 32]);
  assert("adam_m.blocks.1.W_fc" in header && "adam_v.wpe" in header);
});

Deno.test("divergedAt: non-finite loss, or a 10-step mean clearly above the start", () => {
  const rec = (step: number, loss: number): TrainRecord => ({
    type: "step",
    step,
    lr: 1,
    loss,
    grad_norm: 1,
    ms: 0,
  });
  const falling = Array.from({ length: 30 }, (_, i) => rec(i, 4 - i * 0.05));
  assertEquals(divergedAt(falling), null);
  assertEquals(divergedAt([...falling, rec(30, Infinity)]), 30);
  // the start is step 0's 3.9; from step 16 the loss is 5: the window 13..22 (3 × 3.9, 7 × 5)
  // is the first whose mean (4.67) is 4 standard errors (4 × 0.168) above it
  const rising = Array.from({ length: 30 }, (_, i) => rec(i, 4 + (i > 15 ? 1 : -0.1)));
  assertEquals(divergedAt(rising), 22);
  // a run that does not move: batch noise around the start (step 0: 4.17) is not divergence
  const rng = new Rng(5);
  const noise = Array.from({ length: 500 }, (_, i) => (i === 0 ? 0 : 0.03 * rng.normal()));
  assertEquals(divergedAt(noise.map((e, i) => rec(i, 4.17 + e))), null);
  // …while a steady climb of 0.01 per step on that noise is caught within a few windows
  const at = divergedAt(noise.map((e, i) => rec(i, 4.17 + e + 0.01 * i)));
  assert(at !== null && at < 40, `climb caught at ${at}`);
});

Deno.test("train(): sampling is seeded and stays in the vocabulary", async () => {
  const { trainer } = await train({ data, ...small, iters: 4, workers: 1 });
  const a = trainer.sample(80, { seed: 5 }), b = trainer.sample(80, { seed: 5 });
  assertEquals(a, b);
  assertEquals(Array.from(a).length, 80);
  assert(Array.from(a).every((ch) => data.vocab.includes(ch)));
  assert(trainer.sample(80, { seed: 6 }) !== a);
});
