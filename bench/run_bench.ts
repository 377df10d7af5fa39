// A `run` stream over workers: 8192 tokens of C=768 through 2 pre-LN blocks (12 heads,
// sequences of 128, 8 per batch: 8 batches), forward + backward + statistics, with 1 and 2
// workers on the default (wasm) backend. Goals: 2 workers ≥ 1.8× one, and the run (default
// workers) ≥ 0.5× the speed of PyTorch doing the same stack's forward + backward on one thread
// in the same run (bench/torch_block.py with L=2 and the final LayerNorm, all 64 sequences in
// one pass; no I/O, no statistics) — a time ratio ≤ 2.
import { runStream } from "../lib/pipeline/pipeline.ts";
import { Rng } from "../lib/model/rng.ts";
import { torchBlock } from "./torch.ts";

const N = 8192, C = 768;
const x = new Float32Array(N * C);
new Rng(1).fillNormal(x);
const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${N}, ${C}), }`;
const dict = header + " ".repeat((64 - ((10 + header.length + 1) % 64)) % 64) + "\n";
const npy = new Uint8Array(10 + dict.length + x.byteLength);
npy.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, dict.length & 0xff, dict.length >> 8]);
for (let i = 0; i < dict.length; i++) npy[10 + i] = dict.charCodeAt(i);
npy.set(new Uint8Array(x.buffer), 10 + dict.length);

const group = `run stream: ${N} tokens, C=${C}, 2 layers, seq 128`;
const torch = await torchBlock({ B: N / 128, T: 128, C, H: 12, L: 2, final: true });
if (torch) {
  Deno.bench({
    name: "PyTorch 1 thread, the stack's fwd+bwd (baseline)",
    group,
    baseline: true,
    n: 3,
    warmup: 1,
    async fn() {
      await torch(true);
    },
  });
}
for (const workers of [1, 2]) {
  Deno.bench({
    name: `run --workers ${workers}${workers === 1 && !torch ? " (baseline)" : ""}`,
    group,
    baseline: workers === 1 && !torch,
    n: 3,
    warmup: 1,
    async fn() {
      const { readable, done } = runStream(ReadableStream.from([npy]), {
        workers,
        layers: 2,
        heads: 12,
        seq: 128,
      });
      await new Response(readable).arrayBuffer();
      await done;
    },
  });
}
