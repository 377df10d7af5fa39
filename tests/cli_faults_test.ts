// Hostile inputs through the command line: every case must end (each run has a time limit),
// with the documented exit code and one clear line, never a JavaScript stack.
import { assert, assertEquals, assertStringIncludes } from "./std_assert.ts";
import { Rng } from "../lib/model/rng.ts";
import { lnstream, npyBytes, npyData, ROOT_PATH } from "./spawn.ts";

const enc = new TextEncoder();
const tmp = await Deno.makeTempDir({ prefix: "lnstream-faults-" });

function normals(N: number, C: number, seed = 1): Float32Array {
  const x = new Float32Array(N * C);
  new Rng(seed).fillNormal(x);
  return x;
}

/** Exit code and a single stderr line without a stack. */
function oneLine(r: { code: number; stderr: string }, code: number, has: string) {
  assertEquals(r.code, code, r.stderr);
  const lines = r.stderr.trim().split("\n");
  assertEquals(lines.length, 1, r.stderr);
  assert(!/\n\s+at /.test(r.stderr) && !r.stderr.includes("Uncaught"), r.stderr);
  assertStringIncludes(r.stderr, has);
}

function summaryOf(stderr: string) {
  const s = stderr.trim().split("\n").map((l) => JSON.parse(l)).find((r) => r.type === "summary");
  assert(s, `no summary in ${stderr}`);
  return s;
}

Deno.test("run ends when statistics become non-finite (inf input passed through)", async () => {
  const N = 1000, C = 64, x = normals(N, C);
  x[530 * C + 7] = Infinity;
  const r = await lnstream(
    ["run", "--layers", "2", "--seq", "64", "--nonfinite", "pass", "--quiet", "--stats", "-"],
    npyBytes(x, [N, C]),
    [],
    30_000,
  );
  assertEquals(r.code, 0, r.stderr);
  const s = summaryOf(r.stderr);
  assertEquals(s.tokens_out, N);
  assertEquals(s.nonfinite_tokens, 1);
  assertEquals(s.input.count, (N - 1) * C); // only the token holding inf is left out
  assert(npyData(r.stdout).data.length === N * C);
});

Deno.test("post-LN on finite values near 1e38: ends, and input moments keep every token", async () => {
  const N = 128, C = 64, x = normals(N, C, 2).map((v) => v * 1e37);
  const r = await lnstream(
    ["run", "--layers", "2", "--placement", "post", "--seq", "64", "--quiet", "--stats", "-"],
    npyBytes(x, [N, C]),
    [],
    30_000,
  );
  assertEquals(r.code, 0, r.stderr);
  assertEquals(summaryOf(r.stderr).input.count, N * C);
});

Deno.test("a .npy of shape [N, 0] is bad data (65), not an endless loop", async () => {
  const r = await lnstream(
    ["normalize", "--stats", "-"],
    npyBytes(new Float32Array(0), [5, 0]),
    [],
    20_000,
  );
  oneLine(r, 65, "0 channels");
});

Deno.test("megabytes of leading blank lines are read in linear time", async () => {
  const blank = new Uint8Array(8 << 20).fill(0x0a);
  const tail = enc.encode("[1, 2, 3]\n[4, 5, 6]\n");
  const input = new Uint8Array(blank.length + tail.length);
  input.set(blank);
  input.set(tail, blank.length);
  const t0 = performance.now();
  const r = await lnstream(["normalize", "--quiet"], input, [], 30_000);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.text.trim().split("\n").length, 2);
  assert(performance.now() - t0 < 20_000, "8 MB of newlines took more than 20 s");
  // a fault after the blank lines names the right line
  const bad = await lnstream(
    ["normalize"],
    new Uint8Array([...blank.subarray(0, 1000), ...enc.encode("[1, 2]\n[1, x]\n")]),
    [],
    30_000,
  );
  oneLine(bad, 65, "line 1002");
});

