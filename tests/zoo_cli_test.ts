// The normalization zoo on the command line: run, compare and train take --placement, --norm,
// --qk-norm, --mix-post, --dyt-alpha; checkpoints record them; old checkpoints still load.
import { assert, assertEquals, assertStringIncludes } from "./std_assert.ts";
import { lnstream, ROOT_PATH, TINY_MODEL, TRAIN_DATA } from "./spawn.ts";

const TOKENS = async () =>
  (await lnstream(["gen", "--tokens", "48", "--dim", "16", "--seq", "8"])).stdout;

Deno.test("run: every zoo flag reaches the model and the summary; 1 and 2 workers give the same bytes", async () => {
  const x = await TOKENS();
  const args = ["run", "--layers", "3", "--heads", "2", "--batch", "2", "--quiet", "--stats", "-"];
  const zoo = [
    "--placement",
    "mix",
    "--mix-post",
    "2",
    "--norm",
    "dyt",
    "--dyt-alpha",
    "0.7",
    "--qk-norm",
  ];
  const one = await lnstream([...args, ...zoo, "--workers", "1"], x);
  const two = await lnstream([...args, ...zoo, "--workers", "2"], x);
  assertEquals(one.code, 0, one.stderr);
  assertEquals(one.stdout, two.stdout);
  const summary = JSON.parse(one.stderr.trim().split("\n").at(-1)!);
  const c = summary.config;
  assertEquals(
    [c.placement, c.norm, c.qkNorm, c.mixPost, c.dytAlpha, c.finalNorm],
    ["mix", "dyt", true, 2, 0.7, true],
  );
  // DyT's scalars have gradients in the per-layer statistics
  assert(
    summary.grad.layer_stats[0].grad.ln1_a.numel === 1,
    JSON.stringify(summary.grad.layer_stats[0]),
  );
  // and the variant changes the numbers: pre-LN LayerNorm gives other outputs
  const pre = await lnstream([...args, "--workers", "1"], x);
  assert(
    pre.stdout.length === one.stdout.length &&
      !pre.stdout.every((b, i) => b === one.stdout[i]),
  );
});

Deno.test("run, compare, train: a bad zoo flag is exit 64 with one line naming it", async (t) => {
  const cases: [string[], string][] = [
    [
      ["run", "--placement", "sandwich"],
      "--placement must be one of pre, post, peri, deepnorm, mix",
    ],
    [["run", "--norm", "batch"], "--norm must be one of layer, rms, dyt"],
    [["run", "--placement", "pre,post"], "--placement takes one value"],
    [["run", "--mix-post", "1"], "--mix-post is for --placement mix"],
    [["run", "--placement", "mix", "--layers", "4", "--mix-post", "5"], "--mix-post"],
    [["run", "--dyt-alpha", "1"], "--dyt-alpha is for --norm dyt"],
    [["run", "--norm", "dyt", "--dyt-alpha", "Infinity"], "--dyt-alpha"],
    [["compare", "--norm", "layer,,rms"], "--norm"],
    [["compare", "--placement", "pre,pre"], "lists 'pre' twice"],
    [["compare", "--norm", "rms", "--param", "ln1_b"], "a pre-rms block has no ln1_b"],
    [["train", "--norm", "layer,rms"], "--norm takes one value"],
    [["train", "--grid", "--norm", "layer,bn"], "--norm must be a comma list of layer, rms, dyt"],
    [["train", "--placement", "mix", "--mix-post", "9"], "--mix-post"],
  ];
  for (const [args, says] of cases) {
    await t.step(args.join(" "), async () => {
      const r = await lnstream(args);
      assertEquals(r.code, 64, r.stderr);
      assertStringIncludes(r.stderr, says);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    });
  }
});

