// trace's forward + backward on GPT-2 small's shape (12 layers, C 768, 12 heads, vocab 50257, one
// sequence of T = 256 tokens, random weights in the HF layout written once to a temporary file)
// against PyTorch 1.13 doing the same forward + backward of the next-token loss in the same run
// (bench/torch_gpt2.py): one thread against one thread, and trace's default against PyTorch on
// the machine's two cores: `trace --workers 2` (two sequences at a time, one per worker, on the
// one copy of the parameters) against PyTorch's two threads on the same two sequences, one after
// the other. Goal (README): ≥ 0.8× PyTorch's speed with the same threads.
import { loadModel } from "../lib/train/load.ts";
import { Tracer } from "../lib/train/trace.ts";
import { TraceRun } from "../lib/train/trace_run.ts";
import { BLAS_AVAILABLE } from "../tests/golden.ts";
import { pythonLoop } from "./torch.ts";
import { writeRandomGpt2 } from "../tests/hf_random.ts";

const T = 256, L = 12, C = 768, V = 50257, P = 1024;
// a random GPT-2 small in the HF layout (F32, with config.json)
const dir = await Deno.makeTempDir({ prefix: "lnstream-bench-gpt2-" });
await writeRandomGpt2(dir, { layers: L, dim: C, heads: 12, vocab: V, positions: P });
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

const ids = Int32Array.from({ length: T }, (_, i) => (i * 7919) % V);
const group = `GPT-2 small, forward + backward of the next-token loss, T = ${T}`;
for (const threads of [1, 2]) {
  for (const embedGrad of [true, false]) {
    if (threads === 2 && !embedGrad) continue;
    const torch = await pythonLoop("./torch_gpt2.py", { T, threads, embed_grad: embedGrad });
    if (!torch) continue;
    Deno.bench({
      name: `PyTorch ${threads} thread${threads > 1 ? "s" : ""}` +
        (embedGrad ? "" : ", the blocks' gradients only (as trace)") +
        (threads === 1 && embedGrad ? " (baseline)" : ""),
      group,
      baseline: threads === 1 && embedGrad,
      n: 5,
      warmup: 1,
      async fn() {
        await torch("fwdbwd");
      },
    });
  }
}
for (const backend of ["wasm", ...(BLAS_AVAILABLE ? ["blas" as const] : [])] as const) {
  const { model } = await loadModel(`${dir}/model.safetensors`, { backend, tokenizer: false });
  const y = Int32Array.from(ids, (_, i) => (i + 1 < T ? ids[i + 1] : -1));
  Deno.bench({
    name: `lnstream ${backend}, 1 thread: forward + backward, every gradient`,
    group,
    n: 5,
    warmup: 1,
    fn() {
      model.zeroGrad();
      model.lossAndGrad(ids, y, 1, T);
    },
  });
  // what trace runs: the blocks' gradients one block at a time, and the statistics
  const { model: traced } = await loadModel(`${dir}/model.safetensors`, {
    backend,
    tokenizer: false,
    gradients: "block",
  });
  const tracer = new Tracer(traced);
  Deno.bench({
    name: `lnstream ${backend}, 1 thread: trace (blocks' gradients, statistics)`,
    group,
    n: 5,
    warmup: 1,
    fn() {
      tracer.trace(ids, 0);
    },
  });
}

// two threads: two sequences per iteration
const group2 = `GPT-2 small, 2 sequences of T = ${T}: forward + backward, 2 threads`;
for (const embedGrad of [false, true]) {
  const torch = await pythonLoop("./torch_gpt2.py", { T, threads: 2, embed_grad: embedGrad });
  if (!torch) continue;
  Deno.bench({
    name: `PyTorch 2 threads, ${
      embedGrad ? "every gradient" : "the blocks' gradients only (baseline)"
    }`,
    group: group2,
    baseline: !embedGrad,
    n: 5,
    warmup: 1,
    async fn() {
      await torch("fwdbwd");
      await torch("fwdbwd");
    },
  });
}
for (const backend of ["wasm", ...(BLAS_AVAILABLE ? ["blas" as const] : [])] as const) {
  const { model } = await loadModel(`${dir}/model.safetensors`, {
    backend,
    tokenizer: false,
    gradients: "block",
  });
  const run = await TraceRun.start(model, { workers: 2, seq: T });
  addEventListener("unload", () => run.close());
  Deno.bench({
    name: `lnstream ${backend}, trace --workers 2`,
    group: group2,
    n: 5,
    warmup: 1,
    async fn() {
      for await (const _ of run.trace([ids, ids])) { /* the records */ }
    },
  });
}
