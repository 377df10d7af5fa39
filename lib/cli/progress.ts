/**
 * The one progress printer of the command line: on a terminal a line rewritten in place every
 * 250 ms; elsewhere (when asked, `--progress`) a full line every 2 s. Commands say what the line
 * holds (`counted` for a stream of units, or their own text); the printer decides when and how
 * it reaches stderr.
 *
 * @module
 */

/**
 * A duration for a person: `12.3 s`, `4 min 5 s`, `1 h 58 min` (rounded to the last unit shown,
 * so never `1 min 60 s`).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * assertEquals(fmtSeconds(119.6), "2 min 0 s");
 * assertEquals(fmtSeconds(59.96), "1 min 0 s");
 * assertEquals(fmtSeconds(7080), "1 h 58 min");
 * assertEquals(fmtSeconds(12.34), "12.3 s");
 * ```
 */
export function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return "—";
  if (Math.round(s * 10) / 10 < 60) return `${s.toFixed(1)} s`;
  if (Math.round(s) < 3600) {
    const whole = Math.round(s);
    return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  }
  const min = Math.round(s / 60);
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}

function fmtRate(r: number): string {
  return r >= 1e6
    ? `${(r / 1e6).toFixed(2)}M`
    : r >= 1e3
    ? `${(r / 1e3).toFixed(1)}k`
    : r.toFixed(0);
}

/**
 * A progress line on stderr: `show(text, end)` prints `text` when the last print is old enough
 * (or `end` is set, which also ends a terminal's line) and says whether it printed. Null when
 * stderr is not a terminal and progress was not asked for.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(progressLine(false, false) === null);
 * ```
 */
export function progressLine(
  terminal: boolean,
  asked: boolean,
  pace: { every?: number; after?: number } = {},
):
  | { show(text: string | (() => string), end?: boolean): boolean; readonly started: number }
  | null {
  if (!terminal && !asked) return null;
  const started = performance.now(), enc = new TextEncoder();
  // off a terminal: a full line every `every` ms, the first once `after` ms have passed
  const every = terminal ? 250 : pace.every ?? 2000, after = terminal ? 0 : pace.after ?? 0;
  let last = -Infinity; // the first line at once
  return {
    started,
    show(text, end = false) {
      const now = performance.now();
      if (now - started < after) return false;
      if (!end && now - last < every) return false;
      last = now;
      const t = typeof text === "function" ? text() : text;
      Deno.stderr.writeSync(enc.encode(terminal ? `\r${t}\x1b[K${end ? "\n" : ""}` : `${t}\n`));
      return true;
    },
  };
}

/**
 * Progress of a stream of units (tokens, stack runs): count, rate, the share done and time
 * left when the total is known.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(counted(500, 1000, 2, "tokens") === "500/1000 tokens  250 tok/s  50.0%  ETA 2.0 s");
 * ```
 */
export function counted(
  n: number,
  total: number | undefined,
  secs: number,
  unit: string,
  end = false,
): string {
  const rate = n / Math.max(secs, 1e-9);
  const pct = total ? `  ${(100 * n / total).toFixed(1)}%` : "";
  const eta = total && n > 0 && !end ? `  ETA ${fmtSeconds(((total - n) / n) * secs)}` : "";
  const per = unit === "tokens" ? "tok/s" : `${unit}/s`;
  return `${n}${total ? `/${total}` : ""} ${unit}  ${fmtRate(rate)} ${per}${pct}${eta}`;
}

/**
 * A counter's progress printer (`progressLine` + `counted`): `(n, total, end)`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(progress(false, false) === null);
 * ```
 */
export function progress(
  terminal: boolean,
  asked: boolean,
  unit = "tokens",
): ((n: number, total: number | undefined, end?: boolean) => void) | null {
  const line = progressLine(terminal, asked);
  if (line === null) return null;
  return (n, total, end = false) =>
    line.show(() => counted(n, total, (performance.now() - line.started) / 1000, unit, end), end);
}
