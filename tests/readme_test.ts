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
