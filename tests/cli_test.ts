// End-to-end tests of the command line: spawn `deno run mod.ts …` with stdin.
import { assert, assertEquals, assertStringIncludes } from "./std_assert.ts";
import { createKernels, tsKernels } from "../lib/kernels/backend.ts";
import { Arena } from "../lib/kernels/arena.ts";
import { GPT } from "../lib/model/gpt.ts";
import { Rng } from "../lib/model/rng.ts";
import { lnstream, npyBytes, npyData, peakRss, ROOT_PATH, underTime, untimed } from "./spawn.ts";

const enc = new TextEncoder();

function data(N: number, C: number, seed = 1): Float32Array {
  const x = new Float32Array(N * C);
  new Rng(seed).fillNormal(x, 3, 1);
  return x;
}

/** Copies of the arrays in a fresh arena: kernels given these run as the wasm backend does. */
function inArena(...xs: Float32Array[]): Float32Array[] {
  const arena = new Arena();
  return xs.map((x) => {
    const a = arena.alloc(x.length);
    a.set(x);
    return a;
  });
}

/** LayerNorm of [N, C] rows by the default (wasm) backend, or by the TypeScript one. */
function ln(x: Float32Array, N: number, C: number, backend = "wasm"): Float32Array {
  const [y, m, r, xa] = backend === "wasm"
    ? inArena(new Float32Array(N * C), new Float32Array(N), new Float32Array(N), x)
    : [new Float32Array(N * C), new Float32Array(N), new Float32Array(N), x];
  const k = backend === "wasm" ? createKernels("wasm", Arena.of(y)) : tsKernels;
  k.layerNormForward(y, m, r, xa, null, null, N, C);
  return y.slice();
}

const tmp = await Deno.makeTempDir({ prefix: "lnstream-test-" });
// files are written through a temporary file in their folder: read and write for the folder
const statsPerm = `--allow-write=${tmp}`, readTmp = `--allow-read=${tmp}`;

Deno.test("every command has --help with examples", async () => {
  for (const cmd of ["normalize", "run", "gen", "stats"]) {
    const r = await lnstream([cmd, "--help"]);
    assertEquals(r.code, 0, cmd);
    assertStringIncludes(r.text, "Example", cmd);
  }
  const top = await lnstream(["--help"]);
  assertEquals(top.code, 0);
  assertStringIncludes(top.text, "normalize");
  assertEquals((await lnstream([])).code, 64);
  assertEquals((await lnstream(["frobnicate"])).code, 64);
  const bad = await lnstream(["normalize", "--nrom", "rms"]);
  assertEquals(bad.code, 64);
  assertStringIncludes(bad.stderr, "--nrom");
});

Deno.test("npy round trip: shape kept, rows equal the LayerNorm kernel", async () => {
  for (const shape of [[37, 16], [3, 5, 8]]) {
    const C = shape.at(-1)!, N = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const x = data(N, C);
    const r = await lnstream(
      ["normalize", "--workers", "2", "--batch", "8", "--quiet"],
      npyBytes(x, shape),
    );
    assertEquals(r.code, 0, r.stderr);
    const out = npyData(r.stdout);
    assertEquals(out.shape, shape);
    assertEquals(out.data, ln(x, N, C));
    // the TypeScript backend gives the TypeScript kernel's rows, bit for bit
    const t = await lnstream(
      ["normalize", "--backend", "ts", "--workers", "2", "--batch", "8", "--quiet"],
      npyBytes(x, shape),
    );
    assertEquals(t.code, 0, t.stderr);
    assertEquals(npyData(t.stdout).data, ln(x, N, C, "ts"));
  }
});

Deno.test("float64 .npy input is read and written as float32", async () => {
  const N = 5, C = 4, x = data(N, C), x64 = Float64Array.from(x);
  const bytes = npyBytes(
    new Float32Array(x64.buffer),
    [N, C],
    "{'descr': '<f8', 'fortran_order': False, 'shape': (5, 4), }",
  );
  const r = await lnstream(["normalize", "--quiet"], bytes);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(npyData(r.stdout).data, ln(x, N, C));
});

