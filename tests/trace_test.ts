// trace, embed and run --model end to end: the built-in model, a Hugging Face GPT-2 file, the
// logits against PyTorch's, embed | run --model against trace --hidden, and bad input.
import { assert, assertEquals, assertStringIncludes } from "./std_assert.ts";
import { lnstream, ROOT_PATH } from "./spawn.ts";
import { parseNpyHeader } from "../lib/io/npy.ts";
import { loadModel } from "../lib/train/load.ts";
import { layerNormForward } from "../lib/kernels/layernorm.ts";
import { decodeWeights } from "../lib/train/checkpoint.ts";
import { Rng } from "../lib/model/rng.ts";
import { hashAt } from "../lib/model/rng.ts";
import { CharData } from "../lib/train/chardata.ts";

const HF = `${ROOT_PATH}/tests/fixtures/hf`;
const npy = (b: Uint8Array) => {
  const h = parseNpyHeader(b);
  return { shape: h.shape, data: new Float32Array(b.slice(h.dataOffset).buffer) };
};

Deno.test("trace on the built-in model: one record per sequence, a summary, LayerNorm's claims hold", async () => {
  const r = await lnstream(
    ["trace", "--seq", "16"],
    "ROMEO:\nBut soft, what light through yonder window breaks?\n",
  );
  assertEquals(r.code, 0, r.stderr);
  const lines = r.text.trim().split("\n").map((l) => JSON.parse(l));
  const seqs = lines.filter((l) => l.type === "sequence"), s = lines.at(-1);
  assertEquals(seqs.map((q) => q.tokens), [16, 16, 16, 10]);
  assertEquals(seqs.map((q) => q.index), [0, 1, 2, 3]);
  assertEquals(s.type, "summary");
  assertEquals(s.tokens, 58);
  for (const q of seqs) {
    assertEquals(q.layers.length, 4);
    for (const l of q.layers) {
      assert(
        l.resid.std > 0 && l.ln1.out_std > 0.5 && l.grad_l2 > 0 && l.top_channels.length === 5,
      );
    }
  }
  // each token's LN output before the affine: mean 0, std 1 up to ε; the order kept
  const ck = s.ln_checks;
  assertEquals(ck.tokens, 58 * 4);
  assertEquals(ck.order_kept, ck.tokens);
  assert(ck.max_mean_dev < 1e-5 && ck.max_std_dev_beyond_eps < 1e-5, JSON.stringify(ck));
  assert(ck.spearman_after_gain < 1 && ck.spearman_after_gain > 0.9);
  // the loss: every predicted token, the mean of the sequences' weighted by their predictions
  const want = seqs.reduce((a, q) => a + q.loss * (q.tokens - 1), 0) / (58 - 4);
  assert(Math.abs(s.loss - want) < 1e-12);
  assertStringIncludes(r.stderr, "order of the values kept in 232/232");
});