Deno.test("sniffing: raw float32 that starts with '[' or blanks is raw with --dim; a BOM is text", async () => {
  // gen's own raw output for seed 351 starts with such bytes
  const gen = await lnstream([
    "gen",
    "--tokens",
    "8",
    "--dim",
    "4",
    "--seed",
    "351",
    "--format",
    "raw",
  ]);
  assertEquals(gen.code, 0, gen.stderr);
  const raw = await lnstream(["normalize", "--dim", "4", "--quiet"], gen.stdout);
  assertEquals(raw.code, 0, raw.stderr);
  assertEquals(raw.stdout.length, 8 * 4 * 4);
  const startsAsText = new Float32Array(4 * 2);
  new Uint8Array(startsAsText.buffer).set(enc.encode("[ {"));
  startsAsText[3] = 1;
  const r2 = await lnstream(
    ["normalize", "--dim", "4", "--quiet"],
    new Uint8Array(startsAsText.buffer),
  );
  assertEquals(r2.code, 0, r2.stderr);
  const bom = await lnstream(["normalize", "--quiet"], "\uFEFF[1, 2, 3]\n[3, 4, 5]\n");
  assertEquals(bom.code, 0, bom.stderr);
  assertEquals(bom.text.trim().split("\n").length, 2);
  const unknown = await lnstream(["normalize"], new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
  oneLine(unknown, 64, "--dim");
});

Deno.test("impossible sizes are refused up front with the limit (64/65), not a stack (70)", async () => {
  const huge = npyBytes(new Float32Array(0), [4, 10 ** 9]);
  oneLine(await lnstream(["normalize"], huge, [], 20_000), 65, "limit");
  // a token of 10⁶ channels: an explicit --batch past the limit is a usage error naming it;
  // the default batch shrinks to what the limit holds (2048 such tokens would need 15 GiB)
  const wide = "[" + new Array(1_000_000).fill("0.5").join(",") + "]\n";
  oneLine(await lnstream(["normalize", "--batch", "2048"], wide, [], 30_000), 64, "--batch");
  const fits = await lnstream(["normalize", "--stats", "-", "--quiet"], wide.repeat(3), [], 30_000);
  assertEquals(fits.code, 0, fits.stderr);
  assertEquals(fits.text.trim().split("\n").length, 3);
  assertEquals(summaryOf(fits.stderr).tokens_out, 3);
  const x = normals(4, 8);
  oneLine(
    await lnstream(["normalize", "--batch", "1000000000"], npyBytes(x, [4, 8])),
    64,
    "--batch",
  );
  oneLine(await lnstream(["normalize", "--workers", "1000"], npyBytes(x, [4, 8])), 64, "--workers");
});

Deno.test("I/O faults exit 74 with one line: stdin a directory, stdout a full device", async () => {
  const dir = new Deno.Command("bash", {
    args: [
      "-c",
      `cd "${ROOT_PATH}" && "${Deno.execPath()}" run --quiet --allow-read=. mod.ts normalize < "${tmp}"`,
    ],
    stderr: "piped",
    stdout: "null",
    signal: AbortSignal.timeout(20_000),
  });
  const d = await dir.output();
  oneLine({ code: d.code, stderr: new TextDecoder().decode(d.stderr) }, 74, "stdin");
  await Deno.writeFile(`${tmp}/x.npy`, npyBytes(normals(256, 64), [256, 64]));
  const full = new Deno.Command("bash", {
    args: [
      "-c",
      `cd "${ROOT_PATH}" && "${Deno.execPath()}" run --quiet --allow-read=. mod.ts normalize --quiet < "${tmp}/x.npy" > /dev/full`,
    ],
    stderr: "piped",
    stdout: "null",
    signal: AbortSignal.timeout(20_000),
  });
  const f = await full.output();
  oneLine({ code: f.code, stderr: new TextDecoder().decode(f.stderr) }, 74, "stdout");
});

Deno.test("stats merge: a corrupt state is bad data (65); an empty shard merges", async () => {
  const x = normals(10, 4);
  const a = await lnstream(["normalize", "--quiet", "--stats", "-"], npyBytes(x, [10, 4]));
  const e = await lnstream(["normalize", "--quiet", "--stats", "-"], "");
  assertEquals(e.code, 0, e.stderr);
  const empty = summaryOf(e.stderr);
  assertEquals(empty.config.norm, "layer");
  assertEquals(empty.config.C, null);
  await Deno.writeTextFile(`${tmp}/a.stats`, a.stderr);
  await Deno.writeTextFile(`${tmp}/e.stats`, e.stderr);
  const m = await lnstream(["stats", "merge", `${tmp}/e.stats`, `${tmp}/a.stats`], "", [
    `--allow-read=${tmp}`,
  ]);
  assertEquals(m.code, 0, m.stderr);
  const merged = JSON.parse(m.text);
  assertEquals(merged.tokens_out, 10);
  assertEquals(merged.config.C, 4);
  const bad = summaryOf(a.stderr);
  bad.state.input.s = ["x"];
  await Deno.writeTextFile(`${tmp}/bad.stats`, JSON.stringify(bad) + "\n");
  oneLine(
    await lnstream(["stats", "merge", `${tmp}/bad.stats`], "", [`--allow-read=${tmp}`]),
    65,
    "bad.stats",
  );
  // the human line of an empty run reads sensibly
  const human = await lnstream(["normalize"], "");
  assertEquals(human.code, 0);
  assert(!human.stderr.includes("undefined"), human.stderr);
});

Deno.test("--weight or --bias holding NaN is bad data (65)", async () => {
  const w = Float32Array.of(1, NaN, 1, 1);
  await Deno.writeFile(`${tmp}/nan.npy`, npyBytes(w, [4]));
  const r = await lnstream(
    ["normalize", "--weight", `${tmp}/nan.npy`],
    npyBytes(normals(2, 4), [2, 4]),
    [
      `--allow-read=${tmp}`,
    ],
  );
  oneLine(r, 65, "nan.npy");
});

Deno.test("NDJSON: float32 overflow names its line; untouched fields keep their text", async () => {
  const lines = Array.from({ length: 20 }, () => "[1, 2, 3]");
  lines.push("[1, 1e39, 3]");
  oneLine(await lnstream(["normalize"], lines.join("\n") + "\n"), 65, "line 21");
  const obj = '{"id": 12345678901234567891, "big": 1e400, "embedding": [1, 2, 4], "t": "a\\"b"}\n';
  const r = await lnstream(["normalize", "--quiet"], obj);
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.text, '"id": 12345678901234567891');
  assertStringIncludes(r.text, '"big": 1e400');
  assertStringIncludes(r.text, '"t": "a\\"b"');
  assertEquals(JSON.parse(r.text.replace("1e400", "0")).embedding.length, 3);
});

