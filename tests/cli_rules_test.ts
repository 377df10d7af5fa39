// The command line people expect: one argument rule for every command, --version, short usage,
// did-you-mean, the exit codes README promises (a full disk is 74 on every command, a closed
// pipe 0), and files that cannot be written or read answered in one line.
import { assert, assertEquals, assertStringIncludes } from "./std_assert.ts";
import { Rng } from "../lib/model/rng.ts";
import { encodeCheckpoint } from "../lib/train/checkpoint.ts";
import { decodeCheckpoint } from "../lib/train/checkpoint.ts";
import { lnstream, npyBytes, oneLine, ROOT_PATH, TINY_MODEL, TRAIN_DATA } from "./spawn.ts";

const dir = await Deno.makeTempDir({ prefix: "lnstream-rules-" });
const rw = [`--allow-read=${ROOT_PATH},${dir}`, `--allow-write=${dir}`];
const DATA = TRAIN_DATA;
const TINY = [
  "--data",
  DATA,
  ...TINY_MODEL,
  "--iters",
  "4",
  "--eval-interval",
  "2",
  "--eval-iters",
  "1",
];
const x = new Float32Array(32 * 8);
new Rng(3).fillNormal(x);
const npy = npyBytes(x, [32, 8]);

async function sh(cmd: string, perms = rw.join(" ")) {
  const r = await new Deno.Command("bash", {
    args: ["-c", cmd.replaceAll("LN", `"${Deno.execPath()}" run --quiet ${perms} mod.ts`)],
    cwd: ROOT_PATH,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), stderr: d.decode(r.stderr) };
}

const COMMANDS = ["normalize", "run", "compare", "gen", "stats", "split", "train"];

Deno.test("--version and -V print the version deno.json holds; so does every command", async () => {
  const version = JSON.parse(await Deno.readTextFile(`${ROOT_PATH}/deno.json`)).version;
  for (const args of [["--version"], ["-V"], ["normalize", "--version"], ["train", "-V"]]) {
    const r = await lnstream(args);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.text, `lnstream ${version}\n`);
  }
});

Deno.test("no command: a short usage on stderr (64); help on stdout only when asked", async () => {
  const none = await lnstream([]);
  assertEquals(none.code, 64);
  assertEquals(none.text, "");
  assertStringIncludes(none.stderr, "usage:");
  assert(none.stderr.split("\n").length <= 3, none.stderr);
  const stats = await lnstream(["stats"]);
  assertEquals([stats.code, stats.text], [64, ""]);
  assertStringIncludes(stats.stderr, "usage: lnstream stats merge");
});

Deno.test("unknown commands and options: one line with a did-you-mean", async () => {
  oneLine(await lnstream(["normalise"]), 64, "did you mean 'normalize'?");
  oneLine(
    await lnstream(["normalize", "--nrom", "rms"]),
    64,
    "unknown option --nrom (did you mean --norm?)",
  );
  oneLine(await lnstream(["train", "--warm-up", "10"]), 64, "did you mean --warmup?");
  oneLine(
    await lnstream(["gen", "--zzzzzz"]),
    64,
    "unknown option --zzzzzz; see: lnstream gen --help",
  );
});

Deno.test("a value that looks like an option is a value: --eps -1e-5 is refused as a value", async () => {
  oneLine(
    await lnstream(["normalize", "--eps", "-1e-5"], npy),
    64,
    "--eps must be a positive number, got '-1e-5'",
  );
  oneLine(
    await lnstream(["normalize", "--offset", "-5"], npy),
    64,
    "--offset must be a whole number",
  );
  oneLine(
    await lnstream(["gen", "--seed", "-3"]),
    64,
    "--seed must be a whole number from 0 to 4294967295, got '-3'",
  );
  oneLine(await lnstream(["normalize", "--eps"]), 64, "--eps needs a value");
  // and `-` is a value too: --stats - is stderr, -o - stdout
  const r = await lnstream(["normalize", "--stats", "-", "-o", "-", "--quiet"], npy);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(JSON.parse(r.stderr.trim().split("\n").at(-1)!).type, "summary");
});

