/**
 * SIGINT and SIGTERM for every command: by default the process exits at once with 130 or 143
 * (and `Deno.exit` removes the temporary files of outputs not yet committed, so the files they
 * would have replaced stay as they were). A command may take a signal over while it runs:
 * `normalize`'s output finishes the chunk it is writing, `train` finishes its step and saves.
 *
 * @module
 */

/** Exit codes by signal. */
const CODES: Record<"SIGINT" | "SIGTERM", number> = { SIGINT: 130, SIGTERM: 143 };

let handler: ((code: number) => void) | null = null;

/**
 * Listens for SIGINT and SIGTERM until the returned function is called (by `main`, around a
 * command).
 *
 * @example
 * ```ts
 * const stop = listenForSignals();
 * stop();
 * ```
 */
export function listenForSignals(): () => void {
  const listeners = (Object.keys(CODES) as (keyof typeof CODES)[]).map((sig) => {
    const h = () => (handler ? handler(CODES[sig]) : Deno.exit(CODES[sig]));
    try {
      Deno.addSignalListener(sig, h);
    } catch {
      // a platform without this signal
    }
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of listeners) {
      try {
        Deno.removeSignalListener(sig, h);
      } catch {
        // not added
      }
    }
  };
}

/**
 * Takes SIGINT/SIGTERM over: `h` hears the exit code (130 or 143) instead of the process
 * exiting; the returned function gives them back.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * let heard = 0;
 * const giveBack = onStopSignal((code) => (heard = code));
 * giveBack();
 * assert(heard === 0);
 * ```
 */
export function onStopSignal(h: (code: number) => void): () => void {
  handler = h;
  return () => {
    if (handler === h) handler = null;
  };
}