Deno.test("NDJSON round trip mirrors tokens, sequences and objects", async () => {
  const input = [
    "[1, 2, 3, 4]",
    '{"id": "a", "embedding": [[1, 0, 0, 0], [0, 0, 2, 9]], "n": 2}',
    "[[5, 6, 7, 9]]",
    "",
    '{"id": "b", "embedding": [4, 3, 2, 1]}',
  ].join("\n") + "\n";
  const r = await lnstream(["normalize", "--workers", "2", "--batch", "2", "--quiet"], input);
  assertEquals(r.code, 0, r.stderr);
  // the shortest decimals read back as the exact float32 values
  const f32 = (v: unknown): unknown =>
    typeof v === "number" ? Math.fround(v) : Array.isArray(v) ? v.map(f32) : v;
  const lines = r.text.trim().split("\n").map((l) => JSON.parse(l)).map((l) =>
    Array.isArray(l) ? f32(l) : { ...l, embedding: f32(l.embedding) }
  );
  assertEquals(lines.length, 4);
  const x = Float32Array.from([1, 2, 3, 4, 1, 0, 0, 0, 0, 0, 2, 9, 5, 6, 7, 9, 4, 3, 2, 1]);
  const y = Array.from(ln(x, 5, 4));
  assertEquals(lines[0], y.slice(0, 4));
  assertEquals(lines[1].id, "a");
  assertEquals(lines[1].n, 2);
  assertEquals(lines[1].embedding, [y.slice(4, 8), y.slice(8, 12)]);
  assertEquals(lines[2], [y.slice(12, 16)]);
  assertEquals(lines[3], { id: "b", embedding: y.slice(16, 20) });
});

Deno.test("raw float32 needs --dim, round trips, and converts to other formats", async () => {
  const N = 9, C = 8, x = data(N, C);
  const raw = new Uint8Array(x.buffer);
  const noDim = await lnstream(["normalize"], raw);
  assertEquals(noDim.code, 64);
  assertStringIncludes(noDim.stderr, "--dim");
  const r = await lnstream(["normalize", "--dim", "8", "--quiet"], raw);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(new Float32Array(r.stdout.slice().buffer), ln(x, N, C));
  const nd = await lnstream(["normalize", "--dim", "8", "--out-format", "ndjson", "--quiet"], raw);
  const rows = nd.text.trim().split("\n").map((l) => JSON.parse(l));
  assertEquals(rows.length, N);
  assertEquals(Float32Array.from(rows.flat()), ln(x, N, C));
  // npy [B,T,C] → NDJSON: one line per sequence
  const seq = await lnstream(
    ["normalize", "--out-format", "ndjson", "--quiet"],
    npyBytes(x.subarray(0, 48), [2, 3, 8]),
  );
  assertEquals(seq.text.trim().split("\n").map((l) => JSON.parse(l).length), [3, 3]);
});

Deno.test("outputs and stats are byte-identical for 1, 2 and 3 workers (normalize and run)", async () => {
  const x = npyBytes(data(300, 16, 7), [300, 16]);
  for (
    const cmd of [["normalize", "--batch", "16"], [
      "run",
      "--layers",
      "2",
      "--heads",
      "2",
      "--seq",
      "10",
      "--batch",
      "3",
    ]]
  ) {
    const results = [];
    for (const w of [1, 2, 3]) {
      const file = `${tmp}/${cmd[0]}-w${w}.ndjson`;
      const r = await lnstream([...cmd, "--workers", String(w), "--stats", file, "--quiet"], x, [
        statsPerm,
        readTmp,
      ]);
      assertEquals(r.code, 0, r.stderr);
      results.push({ out: r.stdout, stats: untimed(await Deno.readTextFile(file)) });
    }
    for (const r of results.slice(1)) {
      assertEquals(r.out, results[0].out, `${cmd[0]} output`);
      assertEquals(r.stats, results[0].stats, `${cmd[0]} stats`);
    }
    assert(results[0].stats.length > 5);
  }
});

