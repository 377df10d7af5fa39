// TraceRun: the same records, logits, hidden states and summary for any number of workers; the
// 4 GiB check before any worker starts; and the memory of a trace with two workers on a 300 MB
// model — the parameters once, per worker one block's gradients and its activations.
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./std_assert.ts";
import { lnstream, peakRss, ROOT_PATH, underTime } from "./spawn.ts";
import { loadModel } from "../lib/train/load.ts";
import { traceBytes, type TracedSequence, TraceRun } from "../lib/train/trace_run.ts";
import { CharLM } from "../lib/train/lm.ts";
import { UsageError } from "../lib/io/errors.ts";
import { writeRandomGpt2 } from "./hf_random.ts";

const HF = `${ROOT_PATH}/tests/fixtures/hf`;

Deno.test("TraceRun: 1, 2 and 3 workers give the same records, logits, hidden states and summary", async (t) => {
  for (
    const [what, path, seqs] of [
      ["the built-in model", `${ROOT_PATH}/data/baby.st`, [12, 40, 3, 64, 1, 17, 30]],
      ["a Hugging Face GPT-2 file", `${HF}/f32/model.safetensors`, [8, 5, 1, 8, 2]],
    ] as const
  ) {
    await t.step(what, async () => {
      const ids = seqs.map((n, s) => Int32Array.from({ length: n }, (_, i) => (i * 7 + s) % 50));
      const outs: { seqs: TracedSequence[]; summary: unknown }[] = [];
      for (const workers of [1, 2, 3]) {
        const { model } = await loadModel(path, { tokenizer: false, gradients: "block" });
        const run = await TraceRun.start(model, { workers, top: 3, seq: Math.max(...seqs) });
        const got: TracedSequence[] = [];
        try {
          for await (const s of run.trace(ids, { logits: true, hidden: true })) got.push(s);
        } finally {
          run.close();
        }
        outs.push({ seqs: got, summary: run.summary() });
      }
      assertEquals(outs[0].seqs.map((s) => s.record.index), seqs.map((_, i) => i));
      assertEquals(outs[0].seqs.map((s) => s.record.tokens), [...seqs]);
      // a one-token sequence predicts nothing: no loss, no gradient
      for (const { record: r } of outs[0].seqs) {
        assert(r.layers.every((l) => (r.tokens > 1 ? l.grad_l2 > 0 : l.grad_l2 === 0)));
      }
      assertEquals(outs[1], outs[0]);
      assertEquals(outs[2], outs[0]);
    });
  }
  await t.step("activations kept for one block at a time: the same records", async () => {
    const ids = [Int32Array.of(1, 5, 9, 2, 7), Int32Array.of(3, 3, 1)];
    const recs = [];
    for (const activations of ["all", "block"] as const) {
      for (const workers of [1, 2]) {
        const { model } = await loadModel(`${HF}/f32/model.safetensors`, {
          tokenizer: false,
          gradients: "block",
        });
        const run = await TraceRun.start(model, { workers, activations });
        assertEquals(run.activations, activations);
        try {
          for await (const s of run.trace(ids, { hidden: true })) recs.push(s);
        } finally {
          run.close();
        }
      }
    }
    assertEquals(recs.slice(2, 4), recs.slice(0, 2));
    assertEquals(recs.slice(4, 6), recs.slice(0, 2));
    assertEquals(recs.slice(6, 8), recs.slice(0, 2));
  });
  await t.step(
    "a model with every gradient gives the same records as one with a block's",
    async () => {
      const ids = [Int32Array.of(1, 5, 9, 2, 7)];
      const recs = [];
      for (const gradients of ["full", "block"] as const) {
        const { model } = await loadModel(`${HF}/f32/model.safetensors`, {
          tokenizer: false,
          gradients,
        });
        const run = await TraceRun.start(model);
        for await (const s of run.trace(ids)) recs.push(s.record);
      }
      assertEquals(recs[1], recs[0]);
    },
  );
});

Deno.test("trace --workers: the same bytes out for 1 and 2 workers, on stdout and in --hidden/--logits", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lnstream-trace-workers-" });
  try {
    const text = "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east.\n";
    const out = [];
    for (const w of ["1", "2"]) {
      const r = await lnstream(
        [
          "trace",
          "--seq",
          "12",
          "--workers",
          w,
          "--hidden",
          `${dir}/h${w}.npy`,
          "--logits",
          `${dir}/l${w}.npy`,
        ],
        text,
        [`--allow-read=${dir}`, `--allow-write=${dir}`],
      );
      assertEquals(r.code, 0, r.stderr);
      out.push([
        r.text,
        await Deno.readFile(`${dir}/h${w}.npy`),
        await Deno.readFile(`${dir}/l${w}.npy`),
      ]);
    }
    assertEquals(out[1], out[0]);
    assertEquals(String(out[0][0]).trim().split("\n").length, 7 + 1); // 7 sequences of ≤ 12, the summary
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TraceRun keeps one block's activations at a time when every block's would pass 4 GiB", async () => {
  // 8 layers × 16 heads × T² attention maps: 2 GiB a thread at T = 2048, one layer's 256 MiB
  const c = { vocab: 8, block: 2048, nLayer: 8, nHead: 16, nEmbd: 64, placement: "pre" as const };
  const lm = new CharLM(c, undefined, { gradients: "block" });
  lm.init({ scheme: "gpt2", seed: 1 });
  assert(2 * traceBytes(c, 2048) > 2 ** 32 - lm.gpt.arena!.used);
  const run = await TraceRun.start(lm, { workers: 2, seq: 2048 });
  assertEquals(run.activations, "block");
  run.close();
  const small = await TraceRun.start(new CharLM(c, undefined, { gradients: "block" }), {
    workers: 2,
    seq: 256,
  });
  assertEquals(small.activations, "all");
  small.close();
});

