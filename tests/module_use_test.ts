// lnstream used from another project (tests/consumer/, linked with "links"): the package root
// and a sub-path export resolve, including lnstream's own npm dependencies, offline.
import { assertEquals } from "./std_assert.ts";
import { ROOT_PATH } from "./spawn.ts";

Deno.test("another project imports lnstream through links and runs its tests", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--quiet", `--allow-read=${ROOT_PATH}`],
    cwd: `${ROOT_PATH}/tests/consumer`,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    signal: AbortSignal.timeout(120_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, text);
});
