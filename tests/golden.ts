// Test helpers: read the PyTorch golden vectors in tests/fixtures/golden/ and
// compare tensors with a relative-to-the-tensor tolerance.
import { assert } from "./std_assert.ts";
import { Rng } from "../lib/model/rng.ts";
import { Arena } from "../lib/kernels/arena.ts";
import { type Backend, createKernels, type Kernels, tsKernels } from "../lib/kernels/backend.ts";
import { openBlas } from "../lib/kernels/blas.ts";

/** Whether OpenBLAS loads here (the blas backend's tests run only then). */
export const BLAS_AVAILABLE: boolean = (() => {
  try {
    openBlas();
    return true;
  } catch {
    return false;
  }
})();

/** The float32 backends the golden tests run through: ts, wasm, and blas when it loads. */
export const F32_BACKENDS: Backend[] = ["ts", "wasm", ...(BLAS_AVAILABLE ? ["blas" as const] : [])];

/** The backend a golden check is running, its arena (null for ts) and its kernels. */
let current: { backend: Backend; arena: Arena | null; kernels: Kernels } = {
  backend: "ts",
  arena: null,
  kernels: tsKernels,
};

/** The backend of the golden check that is running (GPT models in tests take it). */
export function testBackend(): Backend {
  return current.backend;
}

/** The kernels of the golden check that is running (`testKernels().layerNormForward(…)`). */
export function testKernels(): Kernels {
  return current.kernels;
}

/**
 * Runs `fn` with `testKernels()` the backend's kernels and `arr`/`zeros` allocating float32
 * arrays where they compute (a fresh arena for wasm and blas; plain arrays for ts).
 */
export function withBackend<T>(backend: Backend, fn: () => T): T {
  const arena = backend === "ts" ? null : new Arena();
  const saved = current;
  current = { backend, arena, kernels: createKernels(backend, arena) };
  try {
    return fn();
  } finally {
    current = saved;
  }
}

export type Tensor = { shape: number[]; data: number[] };
export type Precision = "f64" | "f32";
export type Expected = {
  outputs: Record<string, Tensor>;
  grads: Record<string, Tensor>;
  // deno-lint-ignore no-explicit-any
  [k: string]: any;
};
export type Golden = {
  kind: string;
  name: string;
  // deno-lint-ignore no-explicit-any
  config: Record<string, any>;
  inputs: Record<string, Tensor>;
  expected: { f64: Expected; f32: Expected };
  f32_vs_f64: Record<string, { max_abs: number; max_ref: number; rel: number }>;
};

const DIR = new URL("./fixtures/golden/", import.meta.url);

/** Every golden file of a kind, parsed. */
export function goldenFiles(kind: string): Golden[] {
  const out: Golden[] = [];
  for (const e of Deno.readDirSync(DIR)) {
    if (!e.name.endsWith(".json")) continue;
    const doc = JSON.parse(Deno.readTextFileSync(new URL(e.name, DIR))) as Golden;
    if (doc.kind === kind) out.push(doc);
  }
  out.sort((a, b) => a.name.localeCompare(b.name));
  assert(out.length > 0, `no golden files of kind ${kind}`);
  return out;
}

/** A tensor's data in the requested precision (f32 = fround of the decimal). */
export function arr(t: Tensor, p: Precision): Float32Array | Float64Array {
  if (p === "f64") return Float64Array.from(t.data);
  const a = zeros(p, t.data.length);
  a.set(t.data);
  return a;
}

/** A zeroed array of `n` elements in the requested precision. */
export function zeros(p: Precision, n: number): Float32Array | Float64Array {
  if (p === "f64") return new Float64Array(n);
  return current.arena ? current.arena.alloc(n) : new Float32Array(n);
}

/** max |a - e| / max |e| (relative to the tensor's largest magnitude). */
export function relErr(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  mask?: (i: number) => boolean,
): number {
  let maxRef = 0, maxAbs = 0;
  for (let i = 0; i < expected.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
  }
  for (let i = 0; i < expected.length; i++) {
    if (mask && !mask(i)) continue;
    maxAbs = Math.max(maxAbs, Math.abs(actual[i] - expected[i]));
  }
  if (maxAbs === 0) return 0;
  return maxAbs / (maxRef === 0 ? 1 : maxRef);
}

