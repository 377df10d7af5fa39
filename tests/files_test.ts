// Nothing lost: every command's every output pointed at every input (by the same path, a ./
// spelling, a symlink and a hard link) is refused before anything is written, two outputs on
// one file too; a run that fails or is interrupted leaves every earlier file exactly as it was
// and no temporary file behind; a training run killed (SIGKILL) at any moment leaves a
// checkpoint that resumes the uninterrupted curve exactly.
import { assert, assertEquals, assertStringIncludes } from "./std_assert.ts";
import { Rng } from "../lib/model/rng.ts";
import { lnstream, normals, npyBytes, ROOT_PATH, TINY_MODEL, TRAIN_DATA } from "./spawn.ts";

const dir = await Deno.makeTempDir({ prefix: "lnstream-files-" });
const perms = [`--allow-read=${ROOT_PATH},${dir}`, `--allow-write=${dir}`];
const DATA = TRAIN_DATA, TINY = TINY_MODEL;
const TINY_RUN = [...TINY, "--iters", "2", "--eval-interval", "1", "--eval-iters", "1"];

/** lnstream's temporary files left in the folder (none may be). */
async function temporaries(): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".lnstream-tmp")) out.push(e.name);
  return out;
}

/** The same file under four names: as given, with ./, a symlink and a hard link. */
async function aliases(path: string): Promise<[string, string][]> {
  const name = path.slice(dir.length + 1);
  await Deno.remove(`${dir}/sym-${name}`).catch(() => {});
  await Deno.remove(`${dir}/hard-${name}`).catch(() => {});
  await Deno.symlink(path, `${dir}/sym-${name}`);
  await Deno.link(path, `${dir}/hard-${name}`);
  return [
    ["same path", path],
    ["./ prefix", `${dir}/./${name}`],
    ["symlink", `${dir}/sym-${name}`],
    ["hard link", `${dir}/hard-${name}`],
  ];
}

// the inputs every case points its outputs at
const x = npyBytes(normals(64, 8), [64, 8]);
await Deno.writeFile(`${dir}/x.npy`, x);
await Deno.writeFile(`${dir}/x-0.npy`, x);
await Deno.writeFile(`${dir}/w.npy`, npyBytes(Float32Array.from({ length: 8 }, () => 2), [8]));
const stats = await lnstream(["normalize", "--quiet", "--stats", "-"], x);
await Deno.writeTextFile(`${dir}/s.stats`, stats.stderr);
await Deno.copyFile(DATA, `${dir}/t.txt`);
const ck = await lnstream(
  ["train", "--data", DATA, ...TINY_RUN, "--save", `${dir}/ck.st`],
  "",
  perms,
);
assertEquals(ck.code, 0, ck.stderr);

/** [command line with IN as the input and OUT as the output, the output's flag] */
const CASES: [string, (input: string, output: string) => string[], string][] = [
  ["normalize -o", (i, o) => ["normalize", i, "-o", o], "-o"],
  ["normalize --stats", (i, o) => ["normalize", i, "--stats", o], "--stats"],
  ["normalize --weight", (i, o) => ["normalize", `${dir}/x.npy`, "--weight", i, "-o", o], "-o"],
  ["run -o", (i, o) => ["run", i, "--layers", "1", "--heads", "2", "-o", o], "-o"],
  ["run --stats", (i, o) => ["run", i, "--layers", "1", "--heads", "2", "--stats", o], "--stats"],
  ["stats merge -o", (i, o) => ["stats", "merge", i, "-o", o], "-o"],
  ["train --log", (i, o) => ["train", "--data", i, ...TINY_RUN, "--log", o], "--log"],
  ["train --svg", (i, o) => ["train", "--data", i, ...TINY_RUN, "--svg", o], "--svg"],
  ["train --save", (i, o) => ["train", "--data", i, ...TINY_RUN, "--save", o], "--save"],
  [
    "train --resume, --log",
    (i, o) => ["train", "--data", DATA, "--resume", i, "--log", o],
    "--log",
  ],
];
const INPUT_OF: Record<string, string> = {
  normalize: `${dir}/x.npy`,
  run: `${dir}/x.npy`,
  stats: `${dir}/s.stats`,
  train: `${dir}/t.txt`,
};