Deno.test("a flag given twice: refused when the values differ, fine when they agree", async () => {
  oneLine(
    await lnstream(["normalize", "--eps", "1e-5", "--eps", "1e-6"], npy),
    64,
    "--eps is given twice ('1e-5', then '1e-6')",
  );
  const same = await lnstream(["normalize", "--eps", "1e-5", "--eps=1e-5", "--quiet"], npy);
  assertEquals(same.code, 0, same.stderr);
  oneLine(
    await lnstream(["gen", "-o", "-", "--output", `${dir}/g.npy`]),
    64,
    "--output is given twice",
  );
});

Deno.test("extra positional arguments are errors; - is stdin for the input", async () => {
  oneLine(await lnstream(["gen", "extra"]), 64, "unexpected argument 'extra'");
  oneLine(await lnstream(["normalize", "a.npy", "b.npy"]), 64, "unexpected argument 'b.npy'");
  oneLine(await lnstream(["compare", "x"]), 64, "unexpected argument 'x'");
  const dash = await lnstream(["normalize", "-", "--quiet"], npy);
  const plain = await lnstream(["normalize", "--quiet"], npy);
  assertEquals(dash.code, 0, dash.stderr);
  assertEquals(dash.stdout, plain.stdout);
});

Deno.test("every command's --help ends with the exit-code table", async () => {
  for (const cmd of [...COMMANDS, "--help"]) {
    const r = await lnstream(cmd === "--help" ? [cmd] : [cmd, "--help"]);
    assertEquals(r.code, 0, cmd);
    const lines = r.text.trim().split("\n");
    assertStringIncludes(lines.at(-7)!, "Exit codes:", cmd);
    assertStringIncludes(lines.at(-1)!, "77", cmd);
  }
});

Deno.test("gen -o writes the file gen would print", async () => {
  const r = await lnstream(["gen", "--tokens", "10", "--dim", "4", "-o", `${dir}/g.npy`], "", rw);
  assertEquals(r.code, 0, r.stderr);
  const printed = await lnstream(["gen", "--tokens", "10", "--dim", "4"]);
  assertEquals(await Deno.readFile(`${dir}/g.npy`), printed.stdout);
});

Deno.test("gen has normalize's size limits: --dim 1e9 is 64 at once, --tokens past 2^53 too", async () => {
  oneLine(
    await lnstream(["gen", "--dim", "1000000000"], "", ["--v8-flags=--max-old-space-size=64"]),
    64,
    "--dim 1000000000",
  );
  oneLine(await lnstream(["gen", "--tokens", "1e17"]), 64, "--tokens");
});

Deno.test("a full disk is 74 with one line on every command; a closed pipe ends quietly", async (t) => {
  await Deno.writeFile(`${dir}/x.npy`, npy);
  const stats = await lnstream(["normalize", "--quiet", "--stats", "-"], npy);
  await Deno.writeTextFile(`${dir}/s.stats`, stats.stderr);
  const lines: [string, string][] = [
    ["normalize", `LN normalize ${dir}/x.npy`],
    ["run", `LN run ${dir}/x.npy --layers 1 --heads 2 --seq 8`],
    ["compare", "LN compare --layers 2 --seeds 1 --dim 8 --heads 2"],
    ["gen", "LN gen --tokens 100000"],
    ["stats merge", `LN stats merge ${dir}/s.stats`],
    ["split", `LN split ${dir}/x.npy --shards 2 --out ${dir}/sh`],
    ["train", `LN train ${TINY.join(" ")} --sample 50 --quiet`],
    ["train --grid", `LN train ${TINY.join(" ")} --grid --warmup 0,1`],
    ["--help", "LN --help"],
  ];
  for (const [what, line] of lines) {
    await t.step(what, async () => {
      const r = await sh(`${line} > /dev/full`);
      oneLine(r, 74, "No space left on device");
      const head = await sh(`${line} | head -c 5 > /dev/null; echo "\${PIPESTATUS[0]}"`);
      assertEquals(head.out.trim(), "0", `${what} | head: ${head.stderr}`);
    });
  }
  await t.step("a record file on a device: --allow-all advice, then 74", async () => {
    oneLine(
      await lnstream(["normalize", "--stats", "/dev/full"], npy, rw),
      77,
      "only with --allow-all",
    );
    oneLine(
      await lnstream(["normalize", "--stats", "/dev/full"], npy, ["--no-read", "--allow-all"]),
      74,
      "--stats /dev/full: No space left",
    );
    oneLine(
      await lnstream(["train", ...TINY, "--save", "/dev/full", "--quiet"], "", [
        "--no-read",
        "--allow-all",
      ]),
      74,
      "No space left",
    );
  });
});