Deno.test("normalize: output and summary are identical for any --batch", async () => {
  const x = npyBytes(data(257, 12, 3), [257, 12]);
  const runs = [];
  for (const b of [1, 7, 64, 1000]) {
    const file = `${tmp}/batch-${b}.ndjson`;
    const r = await lnstream(["normalize", "--batch", String(b), "--stats", file, "--quiet"], x, [
      statsPerm,
      readTmp,
    ]);
    assertEquals(r.code, 0, r.stderr);
    const recs = untimed(await Deno.readTextFile(file)) as Record<string, unknown>[];
    const summary = recs.at(-1)!;
    assertEquals(summary.type, "summary");
    delete summary.batches;
    runs.push({ out: r.stdout, summary });
  }
  for (const r of runs.slice(1)) {
    assertEquals(r.out, runs[0].out);
    assertEquals(r.summary, runs[0].summary);
  }
});

Deno.test("run: output equals the GPT model API on the same sequences", async () => {
  const C = 8, T = 5, N = 13, x = data(N, C, 11);
  const r = await lnstream(
    [
      "run",
      "--layers",
      "2",
      "--heads",
      "2",
      "--seq",
      String(T),
      "--batch",
      "2",
      "--seed",
      "4",
      "--quiet",
    ],
    npyBytes(x, [N, C]),
  );
  assertEquals(r.code, 0, r.stderr);
  const got = npyData(r.stdout).data;
  const model = new GPT({ nLayer: 2, nHead: 2, nEmbd: C, placement: "pre" });
  model.init({ scheme: "gpt2", seed: 4 });
  for (let s = 0; s * T < N; s++) {
    const len = Math.min(T, N - s * T);
    const y = model.forward(x.subarray(s * T * C, (s * T + len) * C), 1, len);
    assertEquals(got.subarray(s * T * C, (s * T + len) * C), y, `sequence ${s}`);
  }
});

Deno.test("stats merge of two halves equals one run over the whole", async () => {
  const N = 200, C = 8, x = data(N, C, 5);
  const run = async (part: Float32Array, n: number, name: string, extra: string[]) => {
    const file = `${tmp}/${name}.ndjson`;
    const r = await lnstream(
      ["normalize", "--batch", "20", "--stats", file, "--quiet", ...extra],
      npyBytes(part, [n, C]),
      [statsPerm, readTmp],
    );
    assertEquals(r.code, 0, r.stderr);
    return file;
  };
  const whole = await run(x, N, "whole", []);
  const a = await run(x.subarray(0, 100 * C), 100, "a", []);
  const b = await run(x.subarray(100 * C), 100, "b", ["--offset", "100"]);
  const m = await lnstream(["stats", "merge", a, b], "", [`--allow-read=${tmp}`]);
  assertEquals(m.code, 0, m.stderr);
  const merged = untimed(m.text)[0];
  const one = untimed(await Deno.readTextFile(whole)).at(-1);
  assertEquals(merged, one);
});

