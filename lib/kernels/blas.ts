/**
 * The `blas` backend: the `wasm` kernels, with every matrix product (the dense layers and the
 * attention products) handed to the system OpenBLAS's `cblas_sgemm` through Deno's FFI. Needs
 * `--allow-ffi` (it may be scoped to the library's path) and Debian's `libopenblas0-pthread`
 * (or any OpenBLAS build given by path).
 *
 * @module
 */
import { WasmKernels } from "./wasm.ts";
import type { Arena } from "./arena.ts";

/** Where `blas` looks for OpenBLAS when no path is given, in order. */
export const BLAS_SEARCH_PATHS: readonly string[] = [
  "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
  "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
  "/usr/lib64/libopenblas.so.0",
  "/usr/lib/libopenblas.so.0",
  "/usr/local/lib/libopenblas.so.0",
  "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
  "/usr/local/opt/openblas/lib/libopenblas.dylib",
];

/** The OpenBLAS symbols lnstream calls, for `Deno.dlopen`. */
export const BLAS_SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32", // order
      "i32", // transA
      "i32", // transB
      "i32", // M
      "i32", // N
      "i32", // K
      "f32", // alpha
      "buffer", // A
      "i32", // lda
      "buffer", // B
      "i32", // ldb
      "f32", // beta
      "buffer", // C
      "i32", // ldc
    ],
    result: "void",
  },
  openblas_set_num_threads: { parameters: ["i32"], result: "void" },
} as const;

/** The opened OpenBLAS: `cblas_sgemm` and `openblas_set_num_threads`. */
export type BlasLib = Deno.DynamicLibrary<typeof BLAS_SYMBOLS>;

/** A clear error for a `blas` backend that cannot start. */
export class BlasUnavailableError extends Error {
  /** the error's name */
  override name = "BlasUnavailableError";
  /** the CLI's exit code: 77 for a missing permission, 64 for a missing library */
  readonly exitCode: 64 | 77;
  /** An error with its message and exit code. */
  constructor(message: string, exitCode: 64 | 77 = 64) {
    super(message);
    this.exitCode = exitCode;
  }
}

const opened = new Map<string, BlasLib>();

/**
 * Opens OpenBLAS (once per path and thread) and pins it to one thread, so each worker runs
 * its own products. Throws `BlasUnavailableError` naming the package or the permission.
 *
 * @example
 * ```ts ignore
 * const lib = openBlas(); // needs --allow-ffi and libopenblas0-pthread
 * ```
 */
export function openBlas(path?: string): BlasLib {
  const candidates = path ? [path] : BLAS_SEARCH_PATHS;
  let lastError = "";
  for (const p of candidates) {
    const had = opened.get(p);
    if (had) return had;
    if (!path) {
      try {
        Deno.statSync(p);
      } catch (e) {
        if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
          // without read permission we cannot look; try to open it anyway
        } else continue;
      }
    }
    try {
      const lib = Deno.dlopen(p, BLAS_SYMBOLS);
      lib.symbols.openblas_set_num_threads(1);
      opened.set(p, lib);
      return lib;
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
        throw new BlasUnavailableError(
          `the blas backend needs FFI permission: run with --allow-ffi=${p} (or --allow-ffi)`,
          77,
        );
      }
      lastError = `${p}: ${(e as Error).message}`;
    }
  }
  throw new BlasUnavailableError(
    path
      ? `cannot load OpenBLAS from ${lastError || path}`
      : `OpenBLAS not found (looked in ${BLAS_SEARCH_PATHS.join(", ")}): install it ` +
        `(Debian/Ubuntu: apt-get install libopenblas0-pthread) or give its path ` +
        "(the `blasLib` option)",
  );
}

const ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;

/**
 * `WasmKernels` whose matrix products run in OpenBLAS `cblas_sgemm` on the arena's memory.
 *
 * @example
 * ```ts ignore
 * import { Arena } from "./arena.ts";
 * const k = new BlasKernels(new Arena()); // needs --allow-ffi and OpenBLAS
 * ```
 */
export class BlasKernels extends WasmKernels {
  /** which backend this is */
  override readonly name = "blas" as const;
  #lib: BlasLib;

  /** Kernels on `arena`, with OpenBLAS from `path` (or searched). */
  constructor(arena: Arena, path?: string) {
    super(arena);
    this.#lib = openBlas(path);
  }

  /**
   * A view starting at `byteOffset` of the arena, passed as a buffer (not a raw pointer:
   * `Deno.UnsafePointer` would need FFI permission beyond the library's path).
   */
  #at(byteOffset: number): Uint8Array {
    return new Uint8Array(this.arena.buffer, byteOffset, 1);
  }

  /** As `WasmKernels.gemm`, through `cblas_sgemm` (one operand stride must be 1 each). */
  override gemm(
    M: number,
    N: number,
    K: number,
    alpha: number,
    A: number,
    ars: number,
    acs: number,
    B: number,
    brs: number,
    bcs: number,
    C: number,
    ldc: number,
    bias: number,
    acc: boolean,
  ): void {
    if (M <= 0 || N <= 0) return;
    let ta: number, lda: number, tb: number, ldb: number;
    if (acs === 1) [ta, lda] = [NO_TRANS, Math.max(ars, K, 1)];
    else if (ars === 1) [ta, lda] = [TRANS, Math.max(acs, M, 1)];
    else return super.gemm(M, N, K, alpha, A, ars, acs, B, brs, bcs, C, ldc, bias, acc);
    if (bcs === 1) [tb, ldb] = [NO_TRANS, Math.max(brs, N, 1)];
    else if (brs === 1) [tb, ldb] = [TRANS, Math.max(bcs, K, 1)];
    else return super.gemm(M, N, K, alpha, A, ars, acs, B, brs, bcs, C, ldc, bias, acc);
    let beta = acc ? 1 : 0;
    if (!acc && bias !== 0) {
      // C = bias, then C += A @ B; fillRows writes packed rows, so strided rows go one by one
      if (ldc === N) this.x.fillRows(C, bias, M, N);
      else for (let i = 0; i < M; i++) this.x.fillRows(C + 4 * i * ldc, bias, 1, N);
      beta = 1;
    }
    if (K === 0) {
      if (beta === 0) {
        for (let i = 0; i < M; i++) new Float32Array(this.arena.buffer, C + 4 * i * ldc, N).fill(0);
      }
      return;
    }
    this.#lib.symbols.cblas_sgemm(
      ROW_MAJOR,
      ta,
      tb,
      M,
      N,
      K,
      alpha,
      this.#at(A),
      lda,
      this.#at(B),
      ldb,
      beta,
      this.#at(C),
      ldc,
    );
  }
}
