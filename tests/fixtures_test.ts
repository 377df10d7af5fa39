// The golden fixtures are what tests/fixtures/golden/regenerate.py computes from their own
// inputs with PyTorch, byte for byte (run where python3 has torch: Debian's python3-torch).
import { assert } from "./std_assert.ts";
import { ROOT_PATH } from "./spawn.ts";

// Debian's python3 (where python3-torch installs), else the one on PATH
const hasTorch = (python: string) =>
  new Deno.Command(python, { args: ["-c", "import torch, numpy"] }).output()
    .then((o) => o.success, () => false);
const python = await hasTorch("/usr/bin/python3")
  ? "/usr/bin/python3"
  : await hasTorch("python3")
  ? "python3"
  : null;

Deno.test({
  name: "golden fixtures: regenerate.py reproduces every file byte for byte from its inputs",
  ignore: python === null,
  async fn() {
    const out = await new Deno.Command(python!, {
      args: [`${ROOT_PATH}/tests/fixtures/golden/regenerate.py`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert(out.code === 0, text);
    assert(/(\d+) of \1 files reproduced byte for byte/.test(text), text);
  },
});
