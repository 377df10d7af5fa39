// `normalize` on 1 GB: a [327680, 768] float32 .npy (1.0 GB, where start-up no longer
// dominates) on stdin, output to /dev/null, against a pass-through process (stdin → stdout
// through one 1 MiB buffer, bench/passthrough.ts) in the same run, default workers. Goals:
// ≥ 0.9× the pass-through's throughput without statistics, ≥ 0.6× with them.
import { genStream } from "../lib/io/gen.ts";
import { pipeFile } from "./pipe.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const file = await Deno.makeTempFile({ prefix: "lnstream-bench-", suffix: ".npy" });
{
  const f = await Deno.open(file, { write: true, truncate: true });
  await genStream({ tokens: 327680, dim: 768, seed: 1 }).pipeTo(f.writable);
}
const gb = (await Deno.stat(file)).size / 1e9;
// statistics to /dev/null: computed all the same, written in place (no temporary file)
const stats = "/dev/null";
const group = `normalize ${gb.toFixed(2)} GB`;
const deno = (args: string[]) => pipeFile(file, [Deno.execPath(), "run", ...args]);
Deno.bench({
  name: "pass-through stdin → stdout (baseline)",
  group,
  baseline: true,
  n: 10,
  warmup: 1,
  async fn() {
    await deno(["bench/passthrough.ts"]);
  },
});
for (const withStats of [false, true]) {
  Deno.bench({
    name: `normalize ${withStats ? "--stats FILE" : "--quiet (no statistics)"}`,
    group,
    n: 10,
    warmup: 1,
    async fn() {
      await deno([
        `--allow-read=${ROOT}`,
        `--allow-write=${stats}`,
        "mod.ts",
        "normalize",
        "--quiet",
        ...(withStats ? ["--stats", stats] : []),
      ]);
    },
  });
}
addEventListener("unload", () => {
  Deno.removeSync(file);
});