Deno.test("trace --svg: a heatmap cell per layer × channel, the top channels marked", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await lnstream(
      ["trace", "--svg", `${dir}/t.svg`, "--top", "2", "--quiet"],
      "ROMEO:\nBut soft, what light through yonder window breaks?\n",
      [`--allow-read=${dir}`, `--allow-write=${dir}`],
    );
    assertEquals(r.code, 0, r.stderr);
    const svg = await Deno.readTextFile(`${dir}/t.svg`);
    assert(svg.startsWith("<svg") && svg.trim().endsWith("</svg>"));
    // 4 layers × 128 channels (rows 27 px high; the colour scale's swatches are 10), 2 marks a
    // layer, one LN1 bar a layer
    assertEquals(
      (svg.match(/<rect x="\d+" y="\d+" width="\d+" height="27" fill="rgb/g) ?? []).length,
      512,
    );
    assertEquals((svg.match(/<title>layer \d, channel/g) ?? []).length, 8);
    assertEquals((svg.match(/fill="#4c78a8"/g) ?? []).length, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trace --ids on a Hugging Face GPT-2 file: the logits are PyTorch's", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const exp = JSON.parse(await Deno.readTextFile(`${HF}/f32/expected.json`));
    const r = await lnstream(
      [
        "trace",
        "--model",
        `${HF}/f32/model.safetensors`,
        "--ids",
        "--logits",
        `${dir}/l.npy`,
        "--quiet",
      ],
      JSON.stringify(exp.ids) + "\n",
      [`--allow-read=${dir}`, `--allow-write=${dir}`],
    );
    assertEquals(r.code, 0, r.stderr);
    const rec = JSON.parse(r.text.split("\n")[0]);
    assert(
      Math.abs(rec.loss - exp.f64.loss) < 1e-5 * exp.f64.loss,
      `${rec.loss} vs ${exp.f64.loss}`,
    );
    const { shape, data } = npy(await Deno.readFile(`${dir}/l.npy`));
    assertEquals(shape, [1, 8, 50]);
    let worst = 0;
    for (let i = 0; i < data.length; i++) {
      worst = Math.max(worst, Math.abs(data[i] - exp.f64.logits[i]));
    }
    assert(worst < 1e-5, `logits off by ${worst}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("embed | run --model equals trace --hidden: the embeddings, and ln_f of the last block", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // 82 characters: four sequences of 20 and one of 2
    const text =
      "First Citizen:\nBefore we proceed any further, hear me speak.\nAll:\nSpeak, speak.\n!!";
    const w = [`--allow-read=${dir}`, `--allow-write=${dir}`];
    const e = await lnstream(["embed", "--seq", "20", "-o", `${dir}/e.npy`], text, w);
    assertEquals(e.code, 0, e.stderr);
    const t = await lnstream(
      ["trace", "--seq", "20", "--hidden", `${dir}/h.npy`, "--quiet"],
      text,
      w,
    );
    assertEquals(t.code, 0, t.stderr);
    const emb = npy(await Deno.readFile(`${dir}/e.npy`)),
      hid = npy(await Deno.readFile(`${dir}/h.npy`));
    const C = 128, N = hid.shape[0], L = hid.shape[1] - 1, T = hid.shape[2];
    const tokens = text.length;
    assertEquals(emb.shape, [tokens, C]); // not whole sequences: one row a token
    assertEquals([tokens, N, L, T], [82, 5, 4, 20]);
    const run = await lnstream(
      ["run", `${dir}/e.npy`, "--model", `${ROOT_PATH}/data/baby.st`, "--seq", "20", "--quiet"],
      "",
      w,
    );
    assertEquals(run.code, 0, run.stderr);
    const y = npy(run.stdout).data;
    const { model } = await loadModel(`${ROOT_PATH}/data/baby.st`);
    let worstE = 0, worstY = 0;
    for (let n = 0; n < N; n++) {
      const len = Math.min(T, tokens - n * T);
      const h0 = hid.data.subarray(n * (L + 1) * T * C, (n * (L + 1) * T + len) * C);
      const hL = hid.data.subarray((n * (L + 1) + L) * T * C, ((n * (L + 1) + L) * T + len) * C);
      const e0 = emb.data.subarray(n * T * C, (n * T + len) * C);
      for (let i = 0; i < h0.length; i++) worstE = Math.max(worstE, Math.abs(h0[i] - e0[i]));
      const f = new Float32Array(len * C);
      layerNormForward(
        f,
        new Float32Array(len),
        new Float32Array(len),
        hL,
        model.gpt.param("ln_f_g"),
        model.gpt.param("ln_f_b"),
        len,
        C,
      );
      const yn = y.subarray(n * T * C, (n * T + len) * C);
      for (let i = 0; i < f.length; i++) worstY = Math.max(worstY, Math.abs(f[i] - yn[i]));
    }
    assertEquals(worstE, 0);
    assert(worstY < 1e-4, `run's output and ln_f(trace's last hidden) differ by ${worstY}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trace, embed, run --model: bad input ends with 64/65 and one line", async (t) => {
  const cases: [string[], string, number, string][] = [
    [["trace", "--model", `${ROOT_PATH}/none.st`], "x", 64, "no such file"],
    [
      ["trace", "--model", `${ROOT_PATH}/tests/fixtures/train/shakespeare_20k.txt`],
      "x",
      65,
      "not a safetensors file",
    ],
    [["trace"], "ROMEO: 日本", 65, "is not in the model's vocabulary"],
    [["trace", "--ids"], "[1, 2, 99]\n", 65, "line 1, id 2: 99 is not an id"],
    [["trace", "--ids"], "[1, 2]\n{}\n", 65, "line 2: not a non-empty array"],
    [["trace", "--model", `${HF}/f32/model.safetensors`], "hello", 64, "give token ids with --ids"],
    [
      ["trace", "--model", `${HF}/f16_prefix/model.safetensors`, "--ids"],
      "[1]\n",
      64,
      "--heads is required",
    ],
    [["trace", "--logits", "-"], "ROMEO", 64, "--logits writes a file"],
    [["trace", "--seq", "65"], "ROMEO", 64, "--seq"],
    [["embed", "--format", "raw"], "ROMEO", 64, "--format"],
    [["embed"], "", 64, "holds no tokens"],
    [
      ["run", "--model", `${ROOT_PATH}/data/baby.st`, "--layers", "2"],
      "",
      64,
      "--layers: the model's own",
    ],
  ];
  for (const [args, stdin, code, says] of cases) {
    await t.step(args.join(" "), async () => {
      const r = await lnstream(args, stdin);
      assertEquals(r.code, code, r.stderr);
      assertStringIncludes(r.stderr, says);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    });
  }
  await t.step(
    "an output that is the model (the built-in one too) is refused, the model intact",
    async () => {
      const before = await Deno.readFile(`${ROOT_PATH}/data/baby.st`);
      const w = [`--allow-write=${ROOT_PATH}`];
      for (const args of [["trace", "--hidden", "data/baby.st"], ["embed", "-o", "data/baby.st"]]) {
        const r = await lnstream(args, "ab", w);
        assertEquals(r.code, 64, r.stderr);
        assertStringIncludes(r.stderr, "is the same file as --model");
      }
      assertEquals(await Deno.readFile(`${ROOT_PATH}/data/baby.st`), before);
    },
  );
  await t.step("empty input: a summary of nothing, said so", async () => {
    const r = await lnstream(["trace"], "");
    assertEquals(r.code, 0, r.stderr);
    const s = JSON.parse(r.text.trim());
    assertEquals([s.type, s.tokens, s.layers[0].top_channels], ["summary", 0, []]);
    assertStringIncludes(r.stderr, "the input held no tokens");
  });
  await t.step("run --model on input of another width", async () => {
    const x = (await lnstream(["gen", "--tokens", "8", "--dim", "16"])).stdout;
    const r = await lnstream(["run", "--model", `${ROOT_PATH}/data/baby.st`], x);
    assertEquals(r.code, 64, r.stderr);
    assertStringIncludes(r.stderr, "the model has C = 128 channels, the input 16");
  });
});

Deno.test("the built-in model is train's defaults on tiny Shakespeare, at its documented val loss", async () => {
  const bytes = await Deno.readFile(`${ROOT_PATH}/data/baby.st`);
  const w = decodeWeights(bytes, "data/baby.st");
  assertEquals(w.step, 2000);
  assertEquals(w.valLoss, 1.8796528068361031); // README: 1.8797
  // the same evaluation as the trainer's at step 2000: 20 val batches drawn from (seed, step),
  // each the mean of its two shards
  const { model } = await loadModel(bytes);
  const data = CharData.fromBytes(await Deno.readFile(`${ROOT_PATH}/data/tinyshakespeare.txt`));
  const { batch: B, block: T, evalIters, seed } = w.config;
  const rng = new Rng(hashAt(seed, 2000, 2)), x = new Int32Array(B * T), y = new Int32Array(B * T);
  let sum = 0;
  for (let i = 0; i < evalIters; i++) {
    data.batch("val", rng, x, y, B, T);
    const h = B / 2;
    const a = model.loss(x.slice(0, h * T), y.slice(0, h * T), h, T);
    const b = model.loss(x.slice(h * T), y.slice(h * T), h, T);
    sum += (a * h * T + b * h * T) / (B * T);
  }
  assertEquals(sum / evalIters, w.valLoss);
});

Deno.test("Tracer: with γ = 1 and β = 0 no token is reordered; a negative γ reorders as a plain sort says", async () => {
  const { CharLM } = await import("../lib/train/lm.ts");
  const { Tracer } = await import("../lib/train/trace.ts");
  const lm = new CharLM({ vocab: 7, block: 8, nLayer: 2, nHead: 2, nEmbd: 8, placement: "pre" });
  lm.init({ scheme: "xavier", seed: 4 });
  const ids = Int32Array.of(1, 5, 2, 6, 0, 3);
  const plain = new Tracer(lm);
  plain.trace(ids, 0);
  let ck = plain.summary().ln_checks;
  assertEquals([ck.tokens, ck.order_kept, ck.reordered_by_gain, ck.spearman_after_gain], [
    12,
    12,
    0,
    1,
  ]);
  lm.gpt.param("blocks.1.ln1_g")[3] = -1; // one channel flipped: its value moves in the order
  const flipped = new Tracer(lm);
  flipped.trace(ids, 0);
  ck = flipped.summary().ln_checks;
  // layer 1's tokens, by a plain sort: the flipped value moves past others in some tokens
  const naiveRanks = (v: ArrayLike<number>) => {
    const idx = Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[a] - v[b]);
    const r = new Array<number>(v.length);
    idx.forEach((i, k) => (r[i] = k + 1));
    return r;
  };
  const x = lm.gpt.activation(0, "h"), y = lm.gpt.activation(1, "ln1_out");
  let moved = 0, rhoSum = 6; // layer 0's six tokens: ρ = 1
  for (let t = 0; t < 6; t++) {
    const rx = naiveRanks(x.subarray(t * 8, t * 8 + 8)),
      ry = naiveRanks(y.subarray(t * 8, t * 8 + 8));
    const d2 = rx.reduce((a, r, i) => a + (r - ry[i]) ** 2, 0);
    if (d2 > 0) moved++;
    rhoSum += 1 - (6 * d2) / (8 * 63);
  }
  assert(moved > 0);
  assertEquals([ck.order_kept, ck.reordered_by_gain], [12, moved]);
  assert(Math.abs(ck.spearman_after_gain - rhoSum / 12) < 1e-12);
  // the LN output before the affine still has mean 0 and std 1: the affine is undone exactly
  assert(ck.max_mean_dev < 1e-6 && ck.max_std_dev_beyond_eps < 1e-6, JSON.stringify(ck));
});
