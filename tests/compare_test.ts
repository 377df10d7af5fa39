import { assert, assertAlmostEquals, assertEquals } from "./std_assert.ts";
import { compareRuns, logSlope } from "../lib/model/compare.ts";
import { GPT } from "../lib/model/gpt.ts";
import { XentLoss } from "../lib/model/loss.ts";
import { Rng } from "../lib/model/rng.ts";
import { BLOCK_PARAMS } from "../lib/model/params.ts";
import { lnstream, npyBytes } from "./spawn.ts";

const small = { dim: 32, heads: 4, seq: 16, batch: 2, seeds: 3, seed: 0 };

Deno.test("both placements get the same weights from one init draw", () => {
  for (const scheme of ["gpt2", "xavier"] as const) {
    const pre = new GPT({ nLayer: 4, nHead: 4, nEmbd: 32, placement: "pre" });
    const post = new GPT({ nLayer: 4, nHead: 4, nEmbd: 32, placement: "post" });
    pre.init({ scheme, seed: 3 });
    post.init({ scheme, seed: 3 });
    for (let l = 0; l < 4; l++) {
      for (const p of BLOCK_PARAMS) {
        assertEquals(
          pre.param(`blocks.${l}.${p}`),
          post.param(`blocks.${l}.${p}`),
          `${scheme} ${l} ${p}`,
        );
      }
    }
  }
});

Deno.test("compare's per-layer norms equal layerStats() of each stack run alone", () => {
  const r = compareRuns({
    ...small,
    layers: [2, 4],
    inits: ["xavier"],
    params: ["W_fc", "W_attn"],
  });
  for (const run of r.runs) {
    for (let k = 0; k < small.seeds; k++) {
      const model = new GPT({ nLayer: run.layers, nHead: 4, nEmbd: 32, placement: run.placement });
      model.init({ scheme: "xavier", seed: k });
      const x = new Float32Array(2 * 16 * 32);
      new Rng(k ^ 0x1f2e3d).fillNormal(x);
      const y = model.forward(x, 2, 16);
      const dy = new Float32Array(y.length);
      new XentLoss({ vocab: 256, nEmbd: 32, seed: k, scheme: run.init }).lossAndGrad(y, dy, 32, 32);
      model.zeroGrad();
      model.backward(dy);
      const want = model.layerStats().layer_stats.map((l) => l.grad[run.param]!.l2);
      assertEquals(run.samples[k], want, `${run.placement} L=${run.layers} seed ${k}`);
    }
    const m = run.samples[0].map((_, l) => run.samples.reduce((a, s) => a + s[l], 0) / small.seeds);
    run.mean.forEach((v, l) => assertAlmostEquals(v, m[l], 1e-15 * Math.abs(m[l])));
  }
});

Deno.test("depth scaling under Xavier init: pre-LN's last layer falls with L, post-LN's does not", () => {
  // measured on this config (seeds 0-2 and three other seed sets): pre-LN exponent
  // −0.28…−0.37, post-LN −0.05…+0.04, post/pre at L=8 1.64…1.93
  const r = compareRuns({ ...small, layers: [2, 4, 8], inits: ["xavier"], causal: [true, false] });
  for (const causal of [true, false]) {
    const pre = r.depth.find((d) => d.causal === causal && d.placement === "pre")!;
    const post = r.depth.find((d) => d.causal === causal && d.placement === "post")!;
    assert(pre.exponent !== null && pre.exponent < -0.2, `pre-LN exponent ${pre.exponent}`);
    assert(
      post.exponent !== null && Math.abs(post.exponent) < 0.12,
      `post-LN exponent ${post.exponent}`,
    );
    assert(pre.last[0] > pre.last[1] && pre.last[1] > pre.last[2], `pre-LN last ${pre.last}`);
    const ratio = r.post_pre.find((p) => p.causal === causal)!.ratio;
    assert(ratio[2] > 1.4 && ratio[0] < ratio[1] && ratio[1] < ratio[2], `post/pre ${ratio}`);
  }
});