Deno.test("outputs that cannot be: a folder, a missing folder (74); a missing permission (77)", async () => {
  oneLine(await lnstream(["normalize", "-o", dir], npy, rw), 74, "is a directory");
  oneLine(await lnstream(["normalize", "-o", `${dir}/nope/y.npy`], npy, rw), 74, "no such folder");
  oneLine(
    await lnstream(["train", ...TINY, "--log", `${dir}/nope/l.ndjson`], "", rw),
    74,
    "no such folder",
  );
  oneLine(
    await lnstream(["gen", "-o", `${dir}/g2.npy`]),
    77,
    `--allow-read=${dir} --allow-write=${dir}`,
  );
  // a 77 leaves no empty file behind
  await Deno.stat(`${dir}/g2.npy`).then(() => assert(false, "an empty file was left"), () => {});
  await Deno.writeFile(`${dir}/w.npy`, npyBytes(new Float32Array(8).fill(1), [8]));
  oneLine(
    await lnstream(["normalize", "--weight", `${dir}/w.npy`], npy),
    77,
    `--allow-read=${dir}/w.npy`,
  );
});

Deno.test("split: a folder is 74; the input checked as normalize checks it, no shard on failure", async () => {
  oneLine(await lnstream(["split", dir, "--out", `${dir}/d`], "", rw), 74, "Is a directory");
  const extra = new Uint8Array([...npy, 1, 2, 3]);
  await Deno.writeFile(`${dir}/extra.npy`, extra);
  oneLine(
    await lnstream(["split", `${dir}/extra.npy`, "--shards", "2", "--out", `${dir}/e`], "", rw),
    65,
    "unexpected data",
  );
  await Deno.writeTextFile(`${dir}/nan.ndjson`, "[1, 2]\n[NaN, 1]\n");
  oneLine(
    await lnstream(["split", `${dir}/nan.ndjson`, "--out", `${dir}/n`], "", rw),
    65,
    "line 2",
  );
  for await (const e of Deno.readDir(dir)) {
    assert(!/^[en]-\d/.test(e.name) && !e.name.endsWith(".lnstream-tmp"), `left behind: ${e.name}`);
  }
  // stdin (-) is split too: read twice from a scratch file that goes afterwards
  const r = await lnstream(
    ["split", "-", "--shards", "2", "--batch", "16", "--out", `${dir}/p`],
    npy,
    rw,
  );
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.text, `${dir}/p-0.npy\t0\t16\n${dir}/p-1.npy\t16\t16\n`);
  for await (const e of Deno.readDir(dir)) assert(!e.name.endsWith(".lnstream-tmp"), e.name);
});

Deno.test("a checkpoint with an invalid config, a NaN parameter, or a step past its iters: 65 naming it", async () => {
  const ok = await lnstream(["train", ...TINY, "--save", `${dir}/ck.st`], "", rw);
  assertEquals(ok.code, 0, ok.stderr);
  const state = decodeCheckpoint(await Deno.readFile(`${dir}/ck.st`));
  const bad: [string, typeof state, string][] = [
    ["lr -1", { ...state, config: { ...state.config, lr: -1 } }, "lr must be a positive number"],
    [
      "NaN parameter",
      { ...state, params: state.params.map((v, i) => i === 5 ? NaN : v) },
      "holds NaN at element 5",
    ],
    ["step past iters", { ...state, step: state.config.iters + 3 }, "step 7 is past its iters (4)"],
  ];
  for (const [what, s, has] of bad) {
    await Deno.writeFile(`${dir}/bad.st`, encodeCheckpoint(s));
    oneLine(
      await lnstream(["train", "--data", DATA, "--resume", `${dir}/bad.st`], "", rw),
      65,
      has,
    );
    assertStringIncludes(
      (await lnstream(["train", "--data", DATA, "--resume", `${dir}/bad.st`], "", rw)).stderr,
      "bad.st",
      what,
    );
  }
  oneLine(
    await lnstream(["train", "--data", DATA, "--resume", `${dir}/ck.st`, "--iters", "2"], "", rw),
    64,
    "--iters 2 is below the checkpoint's step 4",
  );
});