Deno.test("bad input: a clear message, the right exit code, complete rows first", async (t) => {
  const cases: [string, string[], Uint8Array | string, number, string, number?][] = [
    ["ragged NDJSON row", [], "[1,2,3]\n[4,5,6]\n[1,2]\n", 65, "line 3", 2],
    [
      "--dim mismatch",
      ["--dim", "4", "--format", "ndjson"],
      "[1,2,3,4]\n[1,2,3]\n",
      65,
      "line 2",
      1,
    ],
    ["a non-number", [], '[1,2,3]\n[1,"x",3]\n', 65, "line 2: channel 1", 1],
    ["not JSON", [], "[1,2,3]\n[1,2,\n", 65, "line 2: not valid JSON", 1],
    ["NaN in NDJSON", [], "[1,2,3]\n[NaN,2,3]\n", 65, "line 2: channel 0 is NaN", 1],
    ["1e999 in NDJSON", [], "[1,2,3]\n[1e999,2,3]\n", 65, "Infinity", 1],
    [
      "truncated raw",
      ["--dim", "2"],
      new Uint8Array(new Float32Array([1, 2, 3, 4, 5]).buffer),
      65,
      "truncated at byte 20: row 2 has 4 of 8 bytes",
      2,
    ],
    [
      "NaN in raw",
      ["--dim", "2"],
      new Uint8Array(new Float32Array([1, 2, 3, 4, NaN, 1]).buffer),
      65,
      "row 2, channel 0 (byte 16)",
      2,
    ],
    [
      "truncated npy",
      [],
      npyBytes(new Float32Array(12), [4, 3]).slice(0, -28),
      65,
      "truncated at byte",
      1,
    ],
    [
      "npy longer than its header",
      [],
      npyBytes(new Float32Array(12), [3, 3]),
      65,
      "unexpected data",
      3,
    ],
    [
      "bad npy header",
      [],
      npyBytes(new Float32Array(4), [2, 2], "{'descr': '<f4', 'shape': (2, 2)}"),
      65,
      "bad .npy header",
      0,
    ],
    [
      "unsupported dtype",
      [],
      npyBytes(
        new Float32Array(4),
        [2, 2],
        "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }",
      ),
      65,
      "'<i4'",
      0,
    ],
    [
      "Fortran order",
      [],
      npyBytes(
        new Float32Array(4),
        [2, 2],
        "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
      ),
      65,
      "Fortran",
      0,
    ],
    ["npy out from ndjson", ["--out-format", "npy"], "[1,2]\n", 64, "--out-format npy", 0],
    ["heads do not divide C", [], "[1,2,3]\n", 64, "", 0],
  ];
  for (const [name, args, input, code, msg, rows] of cases) {
    await t.step(name, async () => {
      const cmd = name.startsWith("heads") ? ["run", "--heads", "2"] : ["normalize"];
      const r = await lnstream([...cmd, ...args, "--quiet"], input);
      assertEquals(r.code, code, r.stderr);
      assertStringIncludes(r.stderr, msg);
      if (rows !== undefined && code === 65) {
        const isText = typeof input === "string";
        const n = isText
          ? r.text.split("\n").filter(Boolean).length
          : name.includes("npy")
          ? (r.stdout.length > 0 ? npyData(r.stdout).data.length / 3 : 0)
          : r.stdout.length / 8;
        assertEquals(n, rows, `${name}: rows written before the fault`);
      }
    });
  }
  await t.step("--nonfinite pass lets NaN through and counts it", async () => {
    const file = `${tmp}/nan.ndjson`;
    const r = await lnstream(
      ["normalize", "--nonfinite", "pass", "--stats", file, "--quiet"],
      "[1,2,3]\n[NaN,2,3]\n",
      [statsPerm, readTmp],
    );
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.text.trim().split("\n")[1], "[NaN,NaN,NaN]");
    const s = untimed(await Deno.readTextFile(file)).at(-1) as {
      nonfinite_tokens: number;
      input: { count: number };
    };
    assertEquals(s.nonfinite_tokens, 1);
    assertEquals(s.input.count, 3);
  });
});

Deno.test("empty input gives a valid empty output", async () => {
  for (const args of [[], ["--out-format", "ndjson"], ["--dim", "4", "--out-format", "npy"]]) {
    const r = await lnstream(["normalize", "--quiet", ...args], "");
    assertEquals(r.code, 0, r.stderr);
    if (args.includes("npy")) assertEquals(npyData(r.stdout).shape, [0, 4]);
    else assertEquals(r.stdout.length, 0);
  }
  const npy = await lnstream(["normalize", "--quiet"], npyBytes(new Float32Array(0), [0, 5]));
  assertEquals(npy.code, 0, npy.stderr);
  assertEquals(npyData(npy.stdout).shape, [0, 5]);
});

Deno.test("a closed stdout ends quietly", async () => {
  const sh = new Deno.Command("bash", {
    args: [
      "-c",
      `set -o pipefail; "${Deno.execPath()}" run --quiet --allow-read=. mod.ts gen --tokens 20000 --dim 32 --format ndjson | "${Deno.execPath()}" run --quiet --allow-read=. mod.ts normalize --quiet | head -c 100 > /dev/null; echo "codes \${PIPESTATUS[@]}"`,
    ],
    cwd: ROOT_PATH,
    stdout: "piped",
    stderr: "piped",
  });
  const out = await sh.output();
  const text = new TextDecoder().decode(out.stdout);
  assertStringIncludes(text, "codes 0 0 0");
  assertEquals(new TextDecoder().decode(out.stderr), "");
});