Deno.test("compare: placements × norms; JSON, CSV, chart and the table name the variant", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = [`--allow-read=${ROOT_PATH},${dir}`, `--allow-write=${dir}`];
    const r = await lnstream(
      [
        "compare",
        "--layers",
        "2,4",
        "--seeds",
        "2",
        "--dim",
        "16",
        "--heads",
        "2",
        "--seq",
        "4",
        "--batch",
        "2",
        "--init",
        "xavier",
        "--placement",
        "pre,peri,deepnorm",
        "--norm",
        "layer,rms",
        "--json",
        "--csv",
        `${dir}/g.csv`,
        "--svg",
        `${dir}/g.svg`,
      ],
      "",
      w,
    );
    assertEquals(r.code, 0, r.stderr);
    const j = JSON.parse(r.text);
    const variants = [...new Set(j.runs.map((x: { variant: string }) => x.variant))];
    assertEquals(variants, ["pre", "pre-rms", "peri", "peri-rms", "deepnorm", "deepnorm-rms"]);
    assertEquals(j.depth.length, 6);
    assert(j.depth.every((d: { exponent: number }) => Number.isFinite(d.exponent)));
    assertEquals(j.post_pre, []); // no post-LN ran
    const csv = (await Deno.readTextFile(`${dir}/g.csv`)).trim().split("\n");
    assertEquals(csv[0], "init,causal,layers,placement,param,layer,mean,std,norm,variant");
    assertEquals(csv.length, 1 + 6 * (2 + 4));
    const svg = await Deno.readTextFile(`${dir}/g.svg`);
    for (const v of ["peri-rms", "deepnorm"]) assertStringIncludes(svg, `>${v}<`);
    // the table: one column per variant
    const t = await lnstream([
      "compare",
      "--layers",
      "3",
      "--seeds",
      "1",
      "--dim",
      "8",
      "--heads",
      "2",
      "--seq",
      "4",
      "--batch",
      "1",
      "--init",
      "gpt2",
      "--placement",
      "pre,post",
      "--norm",
      "layer,dyt",
    ]);
    assertEquals(t.code, 0, t.stderr);
    assertStringIncludes(t.text, "pre-LN       pre-dyt      post-LN      post-dyt");
    assertStringIncludes(t.text, "post/pre-dyt");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const TINY = [
  "--data",
  TRAIN_DATA,
  ...TINY_MODEL,
  "--iters",
  "6",
  "--eval-interval",
  "3",
  "--eval-iters",
  "1",
];

Deno.test("train: a zoo run saves its variant; --resume keeps it and refuses another", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = ["--no-read", `--allow-read=${ROOT_PATH},${dir}`, `--allow-write=${dir}`];
    const zoo = ["--placement", "peri", "--norm", "dyt", "--dyt-alpha", "0.8", "--qk-norm"];
    const whole = await lnstream(["train", ...TINY, ...zoo, "--log", `${dir}/w.ndjson`], "", w);
    assertEquals(whole.code, 0, whole.stderr);
    assertStringIncludes(whole.stderr, "× Peri-LN DyT +QK-norm blocks");
    const first = await lnstream(
      ["train", ...TINY, ...zoo, "--until", "3", "--save", `${dir}/ck.st`],
      "",
      w,
    );
    assertEquals(first.code, 0, first.stderr);
    // the checkpoint's settings hold the variant
    const bytes = await Deno.readFile(`${dir}/ck.st`);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const meta = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))).__metadata__;
    const c = JSON.parse(meta.config);
    assertEquals([c.placement, c.norm, c.qkNorm, c.dytAlpha, c.mixPost], [
      "peri",
      "dyt",
      true,
      0.8,
      0,
    ]);
    for (
      const [flags, says] of [
        [["--norm", "layer"], "--norm layer differs from the checkpoint's dyt"],
        [["--placement", "pre"], "--placement pre differs from the checkpoint's peri"],
        [["--dyt-alpha", "0.5"], "--dyt-alpha 0.5 differs from the checkpoint's 0.8"],
      ] as const
    ) {
      const r = await lnstream(
        ["train", "--data", TRAIN_DATA, "--resume", `${dir}/ck.st`, ...flags],
        "",
        w,
      );
      assertEquals(r.code, 64, r.stderr);
      assertStringIncludes(r.stderr, says);
    }
    const rest = await lnstream(["train", "--data", TRAIN_DATA, "--resume", `${dir}/ck.st`], "", w);
    assertEquals(rest.code, 0, rest.stderr);
    const val = (s: string) => /val loss (\S+)/.exec(s)![1];
    assertEquals(val(rest.stderr), val(whole.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train: checkpoints written before the zoo (0.3.0 pre-LN, 0.4.0 post-LN) resume to the same losses", async (t) => {
  // `train --layers 2 --dim 8 --heads 2 --block 8 --batch 2 --iters 6 --until 4 --eval-interval 2
  // --eval-iters 1 [--placement post]` on shakespeare_20k.txt by lnstream 0.3.0 (commit e0beb12)
  // and 0.4.0 (870865c); resumed by the lnstream that wrote them, the runs ended at step 6 with
  // these val losses
  const cases: [string, string, number][] = [
    ["ck_0.3.0_pre.st", "pre", 4.054212450092213],
    ["ck_before_zoo_post.st", "post", 4.053659154459158],
  ];
  for (const [file, placement, val] of cases) {
    await t.step(file, async () => {
      const dir = await Deno.makeTempDir();
      try {
        await Deno.copyFile(`${ROOT_PATH}/tests/fixtures/train/${file}`, `${dir}/ck.st`);
        const w = ["--no-read", `--allow-read=${ROOT_PATH},${dir}`, `--allow-write=${dir}`];
        const r = await lnstream(
          ["train", "--data", TRAIN_DATA, "--resume", `${dir}/ck.st`, "--log", "-", "--quiet"],
          "",
          w,
        );
        assertEquals(r.code, 0, r.stderr);
        const summary = JSON.parse(r.stderr.trim().split("\n").at(-1)!);
        assertEquals(summary.final.val_loss, val);
        assertEquals([summary.config.placement, summary.config.norm], [placement, "layer"]);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});

Deno.test("train --grid sweeps --norm with --placement: one row per variant", async () => {
  const r = await lnstream([
    "train",
    "--grid",
    "--data",
    TRAIN_DATA,
    ...TINY_MODEL,
    "--iters",
    "2",
    "--eval-interval",
    "2",
    "--eval-iters",
    "1",
    "--placement",
    "pre,mix",
    "--mix-post",
    "1",
    "--norm",
    "layer,rms",
  ]);
  assertEquals(r.code, 0, r.stderr);
  for (const v of ["| pre |", "| pre-rms |", "| mix |", "| mix-rms |"]) {
    assertStringIncludes(r.text, v);
  }
});
