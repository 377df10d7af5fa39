// lnstream used from another project (tests/consumer/, linked with "links"): the package root
// and a sub-path export resolve, including lnstream's own npm dependencies, offline.
import { assert, assertEquals } from "./std_assert.ts";
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

Deno.test("a project that links lnstream installs only what the library runs (deno-std), not its build and test tools", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lnstream-consumer-" });
  try {
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({ links: [ROOT_PATH], nodeModulesDir: "auto" }),
    );
    await Deno.copyFile(`${ROOT_PATH}/tests/consumer/consumer_test.ts`, `${dir}/consumer_test.ts`);
    const run = (args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args,
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
        signal: AbortSignal.timeout(120_000),
      }).output();
    const installed = await run(["install"]);
    assertEquals(installed.code, 0, new TextDecoder().decode(installed.stderr));
    const lock = JSON.parse(await Deno.readTextFile(`${dir}/deno.lock`));
    const packages = Object.keys(lock.npm ?? {}).sort();
    assertEquals(packages, ["deno-std@1.4.0"]);
    // what that is in bytes: the packages' folders in Deno's npm cache
    const info = JSON.parse(new TextDecoder().decode((await run(["info", "--json"])).stdout));
    let bytes = 0;
    for (const p of packages) {
      const at = p.lastIndexOf("@");
      bytes += await folderBytes(
        `${info.npmCache}/registry.npmjs.org/${p.slice(0, at)}/${p.slice(at + 1)}`,
      );
    }
    console.log(`a consumer installs ${packages.join(", ")}: ${(bytes / 2 ** 20).toFixed(1)} MiB`);
    assert(bytes > 0 && bytes < 10 * 2 ** 20, `${bytes} bytes`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function folderBytes(path: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(path)) {
    const p = `${path}/${e.name}`;
    if (e.isDirectory) n += await folderBytes(p);
    else if (e.isFile) n += (await Deno.stat(p)).size;
  }
  return n;
}
