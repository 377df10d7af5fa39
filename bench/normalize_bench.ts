// `normalize` throughput on a 256 MiB .npy ([87382, 768] float32) piped through
// stdin, with 1 and 2 workers, against a pass-through process (stdin → stdout,
// no work) in the same run: MB/s = 268.4 MB / time; the ratios show what
// decoding, LayerNorm, the probe backward and the statistics cost over moving
// the bytes.
import { genStream } from "../lib/cli/gen.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const C = 768, N = Math.ceil((256 * 2 ** 20) / (C * 4));
const file = await Deno.makeTempFile({ prefix: "lnstream-bench-", suffix: ".npy" });
{
  const f = await Deno.open(file, { write: true, truncate: true });
  await genStream({ tokens: N, dim: C, seed: 1 }).pipeTo(f.writable);
}
const mb = (await Deno.stat(file)).size / 1e6;

async function pipeFile(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const f = await Deno.open(file);
  await f.readable.pipeTo(child.stdin);
  const out = await child.output();
  if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
}

const group = `pipeline ${mb.toFixed(1)} MB`;
Deno.bench({
  name: `pass-through stdin → stdout (baseline, ${mb.toFixed(1)} MB)`,
  group,
  baseline: true,
  n: 3,
  warmup: 1,
  async fn() {
    await pipeFile(["run", "bench/passthrough.ts"]);
  },
});
for (const workers of [1, 2]) {
  Deno.bench({
    name: `normalize --workers ${workers}`,
    group,
    n: 3,
    warmup: 1,
    async fn() {
      await pipeFile([
        "run",
        `--allow-read=${ROOT}`,
        "mod.ts",
        "normalize",
        "--quiet",
        "--workers",
        String(workers),
      ]);
    },
  });
}
addEventListener("unload", () => Deno.removeSync(file));