Deno.test("every output pointed at an input is refused (64) and the input keeps its bytes", async (t) => {
  for (const [what, line, flag] of CASES) {
    const input = what.includes("--resume")
      ? `${dir}/ck.st`
      : what.includes("--weight")
      ? `${dir}/w.npy`
      : INPUT_OF[line("", "")[0]];
    const before = await Deno.readFile(input);
    for (const [how, alias] of await aliases(input)) {
      await t.step(`${what} = the input (${how})`, async () => {
        // the output names the input by another spelling, or the input is given by it
        const r = await lnstream(line(input, alias), "", perms);
        assertEquals(r.code, 64, r.stderr);
        assertStringIncludes(r.stderr, `${flag} ${alias} is the same file as`);
        assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
        assertEquals(await Deno.readFile(input), before, "the input changed");
        assertEquals(await temporaries(), []);
      });
    }
  }
  await t.step("split: a shard that would be the input", async () => {
    const before = await Deno.readFile(`${dir}/x-0.npy`);
    for (const [how, alias] of await aliases(`${dir}/x-0.npy`)) {
      const r = await lnstream(["split", alias, "--shards", "2", "--out", `${dir}/x`], "", perms);
      assertEquals(r.code, 64, `${how}: ${r.stderr}`);
      assertStringIncludes(r.stderr, "is the same file as");
      assertEquals(await Deno.readFile(`${dir}/x-0.npy`), before, how);
    }
  });
  await t.step("two outputs on one file", async () => {
    const y = `${dir}/y.npy`;
    await Deno.writeTextFile(y, "previous");
    for (const [how, alias] of await aliases(y)) {
      const r = await lnstream(["normalize", `${dir}/x.npy`, "-o", y, "--stats", alias], "", perms);
      assertEquals(r.code, 64, `${how}: ${r.stderr}`);
      assertStringIncludes(r.stderr, `--stats ${alias} is the same file as -o ${y}`);
      const l = await lnstream(
        ["train", "--data", DATA, ...TINY_RUN, "--log", y, "--svg", alias],
        "",
        perms,
      );
      assertEquals(l.code, 64, `${how}: ${l.stderr}`);
      assertEquals(await Deno.readTextFile(y), "previous", how);
    }
  });
  await t.step("the one exception: --resume ck.st --save ck.st", async () => {
    const r = await lnstream(
      [
        "train",
        "--data",
        DATA,
        "--resume",
        `${dir}/ck.st`,
        "--iters",
        "4",
        "--save",
        `${dir}/ck.st`,
      ],
      "",
      perms,
    );
    assertEquals(r.code, 0, r.stderr);
    const again = await lnstream(["train", "--data", DATA, "--resume", `${dir}/ck.st`], "", perms);
    assertEquals(again.code, 0, again.stderr);
    assertStringIncludes(again.stderr, "step 4: train loss");
  });
});

