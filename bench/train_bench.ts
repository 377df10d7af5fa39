// One training step of the anchor config (nanoGPT's shakespeare_char "baby GPT": 4 layers,
// 4 heads, C=128, block 64, batch 12), one thread, per backend: draw a batch, forward, cross-
// entropy through the tied head, backward, AdamW over every parameter. Reported as ms/iter
// (nanoGPT with PyTorch on one thread here: 53.5 ms/iter). The baseline of each group is the
// stack's forward+backward alone on the same backend in this same run, so the ratio is what
// the embeddings, the head, the loss and the optimizer add on top of the blocks.
import { CharLM } from "../lib/train/lm.ts";
import { CharData } from "../lib/train/chardata.ts";
import { adamwUpdate } from "../lib/train/adamw.ts";
import { Rng } from "../lib/model/rng.ts";
import type { Backend } from "../lib/kernels/backend.ts";
import { BLAS_AVAILABLE } from "../tests/golden.ts";

const data = CharData.fromBytes(
  await Deno.readFile(new URL("../data/tinyshakespeare.txt", import.meta.url)),
);
const B = 12, T = 64, C = 128;
const backends: Backend[] = BLAS_AVAILABLE ? ["wasm", "blas"] : ["wasm"];

for (const backend of backends) {
  const lm = new CharLM({
    vocab: data.size,
    block: T,
    nLayer: 4,
    nHead: 4,
    nEmbd: C,
    placement: "pre",
    backend,
  });
  lm.init({ scheme: "gpt2", seed: 1337 });
  const x = new Int32Array(B * T), y = new Int32Array(B * T), rng = new Rng(1);
  const groups = [[lm.gpt.params, lm.gpt.grads], [lm.wte, lm.dwte], [lm.wpe, lm.dwpe]] as const;
  const moments = groups.map(([p]) => [new Float32Array(p.length), new Float32Array(p.length)]);
  let t = 0;
  const emb = new Float32Array(B * T * C), dy = new Float32Array(B * T * C);
  new Rng(2).fillNormal(emb);
  new Rng(3).fillNormal(dy);
  const group = `train step ${backend}`;
  Deno.bench({
    name: `stack fwd+bwd only (baseline, ${backend})`,
    group,
    baseline: true,
    fn() {
      lm.gpt.zeroGrad();
      lm.gpt.forward(emb, B, T);
      lm.gpt.backward(dy);
    },
  });
  Deno.bench({
    name: `train step: batch, fwd, loss, bwd, AdamW (${backend}; nanoGPT 53.5 ms)`,
    group,
    fn() {
      data.batch("train", rng, x, y, B, T);
      lm.zeroGrad();
      lm.lossAndGrad(x, y, B, T);
      t++;
      groups.forEach(([p, g], i) => {
        const [m, v] = moments[i];
        adamwUpdate(p, g, m, v, p.length, { lr: 1e-3, t, weightDecay: 0.1 });
      });
    },
  });
}