Deno.test("without --allow-read for the worker modules: one line naming the permission (77)", async () => {
  const r = await lnstream(["normalize"], npyBytes(normals(2, 4), [2, 4]), ["--no-read"]);
  oneLine(r, 77, "--allow-read");
});

Deno.test("SIGTERM mid-stream: binary output ends on a row boundary", async () => {
  const N = 1 << 16, C = 64;
  await Deno.writeFile(`${tmp}/big.npy`, npyBytes(normals(N, C), [N, C]));
  const child = new Deno.Command("bash", {
    args: [
      "-c",
      `exec "${Deno.execPath()}" run --quiet --allow-read=. mod.ts normalize --batch 64 --quiet --workers 1 < "${tmp}/big.npy"`,
    ],
    cwd: ROOT_PATH,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).spawn();
  const reader = child.stdout.getReader();
  const chunks: Uint8Array[] = [];
  let got = 0, signalled = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
    got += value.length;
    if (!signalled && got > 200_000) {
      child.kill("SIGTERM");
      signalled = true;
    }
  }
  const status = await child.status;
  assert(signalled);
  const out = new Uint8Array(got);
  let o = 0;
  for (const c of chunks) out.set(c, (o += c.length) - c.length);
  const headerLen = 10 + (out[8] | (out[9] << 8));
  assertEquals((out.length - headerLen) % (C * 4), 0, `${out.length - headerLen} bytes of rows`);
  assert(status.code === 143 || status.code === 0, `exit ${status.code}`);
});