Deno.test("under GPT-2 init both placements look alike at every depth", () => {
  // measured: post/pre 0.94…0.97, both exponents −0.48…−0.52 (W_proj2 ∝ 1/√(2L))
  const r = compareRuns({ ...small, layers: [2, 4, 8], inits: ["gpt2"] });
  for (const ratio of r.post_pre[0].ratio) assert(Math.abs(ratio - 1) < 0.1, `post/pre ${ratio}`);
  for (const d of r.depth) {
    assert(Math.abs(d.exponent! + 0.5) < 0.1, `${d.placement} ${d.exponent}`);
  }
});

Deno.test("logSlope fits a power law", () => {
  assertAlmostEquals(logSlope([2, 4, 8], [3, 3, 3]), 0, 1e-15);
  assertAlmostEquals(logSlope([2, 4, 8], [2 ** -0.5, 0.5, 8 ** -0.5]), -0.5, 1e-12);
});

/** A small well-formedness check: every tag closed in order, attributes quoted. */
function wellFormed(xml: string): boolean {
  const stack: string[] = [];
  for (const m of xml.matchAll(/<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g)) {
    const [, close, name, , self] = m;
    if (self) continue;
    if (close) {
      if (stack.pop() !== name) return false;
    } else stack.push(name);
  }
  const stripped = xml.replace(/<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g, "");
  return stack.length === 0 && !/[<>]/.test(stripped);
}

