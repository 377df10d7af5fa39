/**
 * The arena: one `WebAssembly.Memory({ shared: true })` from which parameters, gradients,
 * activations and scratch are carved, so the WebAssembly kernels compute in place and workers
 * share everything without copies. Its `.buffer` is a `SharedArrayBuffer`; what the rest of the
 * code sees are `Float32Array` views on it.
 *
 * Allocation is a bump pointer kept in the memory itself (updated with `Atomics`), so a worker
 * that attaches to the same memory allocates from the same arena safely. Nothing is freed: an
 * arena lives as long as whatever owns it (a model, a stream) and is collected with it.
 *
 * @module
 */
import { KERNEL_ARITY, type KernelExports, KERNELS_WASM_BASE64 } from "./wasm/kernels.generated.ts";

export type { KernelExports };

/**
 * Checks an instance's exports against the generated bindings: every export there, a function
 * taking as many arguments as the AssemblyScript source declares. A module that does not match
 * is an `Error` naming the export (a build out of step with its bindings), never a silent cast.
 *
 * @example
 * ```ts
 * import { assertThrows } from "@std/assert";
 * assertThrows(() => checkExports({ init() {} }), Error, "the kernel module lacks");
 * ```
 */
export function checkExports(exports: Record<string, unknown>): KernelExports {
  for (const [name, arity] of Object.entries(KERNEL_ARITY)) {
    const f = exports[name];
    if (typeof f !== "function") throw new Error(`the kernel module lacks its export ${name}`);
    if (f.length !== arity) {
      throw new Error(
        `the kernel module's ${name} takes ${f.length} arguments, its bindings say ${arity}: ` +
          `rebuild them (deno task build:wasm)`,
      );
    }
  }
  return exports as unknown as KernelExports;
}

const PAGE = 65536;
/** wasm32 memories hold at most 65536 pages of 64 KiB: 4 GiB. */
const MAX_PAGES = 65536;
/**
 * The first bytes hold the allocator's state (bytes 0–7) and the kernels' constant table
 * (from byte 64, `reservedBytes()` long); pointer 0 stays free to mean "none".
 */
const HEADER = 1024;

let compiled: WebAssembly.Module | null = null;

/**
 * The kernel module, compiled once per thread from the embedded bytes unless a compiled one
 * was adopted (`adoptKernelModule`).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(kernelModule() === kernelModule());
 * ```
 */
