// Memory of a `train` run on the anchor config with 2 workers (started by bench/train_bench.ts):
// RSS after 20 steps and after 200 more, beside the buffers the run holds — parameters, AdamW
// m and v, the gradient sum, one gradient per worker, and each worker's activations. Flat RSS
// means a step allocates nothing that stays. Argument: the backend (default wasm).
import { Trainer } from "../lib/train/trainer.ts";
import { CharData } from "../lib/train/chardata.ts";
import { GPT } from "../lib/model/gpt.ts";
import type { Backend } from "../lib/kernels/backend.ts";

const backend = (Deno.args[0] ?? "wasm") as Backend;
const data = CharData.fromBytes(
  await Deno.readFile(new URL("../data/tinyshakespeare.txt", import.meta.url)),
);
const mib = (b: number) => (b / 2 ** 20).toFixed(1);
const rss0 = Deno.memoryUsage().rss;
const t = await Trainer.create(data, { evalInterval: 1e9 }, { workers: 2, backend });
for (let i = 0; i < 20; i++) await t.advance();
const before = Deno.memoryUsage().rss;
for (let i = 0; i < 200; i++) await t.advance();
const after = Deno.memoryUsage().rss;
const P = t.lm.params.length, c = t.config;
const act = GPT.bytesFor(t.lm.gpt.config, c.batch / c.shards, c.block).activations;
console.log(
  `memory (${backend}, 2 workers): ${P} parameters; parameters + AdamW m, v + gradient sum + ` +
    `2 worker gradients = ${mib(6 * P * 4)} MiB, activations ${mib(act)} MiB per worker; RSS ` +
    `${mib(rss0)} MiB at start, ${mib(before)} MiB after 20 steps, ${mib(after)} MiB after 220 ` +
    `(${after >= before ? "+" : ""}${mib(after - before)} MiB)`,
);
t.close();