Deno.test("compare CLI: --json and the table agree; the SVG has a line per placement and depth", async () => {
  const args = [
    "compare",
    "--layers",
    "2,4,8",
    "--dim",
    "32",
    "--heads",
    "4",
    "--seq",
    "16",
    "--batch",
    "2",
    "--seeds",
    "2",
    "--init",
    "xavier",
  ];
  const table = await lnstream(args);
  assertEquals(table.code, 0, table.stderr);
  const json = await lnstream([...args, "--json"]);
  assertEquals(json.code, 0, json.stderr);
  const doc = JSON.parse(json.text);
  assertEquals(doc.runs.length, 6);
  // every mean in the JSON appears in its table row, to the table's 4 digits
  const lines = table.text.split("\n");
  for (const run of doc.runs) {
    const head = lines.findIndex((l) => l.startsWith(`‖∂L/∂W_fc‖ — L = ${run.layers},`));
    assert(head >= 0);
    for (let l = 0; l < run.layers; l++) {
      const row = lines[head + 2 + l];
      const cells = [...row.matchAll(/(\d\.\d{3}e[+-]\d+) ±/g)].map((m) => Number(m[1]));
      assertEquals(cells[run.placement === "pre" ? 0 : 1], Number(run.mean[l].toExponential(3)));
    }
  }
  // the spread: sample stds (n − 1) of the JSON's per-seed samples, and of per-seed exponents
  for (const run of doc.runs) {
    const s: number[][] = run.samples, n = s.length;
    assert(n > 1);
    run.std.forEach((sd: number, l: number) => {
      const m = s.reduce((a, r) => a + r[l], 0) / n;
      const want = Math.sqrt(s.reduce((a, r) => a + (r[l] - m) ** 2, 0) / (n - 1));
      assert(Math.abs(sd - want) <= 1e-12 * want, `${sd} vs ${want}`);
    });
  }
  for (const d of doc.depth) {
    const logL = d.layers.map(Math.log);
    const slopes = doc.runs[0].samples.map((_: number[], k: number) => {
      const y = d.layers.map((L: number) =>
        Math.log(
          doc.runs.find((r: { layers: number; placement: string; init: string }) =>
            r.layers === L && r.placement === d.placement && r.init === d.init
          ).samples[k][L - 1],
        )
      );
      const mx = logL.reduce((a: number, b: number) => a + b, 0) / logL.length;
      const my = y.reduce((a: number, b: number) => a + b, 0) / y.length;
      let num = 0, den = 0;
      logL.forEach((x: number, i: number) => {
        num += (x - mx) * (y[i] - my);
        den += (x - mx) ** 2;
      });
      return num / den;
    });
    const em = slopes.reduce((a: number, b: number) => a + b, 0) / slopes.length;
    const sd = Math.sqrt(
      slopes.reduce((a: number, e: number) => a + (e - em) ** 2, 0) / (slopes.length - 1),
    );
    assert(Math.abs(d.exponent_std - sd) < 1e-9, `${d.exponent_std} vs ${sd}`);
  }
  for (const d of doc.depth) {
    const row = lines.find((l) => l.includes(`${d.placement}-LN`) && l.startsWith("W_fc"))!;
    assert(row.trim().endsWith(`${d.exponent!.toFixed(3)} ± ${d.exponent_std!.toFixed(3)}`), row);
  }
  const tmp = await Deno.makeTempDir();
  const svgPath = `${tmp}/g.svg`;
  const svg = await lnstream([...args, "--svg", svgPath], "", [
    `--allow-read=${tmp}`,
    `--allow-write=${tmp}`,
  ]);
  assertEquals(svg.code, 0, svg.stderr);
  const text = await Deno.readTextFile(svgPath);
  assert(text.startsWith("<svg") && text.trim().endsWith("</svg>"));
  assert(wellFormed(text), "SVG is not well-formed");
  const lines2 = [...text.matchAll(/<polyline data-placement="(\w+)" data-layers="(\d+)"/g)]
    .map((m) => `${m[1]}/${m[2]}`).sort();
  assertEquals(lines2, ["post/2", "post/4", "post/8", "pre/2", "pre/4", "pre/8"]);
  // the deepest lines labelled beside their ends, the depths in a legend, no leader lines
  for (const label of [">pre-LN</text>", ">post-LN</text>", ">L = 2</text>", ">L = 8</text>"]) {
    assert(text.includes(label), label);
  }
  assert(!/<line[^>]*stroke-opacity/.test(text), "no leader lines");
  // placements differ by dash too (norms by marker), seeds show as bands, the settings as a
  // caption
  assert(/data-placement="post"[^>]*stroke-dasharray/.test(text), "post-LN lines are dashed");
  assert(!/data-placement="pre"[^>]*stroke-dasharray/.test(text), "pre-LN lines are solid");
  assertEquals((text.match(/<polygon/g) ?? []).length, 6); // a band per line
  // LayerNorm's marker at every layer of every line: (2 + 4 + 8) × 2, and one in each legend item
  assertEquals((text.match(/<circle/g) ?? []).length, 28 + 2, "markers");
  assert(text.includes("heads, T=") && text.includes("over 256 classes"), "caption");
  // --csv: tidy rows that equal the JSON runs
  const csvPath = `${tmp}/g.csv`;
  const csv = await lnstream([...args, "--csv", csvPath], "", [
    `--allow-read=${tmp}`,
    `--allow-write=${tmp}`,
  ]);
  assertEquals(csv.code, 0, csv.stderr);
  const rows = (await Deno.readTextFile(csvPath)).trim().split("\n");
  assertEquals(rows[0], "init,causal,layers,placement,param,layer,mean,std,norm,variant");
  assertEquals(
    rows.length - 1,
    doc.runs.reduce((a: number, r: { layers: number }) => a + r.layers, 0),
  );
  const [init, causal, L, placement, param, layer, mean] = rows[1].split(",");
  const first = doc.runs.find((r: Record<string, unknown>) =>
    r.init === init && String(r.causal) === causal && r.layers === Number(L) &&
    r.placement === placement && r.param === param
  );
  assertEquals(Number(mean), first.mean[Number(layer)]);
  const denied = await lnstream([...args, "--csv", `${tmp}/no.csv`]);
  assertEquals(denied.code, 77);
  assert(denied.stderr.includes("--allow-write"), denied.stderr);
});

