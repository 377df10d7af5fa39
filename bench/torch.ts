// PyTorch as a same-run baseline: bench/torch_block.py in a child process, one pass a line.
// PYTHON=… chooses the interpreter (with --allow-env=PYTHON; the bench task grants it)
export const python: string =
  (Deno.permissions.querySync({ name: "env", variable: "PYTHON" }).state === "granted"
    ? Deno.env.get("PYTHON")
    : undefined) ?? "/usr/bin/python3";
const script = decodeURIComponent(new URL("./torch_block.py", import.meta.url).pathname);

/**
 * A running PyTorch block (or stack): `step(backward)` runs one pass and waits for it; null
 * without python3 and torch.
 */
export async function torchBlock(
  shape: { B: number; T: number; C: number; H: number; L?: number; final?: boolean },
): Promise<((backward: boolean) => Promise<void>) | null> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(python, {
      args: [script, JSON.stringify(shape)],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
  } catch {
    return null;
  }
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const writer = child.stdin.getWriter();
  const enc = new TextEncoder();
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
  return async (backward: boolean) => {
    await writer.write(enc.encode(backward ? "fwdbwd\n" : "fwd\n"));
    await readLine();
  };
}