Deno.test("a run that fails or is stopped leaves every earlier output as it was, and no temporary", async (t) => {
  const previous = async (...paths: string[]) => {
    for (const p of paths) await Deno.writeTextFile(p, `previous ${p}`);
    return async () => {
      for (const p of paths) assertEquals(await Deno.readTextFile(p), `previous ${p}`, p);
      assertEquals(await temporaries(), []);
    };
  };
  const y = `${dir}/out-y`, s = `${dir}/out-s`;
  await t.step("normalize: bad data after 3000 written rows (65)", async () => {
    const unchanged = await previous(y, s);
    const text = "[1, 2, 3]\n".repeat(3000) + "[1, 2]\n";
    await Deno.writeTextFile(`${dir}/bad.ndjson`, text);
    const r = await lnstream(
      ["normalize", `${dir}/bad.ndjson`, "--batch", "256", "-o", y, "--stats", s],
      "",
      perms,
    );
    assertEquals(r.code, 65, r.stderr);
    await unchanged();
  });
  await t.step("run: a NaN in the last batch (65)", async () => {
    const unchanged = await previous(y, s);
    const v = normals(256, 8);
    v[250 * 8] = NaN;
    await Deno.writeFile(`${dir}/nan.npy`, npyBytes(v, [256, 8]));
    const r = await lnstream(
      [
        "run",
        `${dir}/nan.npy`,
        "--layers",
        "1",
        "--heads",
        "2",
        "--seq",
        "16",
        "-o",
        y,
        "--stats",
        s,
      ],
      "",
      perms,
    );
    assertEquals(r.code, 65, r.stderr);
    await unchanged();
  });
  await t.step("stats merge: a bad second file (65)", async () => {
    const unchanged = await previous(y);
    await Deno.writeTextFile(`${dir}/null.stats`, "null\n");
    const r = await lnstream(
      ["stats", "merge", `${dir}/s.stats`, `${dir}/null.stats`, "-o", y],
      "",
      perms,
    );
    assertEquals(r.code, 65, r.stderr);
    await unchanged();
  });
  await t.step("split: a header that says 5 rows over 10 (65), no shard written", async () => {
    const shard = `${dir}/sp-0.npy`;
    const unchanged = await previous(shard);
    const v = normals(10, 4);
    await Deno.writeFile(
      `${dir}/five.npy`,
      npyBytes(v, [10, 4], "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 4), }"),
    );
    const r = await lnstream(
      ["split", `${dir}/five.npy`, "--shards", "2", "--out", `${dir}/sp`],
      "",
      perms,
    );
    assertEquals(r.code, 65, r.stderr);
    assertStringIncludes(r.stderr, "the header declares 5 rows");
    await unchanged();
    await Deno.stat(`${dir}/sp-1.npy`).then(() => assert(false, "a shard was written"), () => {});
  });
  await t.step("train: a checkpoint that is not one (65)", async () => {
    const unchanged = await previous(y, s);
    await Deno.writeTextFile(`${dir}/junk.st`, "not a checkpoint at all");
    const ck2 = `${dir}/out-ck`;
    const unchangedCk = await previous(ck2);
    const r = await lnstream(
      [
        "train",
        "--data",
        DATA,
        "--resume",
        `${dir}/junk.st`,
        "--log",
        y,
        "--svg",
        s,
        "--save",
        ck2,
      ],
      "",
      perms,
    );
    assertEquals(r.code, 65, r.stderr);
    await unchanged();
    await unchangedCk();
  });
  await t.step("compare: NaN tokens on stdin (65)", async () => {
    const unchanged = await previous(y, s);
    const v = normals(128, 16);
    v[7] = NaN;
    const r = await lnstream(
      ["compare", "--stdin", "--layers", "2", "--seeds", "1", "--svg", y, "--csv", s],
      npyBytes(v, [128, 16]),
      perms,
    );
    assertEquals(r.code, 65, r.stderr);
    assertStringIncludes(r.stderr, "row 0, channel 7");
    await unchanged();
  });
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    for (const cmd of ["gen", "normalize"]) {
      await t.step(`${cmd} -o stopped by ${signal} (${code})`, async () => {
        const unchanged = await previous(y);
        const args = cmd === "gen"
          ? ["gen", "--tokens", "100000000", "--dim", "64", "-o", y]
          : ["normalize", "--batch", "64", "--workers", "1", "-o", y];
        const child = new Deno.Command(Deno.execPath(), {
          args: ["run", "--quiet", ...perms, "mod.ts", ...args],
          cwd: ROOT_PATH,
          stdin: "piped",
          stdout: "null",
          stderr: "piped",
          signal: AbortSignal.timeout(60_000),
        }).spawn();
        const w = child.stdin.getWriter();
        if (cmd === "normalize") {
          // a stream that is still arriving when the signal comes
          await w.write(npyBytes(normals(1 << 20, 8), [1 << 20, 8]).subarray(0, 1 << 22)).catch(
            () => {},
          );
        }
        // the temporary file is there: the run is writing
        for (let i = 0; i < 200 && (await temporaries()).length === 0; i++) {
          await new Promise((r) => setTimeout(r, 25));
        }
        assertEquals((await temporaries()).length, 1, "no temporary file while writing");
        child.kill(signal);
        const out = await child.output().catch(() => null);
        await w.close().catch(() => {});
        assertEquals(out?.code, code, out ? new TextDecoder().decode(out.stderr) : "");
        await unchanged();
      });
    }
  }
});

Deno.test("FIFOs, /dev/stdout and /dev/null are written in place, not renamed", async () => {
  const fifo = `${dir}/fifo`;
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  const reader = new Deno.Command("cat", { args: [fifo], stdout: "piped" }).spawn();
  const r = await lnstream(["normalize", `${dir}/x.npy`, "--quiet", "-o", fifo], "", perms);
  assertEquals(r.code, 0, r.stderr);
  const through = (await reader.output()).stdout;
  const plain = await lnstream(["normalize", `${dir}/x.npy`, "--quiet"], "", perms);
  assertEquals(through, plain.stdout);
  assert((await Deno.lstat(fifo)).isFifo, "the FIFO was replaced");
  const out = await lnstream(
    ["normalize", `${dir}/x.npy`, "--quiet", "-o", "/dev/stdout"],
    "",
    perms,
  );
  assertEquals(out.stdout, plain.stdout);
  const none = await lnstream(
    ["normalize", `${dir}/x.npy`, "--stats", "/dev/null"],
    "",
    [...perms, "--allow-write=/dev/null"],
  );
  assertEquals(none.code, 0, none.stderr);
  assertEquals(await temporaries(), []);
});

