// stats merge proves that shards add up: token ranges that neither overlap nor leave gaps, no
// partial shard, one run's config, and states that are exact sums consistent with the numbers
// beside them. The merged summary equals one whole run's, batches included.
import { assert, assertEquals, assertStringIncludes } from "./std_assert.ts";
import { Rng } from "../lib/model/rng.ts";
import { lnstream, npyBytes, ROOT_PATH, untimed } from "./spawn.ts";

const dir = await Deno.makeTempDir({ prefix: "lnstream-merge-" });
const read = [`--allow-read=${ROOT_PATH},${dir}`];
const N = 300, C = 8, x = new Float32Array(N * C);
new Rng(5).fillNormal(x, 1, 2);

/** The summary of normalize over tokens [a, b) run as a shard. */
async function shard(name: string, a: number, b: number, extra: string[] = []): Promise<string> {
  const r = await lnstream(
    ["normalize", "--batch", "50", "--offset", String(a), "--quiet", "--stats", "-", ...extra],
    npyBytes(x.subarray(a * C, b * C), [b - a, C]),
  );
  assertEquals(r.code, 0, r.stderr);
  const path = `${dir}/${name}.stats`;
  await Deno.writeTextFile(path, r.stderr);
  return path;
}

const merge = (files: string[], extra: string[] = []) =>
  lnstream(["stats", "merge", ...files, ...extra], "", read);

/** One line, the exit code, the words. */
function refused(r: { code: number; stderr: string }, code: number, ...has: string[]) {
  assertEquals(r.code, code, r.stderr);
  assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
  for (const h of has) assertStringIncludes(r.stderr, h);
}

const a = await shard("a", 0, 100), b = await shard("b", 100, 200), c = await shard("c", 200, 300);
const whole = await lnstream(
  ["normalize", "--batch", "50", "--quiet", "--stats", "-"],
  npyBytes(x, [N, C]),
);
const wholeSummary = untimed(whole.stderr).at(-1) as Record<string, unknown>;

Deno.test("merge of shards in any order equals one whole run, batches and range included", async () => {
  const m = await merge([c, a, b]);
  assertEquals(m.code, 0, m.stderr);
  const merged = untimed(m.text)[0] as Record<string, unknown>;
  assertEquals(merged, wholeSummary);
  assertEquals([merged.offset, merged.tokens, merged.batches], [0, 300, 6]);
  // a merged summary merges again (a tree of merges)
  await Deno.writeTextFile(`${dir}/ab.stats`, m.text.replace(/\n$/, "") + "\n");
  const ab = await merge([a, b]);
  await Deno.writeTextFile(`${dir}/ab.stats`, ab.text);
  const again = await merge([`${dir}/ab.stats`, c]);
  assertEquals(again.code, 0, again.stderr);
  assertEquals(untimed(again.text)[0], wholeSummary);
});

Deno.test("a shard given twice, shards that overlap or all start at --offset 0: refused (65)", async () => {
  refused(await merge([a, b, a]), 65, "duplicates", "a.stats (tokens 0–99)");
  const ab0 = await shard("b0", 0, 100); // --offset 0 for the second shard as well
  refused(await merge([a, ab0]), 65, "b0.stats (tokens 0–99) duplicates");
  const over = await shard("over", 50, 150);
  refused(await merge([a, over, c]), 65, "overlaps", "give each shard its own --offset");
});

Deno.test("a missing shard is a gap: refused, or merged and listed with --allow-gaps", async () => {
  refused(await merge([a, c]), 65, "no shard covers tokens 100–199", "--allow-gaps");
  const m = await merge([a, c], ["--allow-gaps"]);
  assertEquals(m.code, 0, m.stderr);
  assertStringIncludes(m.stderr, "merged across 1 gap(s): tokens 100–199");
  const s = JSON.parse(m.text);
  assertEquals(s.gaps, [[100, 200]]);
  assertEquals([s.offset, s.tokens], [0, 200]);
});

