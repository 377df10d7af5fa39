// split → GNU parallel → stats merge equals one whole run, bit for bit (README's recipe).
import { assert, assertEquals } from "./std_assert.ts";
import { lnstream, npyBytes, npyData, ROOT_PATH } from "./spawn.ts";
import { Rng } from "../lib/model/rng.ts";

async function sh(cmd: string): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command("bash", {
    args: ["-c", cmd],
    cwd: ROOT_PATH,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

/** A summary without what legitimately differs between one run and merged shards. */
function comparable(s: Record<string, unknown>) {
  const { timing: _t, ...rest } = s;
  return rest;
}

for (const format of ["ndjson", "npy"] as const) {
  Deno.test(`split ${format} into 3 shards, run them with GNU parallel, merge = one run`, async () => {
    const which = await sh("command -v parallel");
    assert(which.code === 0, "GNU parallel is not installed (Debian: apt-get install parallel)");
    const dir = await Deno.makeTempDir({ prefix: "lnstream-split-" });
    const deno = Deno.execPath();
    const N = 1000, C = 16, x = new Float32Array(N * C);
    new Rng(9).fillNormal(x, 2, 0.5);
    let input: Uint8Array;
    if (format === "npy") input = npyBytes(x, [N, C]);
    else {
      const rows = [];
      for (let t = 0; t < N; t++) {
        rows.push(JSON.stringify(Array.from(x.subarray(t * C, t * C + C))));
      }
      input = new TextEncoder().encode(rows.join("\n") + "\n");
    }
    await Deno.writeFile(`${dir}/x.${format}`, input);
    const perms = `--allow-read=${ROOT_PATH},${dir} --allow-write=${dir}`;
    const list = await sh(
      `"${deno}" run --quiet ${perms} mod.ts split "${dir}/x.${format}" --shards 3 --batch 100 ` +
        `--out "${dir}/s" > "${dir}/list"`,
    );
    assertEquals(list.code, 0, list.err);
    const shards = (await Deno.readTextFile(`${dir}/list`)).trim().split("\n").map((l) =>
      l.split("\t")
    );
    assertEquals(shards.length, 3);
    // whole batches of 100 tokens: the shards' batches add up to the whole run's
    assertEquals(shards.map((s) => Number(s[1])), [0, 400, 800]);
    const par = await sh(
      `parallel --halt now,fail=1 --colsep '\\t' "${deno}" run --quiet ${perms} mod.ts normalize {1} ` +
        `-o {1}.out --offset {2} --batch 100 --quiet --stats {1}.stats :::: "${dir}/list"`,
    );
    assertEquals(par.code, 0, par.err);
    const merged = await sh(
      `"${deno}" run --quiet --allow-read=${dir} mod.ts stats merge "${dir}"/s-*.stats`,
    );
    assertEquals(merged.code, 0, merged.err);
    const whole = await lnstream(["normalize", "--batch", "100", "--quiet", "--stats", "-"], input);
    assertEquals(whole.code, 0, whole.stderr);
    const wholeSummary = JSON.parse(whole.stderr.trim().split("\n").at(-1)!);
    assertEquals(comparable(JSON.parse(merged.out)), comparable(wholeSummary));
    // the shards' outputs, in order, are the whole run's output
    const outs = shards.map((s) => Deno.readFileSync(`${s[0]}.out`));
    if (format === "ndjson") {
      assertEquals(outs.map((o) => new TextDecoder().decode(o)).join(""), whole.text);
    } else {
      const all = outs.flatMap((o) => Array.from(npyData(o).data));
      assertEquals(Float32Array.from(all), npyData(whole.stdout).data);
    }
  });
}
