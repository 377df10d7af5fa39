// A random GPT-2 in the Hugging Face layout (model.safetensors, F32, with config.json), written
// tensor by tensor: for tests and benchmarks that need a real model's size and shape.

/** The shape of the model to write. */
export interface RandomGpt2 {
  layers: number;
  dim: number;
  heads: number;
  vocab: number;
  positions: number;
  /** repeat one 4 MiB block of values (fast, for sizes) instead of drawing every value */
  repeat?: boolean;
}

/** Writes `dir/model.safetensors` and `dir/config.json`; returns the tensors' bytes. */
export async function writeRandomGpt2(dir: string, m: RandomGpt2): Promise<number> {
  const { layers: L, dim: C, vocab: V, positions: P } = m;
  const names: [string, number[]][] = [["wte.weight", [V, C]], ["wpe.weight", [P, C]]];
  for (let l = 0; l < L; l++) {
    const h = `h.${l}.`;
    names.push(
      [h + "ln_1.weight", [C]],
      [h + "ln_1.bias", [C]],
      [h + "attn.c_attn.weight", [C, 3 * C]],
      [h + "attn.c_attn.bias", [3 * C]],
      [h + "attn.c_proj.weight", [C, C]],
      [h + "attn.c_proj.bias", [C]],
      [h + "ln_2.weight", [C]],
      [h + "ln_2.bias", [C]],
      [h + "mlp.c_fc.weight", [C, 4 * C]],
      [h + "mlp.c_fc.bias", [4 * C]],
      [h + "mlp.c_proj.weight", [4 * C, C]],
      [h + "mlp.c_proj.bias", [C]],
    );
  }
  names.push(["ln_f.weight", [C]], ["ln_f.bias", [C]]);
  const header: Record<string, unknown> = {};
  let at = 0;
  for (const [n, s] of names) {
    const size = s.reduce((a, b) => a * b, 1) * 4;
    header[n] = { dtype: "F32", shape: s, data_offsets: [at, at + size] };
    at += size;
  }
  let text = JSON.stringify(header);
  text += " ".repeat((8 - (text.length % 8)) % 8);
  let seed = 1;
  const draw = (a: Float32Array) => {
    for (let i = 0; i < a.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      a[i] = (seed / 2 ** 32 - 0.5) * 0.07;
    }
    return a;
  };
  const block = m.repeat ? new Uint8Array(draw(new Float32Array(1 << 20)).buffer) : null;
  const f = await Deno.open(`${dir}/model.safetensors`, { write: true, create: true });
  try {
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(text.length), true);
    await f.write(len);
    await f.write(new TextEncoder().encode(text));
    const all = async (b: Uint8Array) => {
      for (let o = 0; o < b.length;) o += await f.write(b.subarray(o, o + (1 << 24)));
    };
    for (const [n, s] of names) {
      const size = s.reduce((x, y) => x * y, 1);
      // the norms' gains 1, as a model starts
      if (/ln_[12f]\.weight$/.test(n)) {
        await all(new Uint8Array(new Float32Array(size).fill(1).buffer));
      } else if (block) {
        for (let left = size * 4; left > 0; left -= Math.min(left, block.length)) {
          await all(block.subarray(0, Math.min(left, block.length)));
        }
      } else await all(new Uint8Array(draw(new Float32Array(size)).buffer));
    }
  } finally {
    f.close();
  }
  await Deno.writeTextFile(
    `${dir}/config.json`,
    JSON.stringify({ n_layer: L, n_head: m.heads, n_embd: C, vocab_size: V, n_positions: P }),
  );
  return at;
}