Deno.test("a partial shard (its output closed early) is refused unless --allow-partial, which says so", async () => {
  const partial = JSON.parse(await Deno.readTextFile(b).then((t) => t.trim().split("\n").at(-1)!));
  // as a run whose stdout closed after its first batch writes it: the summary of what was done
  const first = await lnstream(
    ["normalize", "--batch", "50", "--offset", "100", "--quiet", "--stats", "-"],
    npyBytes(x.subarray(100 * C, 150 * C), [50, C]),
  );
  const closed = { ...JSON.parse(first.stderr.trim().split("\n").at(-1)!), output_closed: true };
  assert(partial.tokens === 100 && closed.tokens === 50);
  await Deno.writeTextFile(`${dir}/partial.stats`, JSON.stringify(closed) + "\n");
  refused(await merge([a, `${dir}/partial.stats`]), 65, "partial shard", "--allow-partial");
  const m = await merge([a, `${dir}/partial.stats`], ["--allow-partial"]);
  assertEquals(m.code, 0, m.stderr);
  assertEquals(JSON.parse(m.text).output_closed, true);
});

Deno.test("tampered state is bad data naming the file and the field (65)", async (t) => {
  const base = JSON.parse((await Deno.readTextFile(b)).trim().split("\n").at(-1)!);
  // deno-lint-ignore no-explicit-any
  const cases: [string, (s: Record<string, any>) => void, string][] = [
    ["n: -100", (s) => (s.state.input.n = -100), "state.input.n"],
    ["a loss partial of 1e308", (s) => s.state.loss.push(1e308), "state.loss"],
    ["a loss partial of 1e308 with its loss", (s) => {
      s.state.loss = [1e308];
      s.loss = 1e308;
    }, "state.loss"],
    ['min: "abc"', (s) => (s.state.output.min = "abc"), "state.output.min"],
    ["tokens that are not tokens × C", (s) => (s.state.input.tokens += 1), "state.input.n"],
    ["a squared norm below 0", (s) => (s.state.dx.sq = [-4]), "state.dx.sq"],
    ["a mean that does not follow from the state", (s) => (s.input.mean += 1), "input"],
    ["no token range (0.3)", (s) => delete s.offset, "no token range"],
    ["offset not a whole number", (s) => (s.offset = 1.5), "offset"],
    ["tokens_out above tokens_in", (s) => (s.tokens_out += 1), "tokens_out"],
  ];
  for (const [what, edit, field] of cases) {
    await t.step(what, async () => {
      const s = structuredClone(base);
      edit(s);
      const path = `${dir}/bad.stats`;
      await Deno.writeTextFile(path, JSON.stringify(s) + "\n");
      refused(await merge([a, path, c]), 65, "bad.stats", field);
    });
  }
  await t.step("null and junk", async () => {
    await Deno.writeTextFile(`${dir}/null.stats`, "null\n");
    refused(await merge([`${dir}/null.stats`]), 65, "null.stats: line 1: not a stats record");
    await Deno.writeTextFile(`${dir}/junk.stats`, "{oops\n");
    refused(await merge([`${dir}/junk.stats`]), 65, "junk.stats: line 1: not JSON");
  });
});

Deno.test("runs that differ: the message names both files and what differs", async () => {
  const other = await shard("seed7", 100, 200, ["--seed", "7"]);
  refused(await merge([a, other]), 65, "a.stats and", "seed7.stats", "config.seed 0 vs 7");
});

Deno.test("stats merge reads stdin for -, needs read permission (77), writes -o safely", async () => {
  const fromStdin = await lnstream(["stats", "merge", a, "-", c], await Deno.readTextFile(b), read);
  assertEquals(fromStdin.code, 0, fromStdin.stderr);
  assertEquals(untimed(fromStdin.text)[0], wholeSummary);
  refused(await lnstream(["stats", "merge", a]), 77, `--allow-read=${a}`);
  const out = await lnstream(
    ["stats", "merge", a, b, c, "-o", `${dir}/m.stats`],
    "",
    [...read, `--allow-write=${dir}`],
  );
  assertEquals(out.code, 0, out.stderr);
  assertEquals(untimed(await Deno.readTextFile(`${dir}/m.stats`))[0], wholeSummary);
});
