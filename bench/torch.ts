// PyTorch as a same-run baseline: a script in a child process that answers "ready", then one
// line ("ok") per command line it is sent, so a bench times PyTorch in its own loop.
// PYTHON=… chooses the interpreter (with --allow-env=PYTHON; the bench task grants it).
export const python: string =
  (Deno.permissions.querySync({ name: "env", variable: "PYTHON" }).state === "granted"
    ? Deno.env.get("PYTHON")
    : undefined) ?? "/usr/bin/python3";

/**
 * Starts `bench/<script>` with `arg` (JSON); returns `send(command)`, which resolves when the
 * script has answered, or null without python3 and torch.
 */
export async function pythonLoop(
  script: string,
  arg: unknown,
): Promise<((command: string) => Promise<void>) | null> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(python, {
      args: [decodeURIComponent(new URL(script, import.meta.url).pathname), JSON.stringify(arg)],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
  } catch {
    return null;
  }
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const writer = child.stdin.getWriter(), enc = new TextEncoder();
  let buf = "";
  const readLine = async () => {
    while (!buf.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) return null;
      buf += value;
    }
    const i = buf.indexOf("\n"), line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    return line;
  };
  if ((await readLine()) !== "ready") return null; // no torch here
  addEventListener("unload", () => child.kill());
  return async (command: string) => {
    await writer.write(enc.encode(command + "\n"));
    await readLine();
  };
}

/**
 * A running PyTorch block (or stack of L with the final LayerNorm; bench/torch_block.py):
 * `step(backward)` runs one pass and waits for it; null without python3 and torch.
 */
export async function torchBlock(
  shape: { B: number; T: number; C: number; H: number; L?: number; final?: boolean },
): Promise<((backward: boolean) => Promise<void>) | null> {
  const send = await pythonLoop("./torch_block.py", shape);
  return send && ((backward: boolean) => send(backward ? "fwdbwd" : "fwd"));
}