Deno.test("summary and progress on stderr; --stats - writes records to stderr", async () => {
  const x = npyBytes(data(100, 8), [100, 8]);
  const r = await lnstream(["normalize", "--progress", "--batch", "10"], x);
  assertEquals(r.code, 0);
  assertStringIncludes(r.stderr, "100 tokens");
  assertStringIncludes(r.stderr, "probe gradient");
  const s = await lnstream(["normalize", "--stats", "-", "--quiet", "--batch", "50"], x);
  const recs = s.stderr.trim().split("\n").map((l) => JSON.parse(l));
  assertEquals(recs.map((r) => r.type), ["batch", "batch", "summary"]);
  const q = await lnstream(["run", "--layers", "3", "--seq", "10", "--heads", "2"], x);
  assertEquals(q.code, 0, q.stderr);
  assertStringIncludes(q.stderr, "layer 2 │");
});

Deno.test("gen is deterministic and feeds every format", async () => {
  const a = await lnstream(["gen", "--tokens", "50", "--dim", "8", "--seed", "3"]);
  const b = await lnstream(["gen", "--tokens", "50", "--dim", "8", "--seed", "3"]);
  assertEquals(a.stdout, b.stdout);
  assertEquals(npyData(a.stdout).shape, [50, 8]);
  const nd = await lnstream([
    "gen",
    "--tokens",
    "6",
    "--dim",
    "4",
    "--format",
    "ndjson",
    "--seq",
    "3",
  ]);
  assertEquals(nd.text.trim().split("\n").map((l) => JSON.parse(l).length), [3, 3]);
  const raw = await lnstream(["gen", "--tokens", "6", "--dim", "4", "--format", "raw"]);
  assertEquals(raw.stdout.length, 6 * 4 * 4);
  assertEquals(
    new Float32Array(raw.stdout.slice().buffer),
    npyData((await lnstream(["gen", "--tokens", "6", "--dim", "4"])).stdout).data,
  );
});

