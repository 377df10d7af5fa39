// NDJSON at the speed of JSON itself: `normalize` of 167 MB of NDJSON ([20000, 768], one token
// a line, as `gen --format ndjson` writes) on stdin, against two baselines in the same run:
// a Deno script that JSON.parse's each line into a Float32Array and JSON.stringify's it back
// (bench/ndjson_naive.ts, the baseline), and Python's json + numpy doing the same
// (bench/ndjson_python.py; skipped without python3 and numpy). Goals: normalize ≥ 1.0× the
// naive round trip (time ratio ≤ 1), ≥ 3× the Python one. The workers parse nothing here but
// write the output text (formatRows); the main thread cuts and parses lines.
import { genStream } from "../lib/io/gen.ts";
import { python } from "./torch.ts";
import { pipeFile } from "./pipe.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const C = 768, N = 20000;
const file = await Deno.makeTempFile({ prefix: "lnstream-bench-", suffix: ".ndjson" });
{
  const f = await Deno.open(file, { write: true, truncate: true });
  await genStream({ tokens: N, dim: C, seed: 1, format: "ndjson" }).pipeTo(f.writable);
}
const mb = (await Deno.stat(file)).size / 1e6;

const hasNumpy = await new Deno.Command(python, { args: ["-c", "import numpy"] }).output()
  .then((o) => o.success, () => false);
const group = `NDJSON ${mb.toFixed(1)} MB`;
Deno.bench({
  name: "naive JSON round trip in Deno (baseline)",
  group,
  baseline: true,
  n: 5,
  warmup: 1,
  async fn() {
    await pipeFile(file, [Deno.execPath(), "run", `--allow-read=${ROOT}`, "bench/ndjson_naive.ts"]);
  },
});
for (const flags of [["--quiet"], ["--quiet", "--stats", "/dev/null"]]) {
  Deno.bench({
    name: `normalize ${flags.join(" ")}`,
    group,
    n: 5,
    warmup: 1,
    async fn() {
      await pipeFile(file, [
        Deno.execPath(),
        "run",
        `--allow-read=${ROOT}`,
        "--allow-write=/dev/null",
        "mod.ts",
        "normalize",
        ...flags,
      ]);
    },
  });
}
Deno.bench({
  name: "Python json + numpy round trip",
  group,
  ignore: !hasNumpy,
  n: 2,
  warmup: 0,
  async fn() {
    await pipeFile(file, [python, "bench/ndjson_python.py"]);
  },
});
addEventListener("unload", () => Deno.removeSync(file));
