// For the pipeline benchmarks: a command with a file on stdin (a shell redirect, as a user
// would run it) and stdout to /dev/null, from the project's folder.
const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);

/** Runs `cmd` with `file` on stdin and stdout to /dev/null; throws with its stderr on failure. */
export async function pipeFile(file: string, cmd: string[]): Promise<void> {
  const quoted = cmd.map((a) => `'${a.replaceAll("'", "'\\''")}'`);
  const out = await new Deno.Command("bash", {
    args: ["-c", `${quoted.join(" ")} < '${file}' > /dev/null`],
    cwd: ROOT,
    stderr: "piped",
  }).output();
  if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
}