Deno.test("kill -9 at random moments of a run that saves every step: the checkpoint always resumes the curve", async () => {
  const run = [
    ...TINY,
    "--dim",
    "128",
    "--layers",
    "2",
    "--iters",
    "400",
    "--eval-interval",
    "1",
    "--eval-iters",
    "1",
  ];
  const args = (extra: string[]) => ["train", "--data", DATA, ...dedupe(run), ...extra];
  // the uninterrupted curve
  const whole = await lnstream(
    args(["--until", "40", "--log", `${dir}/whole.ndjson`]),
    "",
    perms,
    120_000,
  );
  assertEquals(whole.code, 0, whole.stderr);
  const curve = new Map<number, unknown>();
  for (const l of (await Deno.readTextFile(`${dir}/whole.ndjson`)).trim().split("\n")) {
    const r = JSON.parse(l);
    if (r.type === "step") curve.set(r.step, { loss: r.loss, grad_norm: r.grad_norm, lr: r.lr });
  }
  const saving = async () => (await temporaries()).some((n) => n.startsWith(".k.st."));
  const rng = new Rng(2024);
  // kills until ten have fallen inside a save (each one checked, wherever it fell)
  let midSave = 0, kill = 0;
  for (; midSave < 10 && kill < 40; kill++) {
    await Deno.remove(`${dir}/k.st`).catch(() => {});
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", ...perms, "mod.ts", ...args(["--save", `${dir}/k.st`])],
      cwd: ROOT_PATH,
      stdout: "null",
      stderr: "null",
    }).spawn();
    // watched, not timed: the kill falls in the k-th save seen after the first checkpoint, at
    // whatever point of it the watch saw it (or just after it)
    const k = 1 + Math.floor(rng.uniform() * 6);
    let seen = 0, was = false;
    for (let i = 0; i < 20_000; i++) {
      const now = await saving();
      if (now && !was && await Deno.stat(`${dir}/k.st`).then(() => true, () => false)) seen++;
      was = now;
      if (seen >= k) break;
    }
    child.kill("SIGKILL");
    await child.status;
    if (await saving()) midSave++;
    // the last complete checkpoint loads and takes the next two steps of the same curve
    const probe = await lnstream(
      ["train", "--data", DATA, "--resume", `${dir}/k.st`, "--until", "0", "--log", "-", "--quiet"],
      "",
      perms,
    );
    assertEquals(probe.code, 0, `kill ${kill}: ${probe.stderr}`);
    const at = JSON.parse(probe.stderr.trim().split("\n").at(-1)!).step as number;
    assert(at >= 1 && at < 38, `kill ${kill}: checkpoint at step ${at}`);
    const more = await lnstream(
      [
        "train",
        "--data",
        DATA,
        "--resume",
        `${dir}/k.st`,
        "--until",
        String(at + 2),
        "--log",
        "-",
        "--quiet",
      ],
      "",
      perms,
    );
    assertEquals(more.code, 0, more.stderr);
    const steps = more.stderr.trim().split("\n").map((l) => JSON.parse(l)).filter((r) =>
      r.type === "step"
    );
    assertEquals(steps.map((r) => r.step), [at, at + 1]);
    for (const r of steps) {
      assertEquals(
        { loss: r.loss, grad_norm: r.grad_norm, lr: r.lr },
        curve.get(r.step),
        `step ${r.step}`,
      );
    }
    // what a kill leaves is at most one temporary file, never a broken checkpoint
    for (const name of await temporaries()) await Deno.remove(`${dir}/${name}`);
  }
  assert(midSave >= 10, `only ${midSave} of ${kill} kills fell inside a save`);
});

/** Flags given once each, the last value winning (the command line refuses repeats). */
function dedupe(args: string[]): string[] {
  const m = new Map<string, string>();
  for (let i = 0; i < args.length; i += 2) m.set(args[i], args[i + 1]);
  return [...m].flat();
}
