// Choosing a backend: names, errors a user sees, and the same answers from every backend.
import { assert, assertEquals, assertStringIncludes, assertThrows } from "./std_assert.ts";
import { checkBackend, createKernels, tsKernels } from "../lib/kernels/backend.ts";
import { BLAS_SEARCH_PATHS, BlasUnavailableError, openBlas } from "../lib/kernels/blas.ts";
import { Arena } from "../lib/kernels/arena.ts";
import { GPT } from "../lib/model/gpt.ts";
import { Rng } from "../lib/model/rng.ts";
import { BLAS_AVAILABLE, F32_BACKENDS } from "./golden.ts";
import { lnstream, npyBytes, npyData, untimed } from "./spawn.ts";

Deno.test("OpenBLAS is there when CI says it must be", () => {
  // .ci/run installs libopenblas0-pthread and sets this, so the blas tests cannot be skipped
  // there silently; elsewhere they run when the library is found
  if (Deno.env.get("LNSTREAM_REQUIRE_BLAS") === "1") {
    assert(BLAS_AVAILABLE, `OpenBLAS not found in ${BLAS_SEARCH_PATHS.join(", ")}`);
  }
  assertEquals(F32_BACKENDS.includes("blas"), BLAS_AVAILABLE);
});

Deno.test("backend names: unknown is a RangeError, float64 is ts only", () => {
  assertThrows(() => checkBackend("gpu"), RangeError, '"ts", "wasm" or "blas"');
  const cfg = { nLayer: 1, nHead: 1, nEmbd: 4, placement: "pre" as const };
  // deno-lint-ignore no-explicit-any
  assertThrows(() => new GPT({ ...cfg, backend: "gpu" as any }), RangeError, "backend");
  assertThrows(() => new GPT({ ...cfg, dtype: "float64", backend: "wasm" }), RangeError, "ts");
  assertEquals(new GPT(cfg).config.backend, "wasm");
  assertEquals(new GPT({ ...cfg, dtype: "float64" }).config.backend, "ts");
  assertEquals(createKernels("ts", null), tsKernels);
  // without an arena, wasm gets one of its own: its arrays come from k.alloc
  const k = createKernels("wasm");
  assert(k.arena !== null && Arena.of(k.alloc(4)) === k.arena);
});

Deno.test("a missing OpenBLAS is a clear error naming the package, never a fallback", () => {
  const e = assertThrows(() => openBlas("/nonexistent/libopenblas.so.0"), BlasUnavailableError);
  assertStringIncludes(e.message, "/nonexistent/libopenblas.so.0");
  assertThrows(
    () =>
      new GPT({
        nLayer: 1,
        nHead: 1,
        nEmbd: 4,
        placement: "pre",
        backend: "blas",
        blasLib: "/nope.so",
      }),
    BlasUnavailableError,
  );
});

Deno.test("CLI: --backend choices, --blas-lib, missing library and missing permission", async () => {
  const x = new Float32Array(8 * 4).map((_, i) => Math.sin(i));
  const npy = npyBytes(x, [8, 4]);
  const bad = await lnstream(["normalize", "--backend", "gpu", "--quiet"], npy);
  assertEquals(bad.code, 64);
  assertStringIncludes(bad.stderr, "--backend must be one of wasm, blas, ts");
  const lone = await lnstream(["normalize", "--blas-lib", "/x.so", "--quiet"], npy);
  assertEquals(lone.code, 64);
  assertStringIncludes(lone.stderr, "--blas-lib is only for the blas backend");
  const missing = await lnstream(
    ["run", "--backend", "blas", "--blas-lib", "/nonexistent/libopenblas.so.0", "--layers", "1"],
    npy,
    ["--allow-ffi"],
  );
  assertEquals(missing.code, 64, missing.stderr);
  assertStringIncludes(missing.stderr, "/nonexistent/libopenblas.so.0");
  assertEquals(missing.stderr.trim().split("\n").length, 1, missing.stderr);
  if (BLAS_AVAILABLE) {
    // FFI permission scoped to the library, as README advises, is enough (workers included)
    const lib = BLAS_SEARCH_PATHS.find((p) => {
      try {
        return Deno.statSync(p).isFile;
      } catch {
        return false;
      }
    })!;
    const scoped = await lnstream(
      ["run", "--backend", "blas", "--layers", "1", "--workers", "2", "--quiet"],
      npy,
      [`--allow-ffi=${lib}`],
    );
    assertEquals(scoped.code, 0, scoped.stderr);
    const noFfi = await lnstream(["run", "--backend", "blas", "--layers", "1"], npy);
    assertEquals(noFfi.code, 77, noFfi.stderr);
    assertStringIncludes(noFfi.stderr, "--allow-ffi");
    assertEquals(noFfi.stderr.trim().split("\n").length, 1, noFfi.stderr);
  } else {
    const none = await lnstream(["run", "--backend", "blas", "--layers", "1"], npy, [
      "--allow-ffi",
    ]);
    assertEquals(none.code, 64);
    assertStringIncludes(none.stderr, "libopenblas0-pthread");
  }
});

