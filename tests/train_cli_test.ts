// `train` end to end, each run under the helper's time limit.
import { assert, assertEquals, assertStringIncludes } from "./std_assert.ts";
import { lnstream, ROOT_PATH, TINY_MODEL, TRAIN_DATA } from "./spawn.ts";

const DATA = TRAIN_DATA;
const TINY = [
  "--data",
  DATA,
  ...TINY_MODEL,
  "--iters",
  "12",
  "--warmup",
  "2",
  "--lr",
  "3e-3",
  "--min-lr",
  "3e-4",
  "--eval-interval",
  "4",
  "--eval-iters",
  "1",
];

/** TINY with some of its flags given other values (a flag given twice is an error). */
function tiny(over: Record<string, string>): string[] {
  const out = [...TINY];
  for (const [k, v] of Object.entries(over)) {
    const i = out.indexOf(`--${k}`);
    if (i >= 0) out[i + 1] = v;
    else out.push(`--${k}`, v);
  }
  return out;
}

/** The lines of a log that is still being written (its temporary file), or of the log. */
async function liveLog(dir: string, name: string): Promise<string> {
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(`.${name}.`) && e.name.endsWith(".lnstream-tmp")) {
      return await Deno.readTextFile(`${dir}/${e.name}`).catch(() => "");
    }
  }
  return await Deno.readTextFile(`${dir}/${name}`).catch(() => "");
}

const records = (ndjson: string) =>
  ndjson.trim().split("\n").map((l) => JSON.parse(l)).map((r) =>
    r.type === "step" ? { ...r, ms: 0 } : r.type === "summary" ? { type: "summary" } : r
  );