Deno.test("TraceRun refuses, before any worker starts, sequences whose activations pass 4 GiB", async () => {
  // 64 heads × T² attention maps per layer: 8 GiB at T = 4096
  const lm = new CharLM({
    vocab: 8,
    block: 4096,
    nLayer: 2,
    nHead: 64,
    nEmbd: 64,
    placement: "pre",
  });
  assert(
    traceBytes({
      vocab: 8,
      block: 4096,
      nLayer: 2,
      nHead: 64,
      nEmbd: 64,
      placement: "pre" as const,
    }, 4096) > 2 ** 32,
  );
  const e = await assertRejects(() => TraceRun.start(lm, { seq: 4096, workers: 2 }), UsageError);
  const fit = Number(/`seq: (\d+)`/.exec(e.message)?.[1]);
  assert(fit > 1000 && fit < 4096, e.message);
  // the size it names fits; one more token does not
  const room = 2 ** 32 - lm.gpt.arena!.used;
  const c = { vocab: 8, block: 4096, nLayer: 2, nHead: 64, nEmbd: 64, placement: "pre" as const };
  // even one block's activations at a time (one layer's attention maps: 4 GiB) do not fit
  assert(traceBytes(c, 4096, "block") > room);
  assert(2 * traceBytes(c, fit, "block") <= room && 2 * traceBytes(c, fit + 1, "block") > room);
  const r = await lnstream(["trace", "--workers", "0"], "ROMEO");
  assertEquals(r.code, 64);
  assertStringIncludes(r.stderr, "--workers");
  // workers load lnstream's modules: without reading its folder, 77 naming the flag to add
  const text = "ROMEO:\nBut soft, what light through yonder window breaks?\n";
  const p = await lnstream(["trace", "--seq", "8", "--workers", "2"], text, [
    "--no-read",
    `--allow-read=${ROOT_PATH}/data`,
  ]);
  assertEquals(p.code, 77, p.stderr);
  assertStringIncludes(p.stderr, `run with --allow-read=${ROOT_PATH}`);
  assertEquals(p.stderr.trim().split("\n").length, 1);
});

Deno.test("trace --workers 2 on a 300 MB model: RSS ≤ parameters + per worker (a block's gradients, activations) + 200 MB", async (t) => {
  // a random GPT-2-small-shaped model with 6 blocks in the HF layout: 81 M parameters, 324 MB
  const L = 6, C = 768, V = 50257, P = 1024, T = 128;
  const dir = await Deno.makeTempDir({ prefix: "lnstream-trace-memory-" });
  try {
    let at: number;
    try {
      at = await writeRandomGpt2(dir, {
        layers: L,
        dim: C,
        heads: 12,
        vocab: V,
        positions: P,
        repeat: true,
      });
    } catch (e) {
      if (e instanceof Error && /space|quota/i.test(e.message)) {
        console.log(`skipped: no room for a 324 MB model in ${dir} (${e.message})`);
        return;
      }
      throw e;
    }
    const ids = [0, 1, 2].map((s) =>
      JSON.stringify(Array.from({ length: T }, (_, i) => (i * 7919 + s) % V))
    ).join("\n");
    await Deno.writeTextFile(`${dir}/ids.ndjson`, ids + "\n");
    const params = at; // float32 bytes of every tensor
    const config = {
      vocab: V,
      block: P,
      nLayer: L,
      nHead: 12,
      nEmbd: C,
      placement: "pre" as const,
    };
    const bound = params + 2 * traceBytes(config, T) + 200 * 2 ** 20;
    await t.step(`peak RSS ≤ ${(bound / 2 ** 20).toFixed(0)} MiB`, async () => {
      const out = await underTime([`--allow-read=${ROOT_PATH},${dir}`], [
        "trace",
        "--model",
        `${dir}/model.safetensors`,
        "--ids",
        "--workers",
        "2",
        "--quiet",
        `${dir}/ids.ndjson`,
      ], { stdout: "piped", stderr: "piped" }).output();
      const err = new TextDecoder().decode(out.stderr);
      assertEquals(out.code, 0, err);
      const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
      assertEquals(lines.length, 4);
      assert(JSON.parse(lines[2]).layers.every((l: { grad_l2: number }) => l.grad_l2 > 0));
      const rss = peakRss(err);
      assert(rss > params, `no peak RSS measured: ${err}`);
      assert(
        rss <= bound,
        `peak RSS ${(rss / 2 ** 20).toFixed(0)} MiB > ${(bound / 2 ** 20).toFixed(0)} MiB: ` +
          `parameters ${(params / 2 ** 20).toFixed(0)} MiB, per worker ` +
          `${(traceBytes(config, T) / 2 ** 20).toFixed(0)} MiB, and 200 MiB`,
      );
      // a full gradient alone would take it past the parameters twice over
      assert(rss < 2 * params, `${rss}`);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