Deno.test("run: every backend gives the same outputs and statistics up to float32 rounding", async () => {
  const N = 64, C = 32, x = new Float32Array(N * C);
  new Rng(4).fillNormal(x);
  const common = ["run", "--layers", "2", "--heads", "4", "--seq", "16", "--quiet", "--stats", "-"];
  const got: { y: Float32Array; stats: unknown[] }[] = [];
  for (const backend of F32_BACKENDS) {
    const r = await lnstream([...common, "--backend", backend], npyBytes(x, [N, C]), [
      "--allow-ffi",
    ]);
    assertEquals(r.code, 0, r.stderr);
    got.push({ y: npyData(r.stdout).data, stats: untimed(r.stderr) });
  }
  const ref = got[0];
  for (let b = 1; b < got.length; b++) {
    let worst = 0;
    for (let i = 0; i < ref.y.length; i++) {
      worst = Math.max(worst, Math.abs(got[b].y[i] - ref.y[i]));
    }
    assert(worst < 1e-4, `${F32_BACKENDS[b]} vs ts: outputs differ by ${worst}`);
    // the summary's per-layer gradient norms agree to float32 rounding
    // deno-lint-ignore no-explicit-any
    const last = (s: unknown[]) => s.at(-1) as any;
    const a = last(ref.stats).grad.layer_stats, c = last(got[b].stats).grad.layer_stats;
    for (let l = 0; l < a.length; l++) {
      const ga = a[l].grad.W_fc.l2, gc = c[l].grad.W_fc.l2;
      assert(Math.abs(ga - gc) <= 1e-4 * ga, `layer ${l} ‖∂L/∂W_fc‖ ${gc} vs ${ga}`);
    }
  }
});

Deno.test("run: wasm output bytes and statistics do not depend on --workers", async () => {
  const N = 96, C = 16, x = new Float32Array(N * C);
  new Rng(5).fillNormal(x);
  const runs = [];
  for (const workers of ["1", "2", "3"]) {
    const r = await lnstream(
      [
        "run",
        "--layers",
        "2",
        "--heads",
        "2",
        "--seq",
        "8",
        "--batch",
        "2",
        "--workers",
        workers,
        "--quiet",
        "--stats",
        "-",
      ],
      npyBytes(x, [N, C]),
    );
    assertEquals(r.code, 0, r.stderr);
    runs.push({ y: r.stdout, stats: untimed(r.stderr) });
  }
  for (const r of runs.slice(1)) {
    assertEquals(r.y, runs[0].y);
    assertEquals(r.stats, runs[0].stats);
  }
});

Deno.test("a model on an arena keeps every buffer there; forward copies foreign inputs in", () => {
  const m = new GPT({ nLayer: 1, nHead: 2, nEmbd: 8, placement: "post" });
  m.init({ scheme: "gpt2", seed: 1 });
  const arena = m.arena!;
  assertEquals(Arena.of(m.params), arena);
  assertEquals(Arena.of(m.grads), arena);
  const x = new Float32Array(2 * 3 * 8).map((_, i) => Math.cos(i)); // not in the arena
  const y = m.forward(x, 2, 3);
  assertEquals(Arena.of(y), arena);
  m.zeroGrad();
  const dx = m.backward(new Float32Array(y)); // a foreign dy too
  assertEquals(Arena.of(dx), arena);
  assert(dx.every(Number.isFinite));
});

Deno.test("run: a model too big for the 4 GiB arena is a usage error before any work", async () => {
  const x = new Float32Array(64 * 16).map((_, i) => Math.sin(i));
  // 8 sequences of 8192 tokens: the attention weights alone need ~8 GiB per layer
  const r = await lnstream(
    ["run", "--layers", "2", "--heads", "4", "--seq", "8192", "--workers", "1", "--quiet"],
    npyBytes(x, [64, 16]),
  );
  assertEquals(r.code, 64, r.stderr);
  assertStringIncludes(r.stderr, "limit 4 GiB");
  assertStringIncludes(r.stderr, "--backend ts");
  assertEquals(r.stdout.length, 0);
  // the estimate is what a model really allocates for such a pass, in every variant
  for (
    const v of [
      { placement: "post" },
      { placement: "peri", norm: "dyt" },
      { placement: "pre", qkNorm: true, norm: "rms" },
      { placement: "mix" },
    ] as const
  ) {
    const c = { nLayer: 2, nHead: 2, nEmbd: 16, ...v };
    const m = new GPT(c), before = m.arena!.used;
    m.forward(new Float32Array(3 * 5 * 16), 3, 5);
    m.zeroGrad();
    m.backward(new Float32Array(3 * 5 * 16));
    const used = m.arena!.used - before, est = GPT.bytesFor(c, 3, 5).activations;
    assert(
      used <= est && est - used < (3 << 20),
      `${JSON.stringify(v)}: allocated ${used}, estimated ${est}`,
    );
    // and a pass 64× larger: the per-token terms are right, not only the slack
    const big = new GPT(c), at = big.arena!.used;
    big.forward(new Float32Array(3 * 320 * 16), 3, 320);
    big.backward(new Float32Array(3 * 320 * 16));
    const usedBig = big.arena!.used - at, estBig = GPT.bytesFor(c, 3, 320).activations;
    assert(
      usedBig <= estBig && estBig - usedBig < (3 << 20),
      `${JSON.stringify(v)} T=320: ${usedBig} vs ${estBig}`,
    );
  }
});
