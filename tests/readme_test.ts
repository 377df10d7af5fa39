// README's command-line examples run as written, each well under a minute, and leave the
// working tree as it was (they write into the git-ignored scratch/ folder).
import { assert, assertEquals } from "./std_assert.ts";
import { ROOT_PATH } from "./spawn.ts";

async function sh(cmd: string, timeoutMs: number) {
  const r = await new Deno.Command("bash", {
    args: ["-c", cmd],
    cwd: ROOT_PATH,
    stdout: "piped",
    stderr: "piped",
    // the `deno` of the examples is this one
    env: { PATH: `${Deno.execPath().replace(/\/[^/]*$/, "")}:${Deno.env.get("PATH") ?? ""}` },
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

Deno.test("README's command-line examples run and keep the tree clean", async () => {
  const readme = await Deno.readTextFile(`${ROOT_PATH}/README.md`);
  const blocks: string[] = [];
  const heads = [
    "## Command line",
    "## Past one machine: shards",
    "## Real models: `trace`, `embed`, `run --model`",
    "## Training: `train`",
  ];
  for (const head of heads) {
    const at = readme.indexOf("```sh\n", readme.indexOf(head)) + 6;
    blocks.push(readme.slice(at, readme.indexOf("```", at)));
  }
  const status = async () => (await sh("git status --porcelain", 10_000)).out;
  const before = await status();
  for (const block of blocks) {
    const r = await sh(`set -eo pipefail\n${block}`, 120_000);
    assertEquals(r.code, 0, `${block}\n${r.err}`);
  }
  assertEquals(await status(), before, "the README's commands changed the tree");
  assert(before !== undefined);
});

/** The lnstream command's stdout (this deno, the project's folder readable). */
async function lnstreamOut(args: string[]): Promise<string> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", `--allow-read=${ROOT_PATH}`, "mod.ts", ...args],
    cwd: ROOT_PATH,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(r.code, 0, new TextDecoder().decode(r.stderr));
  return new TextDecoder().decode(r.stdout);
}

Deno.test("README's compare depth summary is what its command prints", async () => {
  const readme = await Deno.readTextFile(`${ROOT_PATH}/README.md`);
  const at = readme.indexOf("Depth summary: the last layer's norm against L");
  const shown = readme.slice(at, readme.indexOf("```", at)).trim().split("\n");
  const out = await lnstreamOut(["compare", "--init", "gpt2,xavier", "--seeds", "5"]);
  const printed = out.slice(out.indexOf("Depth summary")).trim().split("\n").map((l) =>
    l.trimEnd()
  );
  assertEquals(shown, printed);
});

Deno.test("README's zoo table (gradients at initialization) is what its compare command gives", async () => {
  const readme = await Deno.readTextFile(`${ROOT_PATH}/README.md`);
  const rows = readme.split("\n").filter((l) => /^\| [a-z-]+ +\| \d/.test(l)).filter((l) =>
    l.includes(" → ") && l.includes(" ± ")
  );
  assertEquals(rows.length, 11);
  const doc = JSON.parse(
    await lnstreamOut([
      "compare",
      "--layers",
      "3,6,12",
      "--placement",
      "pre,post,peri,deepnorm,mix",
      "--norm",
      "layer,rms,dyt",
      "--init",
      "gpt2,xavier",
      "--seeds",
      "3",
      "--json",
    ]),
  );
  const e2 = (v: number) => v.toExponential(2).replace(/e([+-])(\d)$/, "e$1$2").replace("e+", "e");
  const exp = (e: number, sd: number) =>
    `${Math.abs(e) < 9.995 ? (e >= 0 ? "+" : "−") + Math.abs(e).toFixed(2) : e.toFixed(1)} ± ${
      sd.toFixed(2)
    }`.replace("-", "−");
  for (const row of rows) {
    const cells = row.split("|").slice(1, -1).map((c) => c.trim());
    const want = [cells[0]];
    for (const init of ["gpt2", "xavier"]) {
      // deno-lint-ignore no-explicit-any
      const run = doc.runs.find((r: any) =>
        r.variant === cells[0] && r.init === init && r.layers === 12
      );
      // deno-lint-ignore no-explicit-any
      const d = doc.depth.find((r: any) => r.variant === cells[0] && r.init === init);
      want.push(`${e2(run.mean[0])} → ${e2(run.mean[11])}`, exp(d.exponent, d.exponent_std));
    }
    assertEquals(cells, want);
  }
});

Deno.test("README's trace summary is what trace prints on the first lines of Romeo and Juliet", async () => {
  const readme = await Deno.readTextFile(`${ROOT_PATH}/README.md`);
  const at = readme.indexOf("trace: 4 × pre-LN blocks, 1 sequence(s)");
  const shown = readme.slice(at, readme.indexOf("```", at)).trim();
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", `--allow-read=${ROOT_PATH}`, "mod.ts", "trace"],
    cwd: ROOT_PATH,
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const w = r.stdin.getWriter();
  await w.write(
    new TextEncoder().encode("ROMEO:\nBut soft, what light through yonder window breaks?\n"),
  );
  await w.close();
  const out = await r.output();
  assertEquals(out.code, 0);
  const printed = new TextDecoder().decode(out.stderr).trim().split("\n").slice(0, 2).join("\n");
  assertEquals(shown, printed);
});

Deno.test("README's quick-start sentence is the one `task demo` prints", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT_PATH}/deno.json`)).tasks;
  const r = await sh(tasks.demo, 120_000);
  assertEquals(r.code, 0, r.err);
  const sentence = /Under Xavier init[^\n]*(?:\n[^\n]+)*/.exec(r.out)?.[0].replace(/\s+/g, " ");
  assert(sentence, r.out);
  const readme = (await Deno.readTextFile(`${ROOT_PATH}/README.md`)).replace(/\s+/g, " ");
  assert(readme.includes(`"${sentence.trim()}"`), `README does not quote: ${sentence}`);
});
