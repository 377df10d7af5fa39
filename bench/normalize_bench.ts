// `normalize` throughput on a 201 MB .npy ([65536, 768] float32) file on stdin, with the
// default workers and with 1 and 2, with statistics (--stats: probe backward and gradient
// norms) and without (--quiet alone skips them), against a pass-through process (stdin →
// stdout, no work) in the same run: MB/s = 201.3 MB / time. Goal: ≥ 35 % of the
// pass-through's throughput with statistics (time ratio ≤ 2.9), ≥ 50 % without (≤ 2.0).
import { genStream } from "../lib/io/gen.ts";
import { pipeFile } from "./pipe.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const C = 768, N = 65536; // the [65536, 768] file (201 MB) the goals name
const file = await Deno.makeTempFile({ prefix: "lnstream-bench-", suffix: ".npy" });
{
  const f = await Deno.open(file, { write: true, truncate: true });
  await genStream({ tokens: N, dim: C, seed: 1 }).pipeTo(f.writable);
}
const mb = (await Deno.stat(file)).size / 1e6;

/** Runs `deno <args>` with the file on stdin and stdout to /dev/null. */
const pipeDeno = (args: string[]) => pipeFile(file, [Deno.execPath(), ...args]);

const group = `pipeline ${mb.toFixed(1)} MB`;
Deno.bench({
  name: `pass-through stdin → stdout (baseline, ${mb.toFixed(1)} MB)`,
  group,
  baseline: true,
  n: 8,
  warmup: 1,
  async fn() {
    await pipeDeno(["run", "bench/passthrough.ts"]);
  },
});
// statistics to /dev/null: computed all the same, written in place (no temporary file)
const stats = "/dev/null";
// the default worker count (one worker, more only for a stream still running after 250 ms),
// then one and two workers started at once
for (const workers of [0, 1, 2]) {
  for (const withStats of [true, false]) {
    const flags = workers === 0 ? [] : ["--workers", String(workers)];
    Deno.bench({
      name: `normalize ${workers === 0 ? "(default workers)" : flags.join(" ")}${
        withStats ? " --stats FILE" : " (no statistics)"
      }`,
      group,
      n: 8,
      warmup: 1,
      async fn() {
        await pipeDeno([
          "run",
          `--allow-read=${ROOT}`,
          `--allow-write=${stats}`,
          "mod.ts",
          "normalize",
          "--quiet",
          ...flags,
          ...(withStats ? ["--stats", stats] : []),
        ]);
      },
    });
  }
}
addEventListener("unload", () => {
  Deno.removeSync(file);
});