Deno.test("an input FILE argument and -o/--output FILE, with the permissions they need (77)", async () => {
  const x = normals(20, 8);
  await Deno.writeFile(`${tmp}/in.npy`, npyBytes(x, [20, 8]));
  const viaStdin = await lnstream(["normalize", "--quiet"], npyBytes(x, [20, 8]));
  const r = await lnstream(
    ["normalize", `${tmp}/in.npy`, "-o", `${tmp}/out.npy`, "--quiet"],
    "",
    [`--allow-read=${ROOT_PATH},${tmp}`, `--allow-write=${tmp}`],
  );
  assertEquals(r.code, 0, r.stderr);
  assertEquals(await Deno.readFile(`${tmp}/out.npy`), viaStdin.stdout);
  oneLine(await lnstream(["normalize", `${tmp}/in.npy`]), 77, `--allow-read=${tmp}/in.npy`);
  // the output is written through a temporary file in its folder: the folder's permissions
  oneLine(
    await lnstream(["normalize", "-o", `${tmp}/x.npy`], npyBytes(x, [20, 8])),
    77,
    `--allow-read=${tmp} --allow-write=${tmp}`,
  );
  oneLine(
    await lnstream(["normalize", "-o", `${tmp}/x.npy`], npyBytes(x, [20, 8]), [
      `--allow-write=${tmp}/x.npy`,
    ]),
    77,
    `--allow-read=${tmp} --allow-write=${tmp} (lnstream writes x.npy through a temporary file`,
  );
  oneLine(
    await lnstream(["normalize", `${tmp}/missing.npy`], "", [`--allow-read=${tmp}`]),
    64,
    "no such file",
  );
});

Deno.test("--stats - keeps stderr pure NDJSON; messages carry one prefix", async () => {
  const r = await lnstream(
    ["normalize", "--stats", "-", "--progress"],
    npyBytes(normals(8, 4), [8, 4]),
  );
  assertEquals(r.code, 0, r.stderr);
  for (const line of r.stderr.trim().split("\n")) JSON.parse(line); // no human text mixed in
  const bad = await lnstream(["gen", "--bogus"]);
  oneLine(bad, 64, "lnstream gen: unknown option --bogus");
  assert(!bad.stderr.includes("gen: gen:"), bad.stderr);
});

Deno.test("a closed stdout (| head) ends quietly and the stats file still ends with a summary", async () => {
  const N = 20000, C = 32;
  await Deno.writeFile(`${tmp}/h.npy`, npyBytes(normals(N, C), [N, C]));
  const r = await new Deno.Command("bash", {
    args: [
      "-c",
      `"${Deno.execPath()}" run --quiet --allow-read=.,${tmp} --allow-write=${tmp} mod.ts normalize ` +
      `--batch 256 --out-format ndjson --stats ${tmp}/h.stats < ${tmp}/h.npy | head -c 100 > /dev/null; ` +
      `echo "\${PIPESTATUS[0]}"`,
    ],
    cwd: ROOT_PATH,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  assertEquals(new TextDecoder().decode(r.stdout).trim(), "0", new TextDecoder().decode(r.stderr));
  const last = JSON.parse((await Deno.readTextFile(`${tmp}/h.stats`)).trim().split("\n").at(-1)!);
  assertEquals(last.type, "summary");
  assertEquals(last.output_closed, true);
  assert(last.tokens_out > 0 && last.tokens_out < N, `tokens_out ${last.tokens_out}`);
});