Deno.test("compare --stdin takes its input tokens from a dataset", async () => {
  const gen = await lnstream(["gen", "--tokens", "32", "--dim", "16", "--seed", "2"]);
  const args = [
    "compare",
    "--stdin",
    "--layers",
    "2",
    "--heads",
    "2",
    "--seq",
    "8",
    "--batch",
    "4",
    "--seeds",
    "1",
    "--init",
    "xavier",
    "--json",
  ];
  const a = await lnstream(args, gen.stdout);
  assertEquals(a.code, 0, a.stderr);
  const doc = JSON.parse(a.text);
  assertEquals(doc.config.dim, 16);
  assertEquals(doc.config.input, "stdin");
  const few = await lnstream(args, gen.stdout.slice(0, 200));
  assertEquals(few.code, 65);
});

Deno.test("the xent head follows the init scheme (mean |W| = √(2/π)·std)", () => {
  const C = 64, V = 256;
  for (
    const [scheme, std] of [["xavier", Math.sqrt(2 / (C + V))], ["gpt2", 0.02]] as const
  ) {
    const W = new XentLoss({ vocab: V, nEmbd: C, seed: 3, scheme }).W;
    const meanAbs = W.reduce((a, v) => a + Math.abs(v), 0) / W.length;
    const want = Math.sqrt(2 / Math.PI) * std;
    assert(Math.abs(meanAbs / want - 1) < 0.03, `${scheme}: mean |W| ${meanAbs} vs ${want}`);
  }
});

Deno.test("compare CLI: one depth has no exponent (— and null); --layers , is a usage error", async () => {
  const r = await lnstream(["compare", "--layers", "2", "--seeds", "1", "--dim", "16", "--json"]);
  assertEquals(r.code, 0, r.stderr);
  const doc = JSON.parse(r.text);
  assert(doc.depth.every((d: { exponent: number | null }) => d.exponent === null));
  const table = await lnstream(["compare", "--layers", "2", "--seeds", "1", "--dim", "16"]);
  assert(table.text.includes("—"), table.text);
  const empty = await lnstream(["compare", "--layers", ","]);
  assertEquals(empty.code, 64);
  assert(empty.stderr.includes("--layers needs at least one value"), empty.stderr);
  // --stdin says when the input holds more than the B·T tokens it uses
  const x = new Float32Array(3 * 4 * 16).map((_, i) => Math.sin(i));
  const more = await lnstream(
    ["compare", "--stdin", "--layers", "2", "--seeds", "1", "--batch", "2", "--seq", "4", "--json"],
    npyBytes(x, [12, 16]),
  );
  assertEquals(more.code, 0, more.stderr);
  assert(more.stderr.includes("used the first 8 tokens"), more.stderr);
});

/** Runs a README compare command writing an SVG; asserts it equals the checked-in `docs/name`. */
async function reproduces(args: string[], name: string) {
  const tmp = await Deno.makeTempDir();
  try {
    const r = await lnstream(["compare", ...args, "--svg", `${tmp}/c.svg`], "", [
      `--allow-read=${tmp}`,
      `--allow-write=${tmp}`,
    ]);
    assertEquals(r.code, 0, r.stderr);
    const fresh = await Deno.readTextFile(`${tmp}/c.svg`);
    const checkedIn = await Deno.readTextFile(new URL(`../docs/${name}`, import.meta.url));
    assert(fresh === checkedIn, `docs/${name} differs from what README's command writes`);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

Deno.test("README's compare command reproduces docs/compare.svg byte for byte", async () => {
  await reproduces(["--init", "gpt2,xavier", "--seeds", "5"], "compare.svg");
});

Deno.test("README's zoo command reproduces docs/zoo.svg byte for byte", async () => {
  await reproduces(
    ["--layers", "12", "--placement", "pre,post,peri,deepnorm,mix", "--seeds", "3"],
    "zoo.svg",
  );
});
