// `train`'s step on the anchor config (nanoGPT's shakespeare_char "baby GPT": 4 layers, 4 heads,
// C=128, block 64, batch 12, AdamW, clip 1.0) for 1 and 2 workers on every fast backend: batch,
// forward, cross-entropy through the tied head, backward, shards added in order, clipping,
// AdamW. The baseline is nanoGPT's step in PyTorch on one thread in this same run
// (bench/torch_train.py; first measured here at 53.5 ms/iter), so the ratios are
// lnstream/PyTorch time: the goal is ≤ 1 for the fastest backend on both workers. Without
// PyTorch (python3 with torch: Debian's python3-torch; PYTHON=… to choose) wasm on one worker
// is the baseline.
//
// Memory (bench/train_memory.ts, in a process of its own): RSS of a 2-worker run before and
// after 200 more steps, beside what the run holds: a step allocates nothing that stays.
import { Trainer } from "../lib/train/trainer.ts";
import { CharData } from "../lib/train/chardata.ts";
import type { Backend } from "../lib/kernels/backend.ts";
import { BLAS_AVAILABLE } from "../tests/golden.ts";
import { pythonLoop } from "./torch.ts";

const dataUrl = new URL("../data/tinyshakespeare.txt", import.meta.url);
const data = CharData.fromBytes(await Deno.readFile(dataUrl));
const anchor = { evalInterval: 1e9 }; // the defaults are the anchor; no evaluations past step 0

async function torchTrain() {
  const send = await pythonLoop("./torch_train.py", {
    layers: 4,
    heads: 4,
    dim: 128,
    block: 64,
    batch: 12,
    data: decodeURIComponent(dataUrl.pathname),
  });
  return send && (() => send("step"));
}

const torch = await torchTrain();
const group = "train step, anchor config (B=12 T=64 C=128 L=4)";
if (torch) {
  Deno.bench({
    name: "nanoGPT, PyTorch 1 thread (baseline)",
    group,
    baseline: true,
    async fn() {
      await torch();
    },
  });
}
const backends: Backend[] = BLAS_AVAILABLE ? ["wasm", "blas"] : ["wasm"];
for (const backend of backends) {
  for (const workers of [1, 2]) {
    const t = await Trainer.create(data, anchor, { workers, backend });
    await t.advance(); // step 0 and its evaluation
    const base = !torch && backend === "wasm" && workers === 1;
    Deno.bench({
      name: `lnstream ${backend}, ${workers} worker${workers > 1 ? "s" : ""}${
        base ? " (baseline)" : ""
      }`,
      group,
      baseline: base,
      async fn() {
        await t.advance();
      },
    });
    addEventListener("unload", () => t.close());
  }
}

// memory in a process of its own, so the trainers above do not count
{
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-ffi",
      decodeURIComponent(new URL("./train_memory.ts", import.meta.url).pathname),
      backends.at(-1)!,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  console.log(new TextDecoder().decode(r.stdout).trim());
}