Deno.test("memory stays bounded by the pool whatever the input size", async () => {
  // peak RSS of the child (GNU time's %M, all threads) for a small and a 10x larger
  // stream: the larger input (≥ 20x the pool's capacity of 6 slots x 64 tokens)
  // must not raise the peak by anything near its size.
  const C = 64;
  const peak = async (N: number) => {
    const child = underTime([`--allow-read=${ROOT_PATH}`], [
      "normalize",
      "--workers",
      "2",
      "--batch",
      "64",
      "--quiet",
      "--format",
      "raw",
      "--dim",
      String(C),
    ], {
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const drain = child.stdout.pipeTo(new WritableStream());
    const w = child.stdin.getWriter();
    const chunk = data(1024, C);
    for (let i = 0; i < N / 1024; i++) await w.write(new Uint8Array(chunk.buffer));
    await w.close();
    await drain;
    const out = await child.output();
    assertEquals(out.code, 0);
    const rss = peakRss(new TextDecoder().decode(out.stderr));
    assert(rss > 10_000 * 1024, `no peak RSS measured (${rss} bytes)`);
    return rss;
  };
  const small = await peak(16 * 1024), big = await peak(160 * 1024); // 4 MiB vs 40 MiB in
  const grew = big - small;
  assert(
    grew < 20 * 2 ** 20,
    `peak RSS grew by ${(grew / 2 ** 20).toFixed(1)} MiB for 36 MiB more input ` +
      `(${(small / 2 ** 20).toFixed(1)} → ${(big / 2 ** 20).toFixed(1)} MiB)`,
  );
});

Deno.test("worker module that throws ends the run with its error (exit 70), never a hang", async () => {
  const { normalizeStream } = await import("../lib/pipeline/pipeline.ts");
  const input = ReadableStream.from([enc.encode("[1,2]\n[3,4]\n")]);
  const { readable, done } = normalizeStream(input, {
    workers: 2,
    workerUrl: new URL("./fixtures/throwing_worker.ts", import.meta.url),
  });
  await new Response(readable).arrayBuffer();
  const err = await done.then(() => null, (e) => e);
  assert(err !== null, "the run should fail");
  assertEquals(err.exitCode, 70);
  assertStringIncludes(err.message, "boom");
});

Deno.test("--weight/--bias from .npy, --norm rms|batch, --field, --eps, npy v2 header", async () => {
  const N = 6, C = 4, x = data(N, C, 21);
  const w = Float32Array.of(1, 2, 0.5, -1), b = Float32Array.of(0, 1, 2, 3);
  await Deno.writeFile(`${tmp}/w.npy`, npyBytes(w, [C]));
  await Deno.writeFile(`${tmp}/b.npy`, npyBytes(b, [C]));
  const read = [`--allow-read=${tmp}`];
  const r = await lnstream(
    ["normalize", "--weight", `${tmp}/w.npy`, "--bias", `${tmp}/b.npy`, "--eps", "1e-3", "--quiet"],
    npyBytes(x, [N, C]),
    read,
  );
  assertEquals(r.code, 0, r.stderr);
  const [want, wm, wr, wx, ww, wb] = inArena(
    new Float32Array(N * C),
    new Float32Array(N),
    new Float32Array(N),
    x,
    w,
    b,
  );
  createKernels("wasm", Arena.of(want)).layerNormForward(want, wm, wr, wx, ww, wb, N, C, 1e-3);
  assertEquals(npyData(r.stdout).data, want.slice());
  const wrong = await lnstream(
    ["normalize", "--weight", `${tmp}/w.npy`, "--quiet"],
    npyBytes(data(2, 3), [2, 3]),
    read,
  );
  assertEquals(wrong.code, 64);
  assertStringIncludes(wrong.stderr, "--weight has 4 values");
  const noRead = await lnstream(["normalize", "--weight", `${tmp}/w.npy`], npyBytes(x, [N, C]));
  assert(noRead.code !== 0);

  const { batchNormForward } = await import("../lib/kernels/batchnorm.ts");
  const rms = await lnstream(["normalize", "--norm", "rms", "--quiet"], npyBytes(x, [N, C]));
  const [wantRms, rr, rx] = inArena(new Float32Array(N * C), new Float32Array(N), x);
  createKernels("wasm", Arena.of(wantRms)).rmsNormForward(wantRms, rr, rx, null, N, C);
  assertEquals(npyData(rms.stdout).data, wantRms.slice());
  // batch norm: each batch of 3 tokens is normalized per feature on its own
  const bn = await lnstream(
    ["normalize", "--norm", "batch", "--batch", "3", "--quiet"],
    npyBytes(x, [N, C]),
  );
  const wantBn = new Float32Array(N * C);
  for (const o of [0, 3]) {
    batchNormForward(
      wantBn.subarray(o * C),
      new Float32Array(C),
      new Float32Array(C),
      x.subarray(o * C, (o + 3) * C),
      null,
      null,
      3,
      C,
    );
  }
  assertEquals(npyData(bn.stdout).data, wantBn);

  const field = await lnstream(
    ["normalize", "--field", "vec", "--quiet"],
    '{"vec": [1, 2, 3], "k": 1}\n',
  );
  assertEquals(field.code, 0, field.stderr);
  assertEquals(JSON.parse(field.text).k, 1);
  const noField = await lnstream(["normalize", "--quiet"], '{"vec": [1, 2, 3]}\n');
  assertEquals(noField.code, 65);
  assertStringIncludes(noField.stderr, "no field 'embedding'");

  // a v2 header: 4-byte length
  const v1 = npyBytes(x, [N, C]);
  const hlen = v1[8] | (v1[9] << 8);
  const v2 = new Uint8Array(v1.length + 2);
  v2.set(v1.subarray(0, 8));
  v2[6] = 2;
  new DataView(v2.buffer).setUint32(8, hlen, true);
  v2.set(v1.subarray(10), 12);
  const r2 = await lnstream(["normalize", "--quiet"], v2);
  assertEquals(r2.code, 0, r2.stderr);
  assertEquals(npyData(r2.stdout).data, ln(x, N, C));
});

Deno.test("run on a [B, T, C] .npy takes T as the sequence length unless --seq says otherwise", async () => {
  const x = npyBytes(data(12, 8, 2), [3, 4, 8]);
  for (const [args, seq] of [[[], 4], [["--seq", "6"], 6]] as const) {
    const r = await lnstream([
      "run",
      "--layers",
      "1",
      "--heads",
      "2",
      "--stats",
      "-",
      "--quiet",
      ...args,
    ], x);
    assertEquals(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stderr.trim().split("\n").at(-1)!);
    assertEquals(summary.config.seq, seq);
    assertEquals(npyData(r.stdout).shape, [3, 4, 8]);
  }
});