Deno.test("train: bad input ends with 64/65 and one clear line", async (t) => {
  const cases: [string, string[], Uint8Array | string, number, string][] = [
    ["empty text", ["--data", "-"], "", 65, "stdin is empty"],
    ["block longer than the data", ["--data", "-", "--block", "64"], "to be or not", 64, "block"],
    ["non-UTF-8 bytes", ["--data", "-"], Uint8Array.of(0x61, 0x62, 0xc3, 0x28), 65, "byte 2"],
    ["lr 0", ["--lr", "0"], "", 64, "--lr must be a positive number"],
    ["lr < 0", ["--lr=-1e-3"], "", 64, "--lr must be a positive number"],
    ["lr not a number", ["--lr", "fast"], "", 64, "--lr"],
    ["min-lr above lr", ["--lr", "1e-4", "--min-lr", "1e-3"], "", 64, "--min-lr"],
    ["a list without --grid", ["--placement", "pre,post"], "", 64, "--grid"],
    [
      "heads not dividing dim",
      ["--heads", "3"],
      "",
      64,
      "--dim 128 must be a multiple of --heads 3",
    ],
    ["unknown flag", ["--learning-rate", "1"], "", 64, "unknown option"],
    [
      "two charts on stdout",
      ["--svg", "-", "--svg-layers", "-"],
      "",
      64,
      "--svg and --svg-layers both write to stdout",
    ],
    [
      "missing data file",
      ["--data", `${ROOT_PATH}/none.txt`],
      "",
      64,
      `--data ${ROOT_PATH}/none.txt`,
    ],
    ["not a checkpoint", ["--resume", DATA], "", 65, "not an lnstream checkpoint"],
    // reading a folder is an I/O failure, as reading stdin from one is
    ["a directory as data", ["--data", `${ROOT_PATH}/tests`], "", 74, "--data"],
    ["past 4 GiB", ["--dim", "100000", "--heads", "1"], "", 64, "limit 4 GiB"],
    ["a step of 10⁹ sequences", ["--batch", "1000000000"], "", 64, "at most 16777216"],
    [
      "too many workers",
      ["--workers", "1000"],
      "",
      64,
      "--workers must be a whole number from 1 to 256, got 1000",
    ],
  ];
  for (const [name, args, stdin, code, says] of cases) {
    await t.step(name, async () => {
      const r = await lnstream(["train", ...args], stdin);
      assertEquals(r.code, code, r.stderr);
      assertStringIncludes(r.stderr, says);
      assert(!r.stderr.includes("    at "), `a stack trace: ${r.stderr}`);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    });
  }
  await t.step("stdin a directory: 74, one line", async () => {
    const r = await new Deno.Command("bash", {
      args: ["-c", `'${Deno.execPath()}' run --allow-read=. mod.ts train --data - < tests`],
      cwd: ROOT_PATH,
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr);
    assertEquals(r.code, 74, err);
    assertEquals(err.trim(), "lnstream train: cannot read stdin: Is a directory (os error 21)");
  });
  await t.step("--save without write permission: 77 before any step", async () => {
    const r = await lnstream(["train", ...TINY, "--save", "/tmp/lnstream-denied.st"]);
    assertEquals(r.code, 77, r.stderr);
    assertStringIncludes(r.stderr, "--allow-read=/tmp --allow-write=/tmp");
  });
});

Deno.test("train: --log - holds every record (and nothing else); the same on 1 and 2 workers", async () => {
  const one = await lnstream(["train", ...TINY, "--workers", "1", "--log", "-", "--quiet"]);
  // --progress and no --quiet: stderr stays pure NDJSON all the same
  const two = await lnstream(["train", ...TINY, "--workers", "2", "--log", "-", "--progress"]);
  assertEquals(one.code, 0, one.stderr);
  assertEquals(two.code, 0, two.stderr);
  const a = records(one.stderr), b = records(two.stderr);
  assertEquals(a, b);
  assertEquals(a.filter((r) => r.type === "step").length, 12);
  assertEquals(a.filter((r) => r.type === "eval").map((r) => r.step), [0, 4, 8, 12]);
  assertEquals(a.at(-1).type, "summary");
  const summary = JSON.parse(two.stderr.trim().split("\n").at(-1)!);
  assertEquals(summary.workers, 2);
  assertEquals(summary.final.step, 12);
});

Deno.test("train: --save/--until then --resume gives the uninterrupted run's log and summary", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = ["--no-read", `--allow-read=${ROOT_PATH},${dir}`, `--allow-write=${dir}`];
    const whole = await lnstream(["train", ...TINY, "--log", `${dir}/whole.ndjson`], "", w);
    assertEquals(whole.code, 0, whole.stderr);
    const first = await lnstream(
      ["train", ...TINY, "--until", "6", "--save", `${dir}/ck.st`, "--log", `${dir}/a.ndjson`],
      "",
      w,
    );
    assertEquals(first.code, 0, first.stderr);
    assertStringIncludes(first.stderr, `paused at step 6 of 12; --resume ${dir}/ck.st`);
    const rest = await lnstream(
      ["train", "--data", DATA, "--resume", `${dir}/ck.st`, "--log", `${dir}/b.ndjson`],
      "",
      w,
    );
    assertEquals(rest.code, 0, rest.stderr);
    const all = records(await Deno.readTextFile(`${dir}/whole.ndjson`));
    const a = records(await Deno.readTextFile(`${dir}/a.ndjson`));
    const b = records(await Deno.readTextFile(`${dir}/b.ndjson`));
    assertEquals([...a.slice(0, -1), ...b], all);
    // the human summaries end on the same val loss
    const val = (s: string) => /val loss (\S+)/.exec(s)![1];
    assertEquals(val(rest.stderr), val(whole.stderr));
    // a resume may not change the model
    const clash = await lnstream(
      ["train", "--data", DATA, "--resume", `${dir}/ck.st`, "--dim", "32"],
      "",
      w,
    );
    assertEquals(clash.code, 64, clash.stderr);
    assertStringIncludes(clash.stderr, "--dim 32 differs from the checkpoint's 16");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train: --sample prints that many characters of the text's alphabet; --svg draws the curves", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await lnstream(
      [
        "train",
        ...TINY,
        "--sample",
        "60",
        "--svg",
        `${dir}/loss.svg`,
        "--svg-layers",
        `${dir}/layers.svg`,
        "--log",
        `${dir}/log.ndjson`,
        "--quiet",
      ],
      "",
      [`--allow-read=${dir}`, `--allow-write=${dir}`],
    );
    assertEquals(r.code, 0, r.stderr);
    const text = r.text.replace(/\n$/, "");
    assertEquals(Array.from(text).length, 60);
    const alphabet = new Set(Array.from(await Deno.readTextFile(DATA)));
    assert(Array.from(text).every((ch) => alphabet.has(ch)));
    const svg = await Deno.readTextFile(`${dir}/loss.svg`);
    assert(svg.startsWith("<svg") && svg.trim().endsWith("</svg>"));
    assertEquals((svg.match(/<polyline/g) ?? []).length, 4);
    // --svg-layers: a line per block through the log's evaluations
    const layers = await Deno.readTextFile(`${dir}/layers.svg`);
    const evals = (await Deno.readTextFile(`${dir}/log.ndjson`)).trim().split("\n")
      .map((l) => JSON.parse(l)).filter((r) => r.type === "eval");
    const blocks = evals[0].layers.length;
    assertEquals((layers.match(/<polyline data-layer=/g) ?? []).length, blocks);
    assertEquals((layers.match(/<circle /g) ?? []).length, blocks * evals.length);
    const grid = await lnstream(["train", "--grid", "--svg-layers", `${dir}/x.svg`], "", [
      `--allow-write=${dir}`,
    ]);
    assertEquals(grid.code, 64);
    assertStringIncludes(grid.stderr, "--svg-layers does not go with --grid");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train --grid: one row per combination, a chart with one line each", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await lnstream(
      [
        "train",
        ...tiny({ warmup: "0,4" }),
        "--grid",
        "--placement",
        "pre,post",
        "--target",
        "3.5",
        "--svg",
        `${dir}/grid.svg`,
      ],
      "",
      [`--allow-read=${dir}`, `--allow-write=${dir}`],
    );
    assertEquals(r.code, 0, r.stderr);
    const rows = r.text.trim().split("\n").slice(2);
    assertEquals(rows.length, 4);
    assertEquals(rows.map((row) => row.split("|").slice(3, 5).map((s) => s.trim())), [
      ["0", "pre"],
      ["0", "post"],
      ["4", "pre"],
      ["4", "post"],
    ]);
    for (const row of rows) assert(/\| \d\.\d{3} \|/.test(row), row);
    const svg = await Deno.readTextFile(`${dir}/grid.svg`);
    assertEquals((svg.match(/<polyline/g) ?? []).length, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.test(`train: ${signal} ends after the current step with a checkpoint that resumes (exit ${code})`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          `--allow-read=${ROOT_PATH},${dir}`,
          `--allow-write=${dir}`,
          "mod.ts",
          "train",
          ...tiny({ iters: "1000000", "eval-interval": "1000000" }),
          "--save",
          `${dir}/ck.st`,
          "--log",
          `${dir}/log.ndjson`,
        ],
        cwd: ROOT_PATH,
        stdout: "null",
        stderr: "piped",
        signal: AbortSignal.timeout(60_000),
      }).spawn();
      // wait for steps to be logged (in the log's temporary file), then interrupt
      for (let i = 0; i < 300; i++) {
        await new Promise((r) => setTimeout(r, 100));
        if ((await liveLog(dir, "log.ndjson")).split("\n").length > 20) break;
      }
      child.kill(signal);
      const out = await child.output();
      const err = new TextDecoder().decode(out.stderr);
      assertEquals(out.code, code, err);
      assertStringIncludes(err, "stopped at step");
      const steps = (await Deno.readTextFile(`${dir}/log.ndjson`)).trim().split("\n")
        .map((l) => JSON.parse(l)).filter((r) => r.type === "step");
      const more = await lnstream(
        ["train", "--data", DATA, "--resume", `${dir}/ck.st`, "--until", String(steps.length + 2)],
        "",
        ["--no-read", `--allow-read=${ROOT_PATH},${dir}`],
      );
      assertEquals(more.code, 0, more.stderr);
      assertStringIncludes(more.stderr, `paused at step ${steps.length + 2} of 1000000`);
      // nothing of lnstream's left behind in the folder
      const names = [];
      for await (const e of Deno.readDir(dir)) names.push(e.name);
      assertEquals(names.sort(), ["ck.st", "log.ndjson"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("train: a warm-up as long as the run is warned about (the peak is never reached)", async () => {
  const r = await lnstream(["train", ...tiny({ warmup: "20" })]);
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(
    r.stderr,
    "train: warning: --warmup 20 ≥ --iters 12: the learning rate never reaches --lr 0.003",
  );
  const ok = await lnstream(["train", ...TINY]);
  assert(!ok.stderr.includes("warning"), ok.stderr);
  const quiet = await lnstream(["train", ...tiny({ warmup: "20" }), "--quiet"]);
  assertEquals(quiet.stderr, "");
  // a run refused for its settings says only why: the warning waits for the run to start
  const bad = await lnstream(["train", ...tiny({ warmup: "20", lr: "0" })]);
  assertEquals(bad.code, 64, bad.stderr);
  assertEquals(bad.stderr.trim().split("\n").length, 1, bad.stderr);
});

Deno.test("train --seeds: cells of seeds, mean ± std, a baseline with Welch's p, tidy CSV and JSON", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = ["--no-read", `--allow-read=${ROOT_PATH},${dir}`, `--allow-write=${dir}`];
    const args = ["train", ...tiny({ iters: "8", "eval-interval": "4", warmup: "0" })];
    const r = await lnstream(
      [
        ...args,
        "--grid",
        "--placement",
        "pre,post",
        "--seeds",
        "2",
        "--baseline",
        "pre",
        "--csv",
        `${dir}/g.csv`,
      ],
      "",
      w,
    );
    assertEquals(r.code, 0, r.stderr);
    const rows = r.text.split("\n").filter((l) => l.startsWith("| 1 |"));
    assertEquals(rows.length, 2);
    assert(/\| pre \| 2 \| \d\.\d{3} ± \d\.\d{3} \|/.test(rows[0]), rows[0]);
    assert(/\| post \| 2 \| .* \| [+-]\d\.\d{3} \| \d\.\d{4} \|$/.test(rows[1]), rows[1]);
    assertStringIncludes(r.text, "unigram entropy of the training text:");
    const csv = (await Deno.readTextFile(`${dir}/g.csv`)).trim().split("\n");
    assertEquals(
      csv[0],
      "run,placement,norm,qk_norm,warmup,lr,layers,seed,step,train_loss,val_loss,grad_norm,grad_l0",
    );
    assertEquals(csv.length, 1 + 4 * 3); // 4 runs × evaluations at 0, 4, 8
    assertEquals(new Set(csv.slice(1).map((l) => l.split(",")[7])), new Set(["1337", "1338"]));
    // the JSON holds the same cells; a --seed list is the same seeds as --seeds
    const j = await lnstream([...args, "--seed", "1337,1338", "--json"], "", w);
    assertEquals(j.code, 0, j.stderr);
    const doc = JSON.parse(j.text);
    assertEquals(doc.cells.length, 1);
    assertEquals(doc.cells[0].seeds, [1337, 1338]);
    // one cell's final val losses: the grid's pre-LN ones (same seeds, same settings)
    const fromGrid = csv.slice(1).filter((l) => l.startsWith("0,") || l.startsWith("1,"))
      .filter((l) => l.split(",")[8] === "8").map((l) => Number(l.split(",")[10]));
    assertEquals(doc.cells[0].final_val.values, fromGrid);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train --seeds, --baseline, --json: bad uses are 64 with one line", async (t) => {
  const cases: [string[], string][] = [
    [["--seeds", "0"], "--seeds must be a whole number from 1"],
    [["--seed", "1,1"], "--seed lists a seed twice"],
    [["--seed", "1,2", "--seeds", "2"], "say the seeds twice"],
    [["--json"], "--json goes with --grid or --seeds"],
    [["--grid", "--baseline", "pre,bn"], "--baseline is placement[,norm]"],
    // a baseline no cell has: refused before the first run, not a table without its columns
    [
      ["--grid", "--norm", "rms,dyt", "--baseline", "pre"],
      "--baseline pre,layer: no cell of this grid has placement pre and norm layer " +
      "(placements pre; norms rms,dyt): give the norm, e.g. --baseline pre,rms",
    ],
    [["--seeds", "2", "--baseline", "peri,layer"], "no cell of this grid has placement peri"],
    [["--seeds", "2", "--save", "x.st"], "--save does not go with several seeds"],
  ];
  for (const [extra, says] of cases) {
    await t.step(extra.join(" "), async () => {
      const r = await lnstream(["train", ...TINY, ...extra]);
      assertEquals(r.code, 64, r.stderr);
      assertStringIncludes(r.stderr, says);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    });
  }
});

Deno.test("train --progress off a terminal: plain lines, the val loss with its step, a grid's ETA", async () => {
  const one = await lnstream(["train", ...TINY, "--progress"]);
  assertEquals(one.code, 0, one.stderr);
  const lines = one.stderr.split("\n").filter((l) => l.startsWith("step "));
  assert(lines.length >= 2, one.stderr); // the first at once, the last at the end
  assert(!one.stderr.includes("\r"), "plain lines, no carriage returns");
  assert(/val \d\.\d{3} @ 12/.test(lines.at(-1)!), lines.at(-1));
  const grid = await lnstream(["train", ...tiny({ warmup: "0,1" }), "--grid", "--progress"]);
  assertEquals(grid.code, 0, grid.stderr);
  assertStringIncludes(grid.stderr, "run 1/2  step");
  assertStringIncludes(grid.stderr, "grid ETA");
  // without --progress a run under 30 s prints no progress line off a terminal
  const quietish = await lnstream(["train", ...TINY]);
  assert(!quietish.stderr.split("\n").some((l) => l.startsWith("step ")), quietish.stderr);
});

Deno.test("train --grid --out DIR: a stopped grid resumes to the uninterrupted one's CSV; another grid is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = ["--no-read", `--allow-read=${ROOT_PATH},${dir}`, `--allow-write=${dir}`];
    const grid = [
      "train",
      ...tiny({ iters: "400", "eval-interval": "40", warmup: "0,20" }),
      "--grid",
      "--quiet",
    ];
    const whole = await lnstream([...grid, "--csv", `${dir}/whole.csv`], "", w);
    assertEquals(whole.code, 0, whole.stderr);
    // the same grid into a folder, stopped by SIGINT once the first run has a checkpoint
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...w.slice(1), "mod.ts", ...grid, "--out", `${dir}/g`],
      cwd: ROOT_PATH,
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).spawn();
    for (let i = 0; i < 300; i++) {
      await new Promise((r) => setTimeout(r, 50));
      if (await Deno.stat(`${dir}/g/run-000/ck.st`).then(() => true, () => false)) break;
    }
    child.kill("SIGINT");
    const stopped = await child.output();
    const err = new TextDecoder().decode(stopped.stderr);
    assertEquals(stopped.code, 130, err);
    assertStringIncludes(err, "the same command resumes the grid");
    // the rerun skips what is finished and resumes the rest; the results are the same numbers
    const again = await lnstream(
      [...grid, "--out", `${dir}/g`, "--csv", `${dir}/resumed.csv`],
      "",
      w,
    );
    assertEquals(again.code, 0, again.stderr);
    assertEquals(
      await Deno.readTextFile(`${dir}/resumed.csv`),
      await Deno.readTextFile(`${dir}/whole.csv`),
    );
    // a third run of the command trains nothing and prints the same table
    const table = await lnstream([...grid, "--out", `${dir}/g`], "", w);
    assertEquals(table.text, again.text);
    // another grid in the same folder: refused before anything runs
    const other = await lnstream(
      [
        "train",
        ...tiny({ iters: "400", "eval-interval": "40", warmup: "0,30" }),
        "--grid",
        "--out",
        `${dir}/g`,
      ],
      "",
      w,
    );
    assertEquals(other.code, 64, other.stderr);
    assertStringIncludes(other.stderr, "holds another grid");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train --cell i/n with GNU parallel (3 jobs), then --out DIR: the single-process grid's table", async () => {
  const which = await new Deno.Command("bash", { args: ["-c", "command -v parallel"] }).output();
  assert(which.code === 0, "GNU parallel is not installed (Debian: apt-get install parallel)");
  const dir = await Deno.makeTempDir();
  try {
    const args = [...tiny({ warmup: "0,1,2" }), "--grid"].map((a) => `'${a}'`).join(" ");
    const deno =
      `'${Deno.execPath()}' run --quiet --allow-read=${ROOT_PATH},${dir} --allow-write=${dir} mod.ts`;
    const sh = (cmd: string) =>
      new Deno.Command("bash", {
        args: ["-c", cmd],
        cwd: ROOT_PATH,
        stdout: "piped",
        stderr: "piped",
      })
        .output();
    const single = await sh(`${deno} train ${args} --out ${dir}/one`);
    assertEquals(single.code, 0, new TextDecoder().decode(single.stderr));
    const cells = await sh(
      `parallel -j 3 --halt now,fail=1 ${deno} train ${args} --out ${dir}/many --cell {}/3 --quiet ::: 1 2 3`,
    );
    assertEquals(cells.code, 0, new TextDecoder().decode(cells.stderr));
    const table = await sh(`${deno} train ${args} --out ${dir}/many`);
    assertEquals(table.code, 0, new TextDecoder().decode(table.stderr));
    assertEquals(new TextDecoder().decode(table.stdout), new TextDecoder().decode(single.stdout));
    const bad = await lnstream(
      ["train", ...tiny({ warmup: "0,1,2" }), "--grid", "--out", `${dir}/many`, "--cell", "1/4"],
      "",
      [
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
      ],
    );
    assertEquals(bad.code, 64, bad.stderr);
    assertStringIncludes(bad.stderr, "this grid has 3 runs");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