/** Asserts the relative error of a tensor is within `tol`; names it when not. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  label: string,
  mask?: (i: number) => boolean,
): number {
  assert(
    actual.length === expected.length,
    `${label}: length ${actual.length} != ${expected.length}`,
  );
  for (let i = 0; i < actual.length; i++) {
    assert(Number.isFinite(actual[i]), `${label}: non-finite at ${i}`);
  }
  const e = relErr(actual, expected, mask);
  assert(e <= tol, `${label}: relative error ${e.toExponential(3)} > ${tol.toExponential(1)}`);
  return e;
}

/**
 * The float32 tolerance for one tensor: a small multiple of how far torch's own
 * float32 result is from the float64 reference, plus a few float32 ulps.
 */
export function f32Tol(doc: Golden, key: string, multiple = 3): number {
  const r = doc.f32_vs_f64[key];
  assert(r !== undefined, `${doc.name}: no f32_vs_f64 for ${key}`);
  return multiple * r.rel + 4 * 2 ** -24;
}

/** Central finite-difference gradient of a scalar function of `x` (float64). */
export function numericGrad(
  f: () => number,
  x: Float64Array,
  h = 1e-6,
  indices?: number[],
): Float64Array {
  const g = new Float64Array(x.length);
  for (const i of indices ?? x.keys()) {
    const v = x[i];
    x[i] = v + h;
    const fp = f();
    x[i] = v - h;
    const fm = f();
    x[i] = v;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

/** Σ a·b in float64. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** A deterministic N(shift, scale²) array for tests. */
export function randn(n: number, seed: number, scale = 1, shift = 0): Float64Array {
  const out = new Float64Array(n);
  new Rng(seed).fillNormal(out, scale, shift);
  return out;
}

/** README's measured bound for torch-f32 vs f64 on `huge_offset` rows. */
export const HUGE_F32 = 1e-2;

/**
 * Compares every tensor `run(p)` returns (keys like `outputs.y`, `grads.x`) with
 * the golden file, in both precisions: float64 to ≤ 1e-12 relative (1e-9 where
 * a `huge_offset` row or feature is involved), float32 to a small multiple of
 * torch's own f32-vs-f64 error (README's 1e-2 on `huge_offset` rows, where the
 * f32 inputs keep only ~3 digits of the row's spread).
 * `hugeAt(key, i, len)` says whether element i of a tensor depends on a
 * `huge_offset` row.
 */
export async function checkGolden(
  t: Deno.TestContext,
  doc: Golden,
  run: (p: Precision) => Record<string, ArrayLike<number>>,
  hugeAt: (key: string, i: number, len: number) => boolean = () => false,
  tolFor: (key: string, tol: number, out: Record<string, ArrayLike<number>>) => number = (
    _k,
    tol,
  ) => tol,
): Promise<void> {
  const runs: [Precision, Backend][] = [
    ["f64", "ts"],
    ...F32_BACKENDS.map((b): [Precision, Backend] => ["f32", b]),
  ];
  for (const [p, backend] of runs) {
    const label = p === "f64" ? "float64" : `float32, ${backend}`;
    await t.step(`${doc.name} ${label}`, () => {
      const out = withBackend(backend, () => run(p));
      for (const [key, val] of Object.entries(out)) {
        const dot = key.indexOf(".");
        const sec = key.slice(0, dot) as "outputs" | "grads", name = key.slice(dot + 1);
        const ref = doc.expected[p][sec][name];
        assert(ref !== undefined, `${doc.name}: no expected ${p} ${key}`);
        const exp = p === "f64" ? ref.data : Float32Array.from(ref.data);
        const normal = (i: number) => !hugeAt(key, i, val.length);
        const tol = p === "f64" ? 1e-12 : tolFor(key, f32Tol(doc, key), out);
        assertClose(val, exp, tol, `${key} (ordinary entries)`, normal);
        assertClose(val, exp, Math.max(tol, p === "f64" ? 1e-9 : HUGE_F32), `${key} (all)`);
      }
    });
  }
}

/**
 * `hugeAt` for per-row tags: a per-row tensor ([N] or [N,C]) is huge where its
 * row is; any other tensor (a sum over rows) is huge when any row is.
 */
export function rowTagged(tags: string[], C: number) {
  const N = tags.length, any = tags.includes("huge_offset");
  return (_key: string, i: number, len: number) => {
    if (len === N) return tags[i] === "huge_offset";
    if (len === N * C) return tags[Math.floor(i / C)] === "huge_offset";
    return any;
  };
}

/** `hugeAt` for per-feature tags of an [N,C] layout: feature = i mod C. */
export function featureTagged(tags: string[]) {
  return (_key: string, i: number) => tags[i % tags.length] === "huge_offset";
}