export function kernelModule(): WebAssembly.Module {
  if (compiled === null) {
    const bin = atob(KERNELS_WASM_BASE64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    compiled = new WebAssembly.Module(bytes);
  }
  return compiled;
}

/**
 * Uses a kernel module compiled by another thread (posted to this one) instead of compiling
 * the embedded bytes again: threads that share a module share its machine code, so code that
 * one thread's calls have optimized is fast in every thread at once. Before any `Arena`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * adoptKernelModule(kernelModule());
 * assert(kernelModule() instanceof WebAssembly.Module);
 * ```
 */
export function adoptKernelModule(module: WebAssembly.Module): void {
  compiled ??= module;
}

const byBuffer = new WeakMap<ArrayBufferLike, Arena>();

/** What `new Arena(...)` takes. */
export interface ArenaOptions {
  /** bytes to reserve up front (grown on demand up to 4 GiB); default 1 MiB */
  bytes?: number;
  /** attach to an existing arena's memory (e.g. one posted to a worker) instead of a new one */
  memory?: WebAssembly.Memory;
}

/**
 * A shared WebAssembly memory with a bump allocator and this thread's instance of the kernels.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { layerNormForward } from "./layernorm.ts";
 * const arena = new Arena();
 * const x = arena.alloc(8), y = arena.alloc(8), mean = arena.alloc(2), rstd = arena.alloc(2);
 * x.set([1, 2, 3, 4, 10, 10, 10, 14]);
 * layerNormForward(y, mean, rstd, x, null, null, 2, 4); // runs in WebAssembly: all in the arena
 * assert(Arena.of(y) === arena && Math.abs(y[7] - 1.7320) < 1e-3);
 * ```
 */
export class Arena {
  /** the shared memory; post it to a worker and attach there with `new Arena({ memory })` */
  readonly memory: WebAssembly.Memory;
  /** the kernel module's exports, bound to this memory, for this thread */
  readonly exports: KernelExports;
  #head: Uint32Array;

  /** A new arena (or this thread's handle on an existing one, with `memory`). */
  constructor(opts: ArenaOptions = {}) {
    if (opts.memory) {
      if (!(opts.memory.buffer instanceof SharedArrayBuffer)) {
        throw new TypeError(
          "an arena's memory must be shared (WebAssembly.Memory({ shared: true }))",
        );
      }
      this.memory = opts.memory;
    } else {
      const bytes = opts.bytes ?? 1 << 20;
      if (!(bytes >= 0 && bytes <= MAX_PAGES * PAGE)) {
        throw new RangeError(`an arena holds at most 4 GiB, asked for ${bytes} bytes`);
      }
      const initial = Math.max(1, Math.ceil((bytes + HEADER) / PAGE));
      this.memory = new WebAssembly.Memory({ initial, maximum: MAX_PAGES, shared: true });
    }
    this.#head = new Uint32Array(this.memory.buffer, 0, 2);
    Atomics.compareExchange(this.#head, 0, 0, HEADER); // a new memory: start past the header
    const instance = new WebAssembly.Instance(kernelModule(), { env: { memory: this.memory } });
    this.exports = checkExports(instance.exports);
    if (this.exports.reservedBytes() > HEADER) {
      throw new Error("kernel constants overlap the arena");
    }
    this.exports.init();
    this.#register();
  }

  /** The arena a typed array lives in, if any. */
  static of(a: ArrayBufferView | null | undefined): Arena | undefined {
    return a ? byBuffer.get(a.buffer) : undefined;
  }

  /** The current buffer (registered, so views on it are recognized as the arena's). */
  get buffer(): SharedArrayBuffer {
    return this.#register();
  }

  /** Bytes handed out so far, header included. */
  get used(): number {
    return Atomics.load(this.#head, 0);
  }

  #register(): SharedArrayBuffer {
    const b = this.memory.buffer as unknown as SharedArrayBuffer;
    if (!byBuffer.has(b)) byBuffer.set(b, this);
    return b;
  }

  /**
   * Reserves `bytes` (aligned to `align`) and returns the byte offset; grows the memory when
   * needed. Throws a `RangeError` naming the sizes when 4 GiB would not hold it.
   */
  allocBytes(bytes: number, align = 64): number {
    if (!(Number.isInteger(bytes) && bytes >= 0)) {
      throw new RangeError(`allocation size must be a whole number of bytes, got ${bytes}`);
    }
    for (;;) {
      const cur = Atomics.load(this.#head, 0);
      const start = Math.ceil(cur / align) * align;
      const end = start + bytes;
      if (end > MAX_PAGES * PAGE) {
        throw new RangeError(
          `the arena cannot grow to ${mib(end)} MiB: WebAssembly memory holds at most 4096 MiB ` +
            `(${mib(cur)} MiB in use, ${mib(bytes)} MiB asked for); use fewer tokens per batch, ` +
            `fewer layers, or the ts backend`,
        );
      }
      this.#reserve(end);
      if (Atomics.compareExchange(this.#head, 0, cur, end) === cur) return start;
    }
  }

  #reserve(end: number) {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    try {
      this.memory.grow(Math.ceil((end - have) / PAGE));
    } catch (e) {
      // another thread may have grown it meanwhile
      if (this.memory.buffer.byteLength >= end) return;
      throw new RangeError(
        `the arena cannot grow to ${mib(end)} MiB (${(e as Error).message}); use fewer tokens ` +
          `per batch, fewer layers, or the ts backend`,
      );
    }
  }

  /** A fresh zeroed `Float32Array` of `n` elements in the arena (64-byte aligned). */
  alloc(n: number): Float32Array {
    const p = this.allocBytes(n * 4);
    return new Float32Array(this.#register(), p, n);
  }

  /** A fresh zeroed `Float64Array` of `n` elements in the arena. */
  allocF64(n: number): Float64Array {
    const p = this.allocBytes(n * 8);
    return new Float64Array(this.#register(), p, n);
  }

  /** A fresh zeroed `Uint8Array` of `n` bytes in the arena (text, for `formatRows`). */
  allocU8(n: number): Uint8Array {
    const p = this.allocBytes(n);
    return new Uint8Array(this.#register(), p, n);
  }

  /** A fresh zeroed `Uint32Array` of `n` elements in the arena (line ends, for `formatRows`). */
  allocU32(n: number): Uint32Array {
    const p = this.allocBytes(n * 4);
    return new Uint32Array(this.#register(), p, n);
  }

  /** A `Float32Array` view of `n` elements at byte offset `ptr`. */
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.#register(), ptr, n);
  }
}

function mib(bytes: number): string {
  return (bytes / (1 << 20)).toFixed(1);
}
