// Hostile inputs through the command line: every case must end (each run has a time limit),
// with the documented exit code and one clear line, never a JavaScript stack.
import { assert, assertAlmostEquals, assertEquals, assertStringIncludes } from "./std_assert.ts";
import { lnstream, normals, npyBytes, npyData, oneLine, type Ran, ROOT_PATH } from "./spawn.ts";

const enc = new TextEncoder();
const tmp = await Deno.makeTempDir({ prefix: "lnstream-faults-" });

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

Deno.test("lines without tokens cost flat memory: blank, [] and empty objects by the million", async () => {
  // measured as memory, not time: a JavaScript heap capped at 32 MB holds every run below, and
  // any per-line state kept to the end (4.5 M lines) would pass it
  const heap = ["--v8-flags=--max-old-space-size=32"];
  const blank = "\n".repeat(8 << 20);
  const cases: [string, string, number][] = [
    ["8 MiB of blank lines", blank + "[1, 2, 3]\n[4, 5, 6]\n", 2],
    ["2 M lines of []", "[]\n".repeat(2_000_000) + "[1, 2, 3]\n", 2_000_001],
    ["200 k empty objects", '{"embedding": []}\n'.repeat(200_000) + "[1, 2, 3]\n", 200_001],
    ["tokens among 500 k []", "[1, 2, 3]\n[]\n".repeat(250_000), 500_000],
  ];
  for (const [what, text, lines] of cases) {
    const r = await lnstream(["normalize", "--quiet"], text, heap, 60_000);
    assertEquals(r.code, 0, `${what}: ${r.stderr.slice(-300)}`);
    assertEquals(r.text.split("\n").length - 1, lines, what);
  }
  // a fault after the blank lines names the right line
  const bad = await lnstream(["normalize"], blank.slice(0, 1000) + "[1, 2]\n[1, x]\n", heap);
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

Deno.test("tiny eps and subnormal rows: every backend gives the TypeScript reference's answer", async () => {
  const rows =
    "[3, 3, 3, 3]\n[1e-40, 1e-40, 1e-40, 1.1e-40]\n[2e-39, -2e-39, 1e-39, 0]\n[1, 2, 3, 4]\n";
  for (const norm of ["layer", "rms"]) {
    for (const eps of ["1e-300", "1e-45", "1e-5"]) {
      for (const stats of [["--quiet"], ["--quiet", "--stats", "-"]]) {
        const out: Record<string, Ran> = {};
        for (const backend of ["ts", "wasm"]) {
          out[backend] = await lnstream(
            ["normalize", "--norm", norm, "--eps", eps, "--backend", backend, ...stats],
            rows,
          );
          assertEquals(out[backend].code, 0, out[backend].stderr);
        }
        const what = `${norm} eps ${eps} ${stats.join(" ")}`;
        const [w, t] = [out.wasm.text.trim().split("\n"), out.ts.text.trim().split("\n")];
        // rows float32 cannot normalize go to the float64 reference on every backend: the
        // reference's numbers exactly — LayerNorm's constant and subnormal rows whatever eps,
        // RMSNorm's subnormal rows when eps is tiny too
        const exact = norm === "layer" ? [0, 1, 2] : eps === "1e-5" ? [] : [1, 2];
        for (const i of exact) assertEquals(w[i], t[i], `${what}, row ${i}`);
        // ordinary rows: float32 kernels agree with the reference to float32's precision
        for (let i = 0; i < t.length; i++) {
          if (exact.includes(i)) continue;
          JSON.parse(w[i]).forEach((v: number, c: number) => {
            const ref = JSON.parse(t[i])[c];
            assertAlmostEquals(v, ref, 1e-6 * Math.abs(ref), `${what}, row ${i}`);
          });
        }
        assert(!out.wasm.text.includes("NaN") && !out.wasm.text.includes("Infinity"), what);
      }
    }
  }
  const constant = await lnstream(["normalize", "--eps", "1e-300", "--quiet"], "[3, 3, 3, 3]\n");
  assertEquals(constant.text, "[0,0,0,0]\n");
});

Deno.test("values past float32's range are bad data in every format, whatever --nonfinite says", async () => {
  const big = new Float64Array(16).fill(1);
  big[9] = 1e300;
  const f8 = npyBytes(
    new Float32Array(0),
    [4, 4],
    "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 4), }",
  );
  const file = new Uint8Array(f8.length + big.byteLength);
  file.set(f8);
  file.set(new Uint8Array(big.buffer), f8.length);
  for (const pass of [[], ["--nonfinite", "pass"]]) {
    const r = await lnstream(["normalize", ...pass], file);
    oneLine(r, 65, "row 2, channel 1");
    assertStringIncludes(r.stderr, "1e+300 is beyond float32's range");
    oneLine(
      await lnstream(["normalize", ...pass], "[1, 2, 3]\n[1, 1e39, 3]\n"),
      65,
      "line 2: channel 1 is 1e+39, beyond float32's range",
    );
  }
  // genuine NaN and Infinity pass with --nonfinite pass
  const nan = await lnstream(
    ["normalize", "--nonfinite", "pass", "--quiet"],
    "[1, NaN, 3]\n[1, 2, 3]\n",
  );
  assertEquals(nan.code, 0, nan.stderr);
});

Deno.test("NDJSON keeps every byte of a line but the embedding: CRLF, bytes that are not UTF-8", async () => {
  const enc = new TextEncoder();
  const line = (s: string) => enc.encode(s);
  const input = new Uint8Array([
    ...line('{"name": "caf'),
    0xe9, // latin-1 é: not UTF-8
    ...line('", "embedding": [1, 2, 3], "n": 12345678901234567891}\r\n'),
    ...line("[4, 5, 6]\r\n"),
    ...line('{"embedding": [[1, 2, 3]], "tag": "\xff"}\n'),
  ]);
  const r = await lnstream(["normalize", "--quiet"], input);
  assertEquals(r.code, 0, r.stderr);
  const out = r.stdout;
  const y = "[-1.2247357,0,1.2247357]";
  const expect = new Uint8Array([
    ...line('{"name": "caf'),
    0xe9,
    ...line(`", "embedding": ${y}, "n": 12345678901234567891}\r\n`),
    ...line(`${y}\r\n`),
    ...line(`{"embedding": [${y}], "tag": "\xff"}\n`),
  ]);
  assertEquals(out, expect);
});

Deno.test("run --nonfinite pass: the human summary counts the tokens that were not finite", async () => {
  const N = 64, C = 16, x = normals(N, C);
  x[5 * C + 3] = Infinity;
  for (const backend of ["ts", "wasm"]) {
    const r = await lnstream(
      [
        "run",
        "--layers",
        "1",
        "--heads",
        "2",
        "--seq",
        "16",
        "--nonfinite",
        "pass",
        "--backend",
        backend,
      ],
      npyBytes(x, [N, C]),
    );
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(
      r.stderr,
      // causal: the 11 tokens from the bad one to the end of its sequence, on every backend
      "not finite (NaN/±Infinity, passed through and left out of the moments): 1 input token, 11 output tokens",
    );
  }
});

Deno.test("--offset past 2^53 − tokens is a usage error: probe keys would collide", async () => {
  const x = npyBytes(normals(4, 4), [4, 4]);
  const last = String(2 ** 53 - 4); // tokens 2^53 − 4 … 2^53 − 1: the last one passes
  oneLine(
    await lnstream(["normalize", "--offset", last], x),
    64,
    "--offset 9007199254740988: token 9007199254740991 would pass 2^53 − 1",
  );
  const fits = await lnstream(["normalize", "--offset", String(2 ** 53 - 5), "--quiet"], x);
  assertEquals(fits.code, 0, fits.stderr);
});

Deno.test(".npy headers as numpy reads them: whole-number shapes; a repeated key, the last", async () => {
  const x = normals(10, 8);
  const float = npyBytes(
    x,
    [10, 8],
    "{'descr': '<f4', 'fortran_order': False, 'shape': (10.0, 8), }",
  );
  oneLine(await lnstream(["normalize"], float), 65, "bad .npy shape (10.0, 8)");
  const twice = npyBytes(
    x,
    [10, 8],
    "{'descr': '<f8', 'fortran_order': False, 'shape': (5, 16), 'descr': '<f4', 'shape': (10, 8), }",
  );
  const r = await lnstream(["normalize", "--quiet"], twice);
  const plain = await lnstream(["normalize", "--quiet"], npyBytes(x, [10, 8]));
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.stdout, plain.stdout);
});
