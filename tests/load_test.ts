// Real models in: Hugging Face GPT-2 safetensors (F32, F16, BF16; with and without the
// "transformer." prefix; with a separate lm_head) give PyTorch's logits and loss on every backend;
// a wrong file is a DataError naming the key; lnstream's checkpoints load; GPT-2's tokenizer gives
// the reference ids.
import { assert, assertEquals, assertRejects } from "./std_assert.ts";
import { loadModel } from "../lib/train/load.ts";
import { gpt2Tokenizer } from "../lib/train/tokenizer.ts";
import { DataError, OptionError } from "../lib/io/errors.ts";
import { F32_BACKENDS } from "./golden.ts";

const HF = new URL("./fixtures/hf/", import.meta.url).pathname;
const CASES: [string, number | undefined][] = [
  ["f32", undefined],
  ["f16_prefix", 2],
  ["bf16_head", undefined],
  ["bpe", undefined],
];

Deno.test("HF GPT-2 files give PyTorch's logits and next-token loss on every backend", async (t) => {
  for (const [dir, heads] of CASES) {
    const exp = JSON.parse(await Deno.readTextFile(`${HF}${dir}/expected.json`));
    for (const backend of ["ts" as const, ...F32_BACKENDS.filter((b) => b !== "ts")]) {
      await t.step(`${dir}, ${backend}`, async () => {
        const { model, info } = await loadModel(`${HF}${dir}/model.safetensors`, {
          heads,
          backend,
        });
        assertEquals(info.kind, "gpt2");
        assertEquals(info.config.tiedHead, dir !== "bf16_head");
        const ids = Int32Array.from(exp.ids as number[]), T = ids.length, V = model.vocab;
        // HF's labels=input_ids: each token predicts the next; the last predicts nothing
        const y = Int32Array.from(ids, (_, i) => (i + 1 < T ? ids[i + 1] : -1));
        const logits = new Float32Array(T * V);
        const loss = model.loss(ids, y, 1, T, logits);
        let worst = 0, max = 0;
        for (let i = 0; i < logits.length; i++) {
          worst = Math.max(worst, Math.abs(logits[i] - exp.f64.logits[i]));
          max = Math.max(max, Math.abs(exp.f64.logits[i]));
        }
        // torch's own float32 logits are this far from float64: a few times that
        let torch32 = 0;
        for (let i = 0; i < logits.length; i++) {
          torch32 = Math.max(torch32, Math.abs(exp.f32.logits[i] - exp.f64.logits[i]));
        }
        assert(
          worst <= Math.max(10 * torch32, 1e-6 * max),
          `logits off by ${worst} (torch f32: ${torch32})`,
        );
        assert(
          Math.abs(loss - exp.f64.loss) <= 1e-5 * exp.f64.loss,
          `loss ${loss} vs ${exp.f64.loss}`,
        );
      });
    }
  }
});

/** A copy of a safetensors file with its header changed by `edit`. */
async function edited(
  dir: string,
  edit: (h: Record<string, unknown>) => void,
): Promise<Uint8Array> {
  const b = await Deno.readFile(`${HF}${dir}/model.safetensors`);
  const n = Number(new DataView(b.buffer).getBigUint64(0, true));
  const h = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n)));
  edit(h);
  let text = JSON.stringify(h);
  text += " ".repeat((8 - (text.length % 8)) % 8);
  const head = new TextEncoder().encode(text),
    out = new Uint8Array(8 + head.length + b.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(b.subarray(8 + n), 8 + head.length);
  return out;
}

Deno.test("a file that is not a GPT-2 model is a DataError naming the key", async (t) => {
  const cases: [string, () => Promise<Uint8Array>, string][] = [
    [
      "a missing tensor",
      () => edited("f32", (h) => delete h["h.1.mlp.c_fc.bias"]),
      "no tensor 'h.1.mlp.c_fc.bias'",
    ],
    ["a wrong shape", () =>
      edited("f32", (h) => {
        const e = h["h.0.attn.c_proj.weight"] as { shape: number[] };
        e.shape = [8, 32];
      }), "'h.0.attn.c_proj.weight' has shape [8,32], [16,16] expected"],
    ["an unknown dtype", () =>
      edited("f32", (h) => {
        (h["ln_f.bias"] as { dtype: string }).dtype = "I32";
      }), "'ln_f.bias' is I32"],
    ["a tensor of another model", () =>
      edited("f32", (h) => {
        h["h.0.attn.q_proj.weight"] = h["h.0.attn.c_proj.weight"];
      }), "'h.0.attn.q_proj.weight' is not part of a GPT-2 model"],
    ["offsets past the end", () =>
      edited("f32", (h) => {
        (h["wte.weight"] as { data_offsets: number[] }).data_offsets = [0, 1 << 30];
      }), "'wte.weight' ends at byte"],
    [
      "not safetensors",
      () => Promise.resolve(new TextEncoder().encode("hello, world, no header")),
      "not a safetensors file",
    ],
    [
      "cut short",
      async () => (await Deno.readFile(`${HF}f32/model.safetensors`)).subarray(0, 4000),
      "ends at byte",
    ],
  ];
  for (const [name, make, says] of cases) {
    await t.step(name, async () => {
      await assertRejects(async () => await loadModel(await make(), { heads: 2 }), DataError, says);
    });
  }
  await t.step("no config.json and no heads: the option is required", async () => {
    await assertRejects(
      () => loadModel(`${HF}f16_prefix/model.safetensors`),
      OptionError,
      "heads is required",
    );
  });
  await t.step("heads not dividing C", async () => {
    await assertRejects(
      () => loadModel(`${HF}f16_prefix/model.safetensors`, { heads: 3 }),
      OptionError,
      "dividing C = 16",
    );
  });
});

Deno.test("loadModel takes the file's bytes too; an lnstream checkpoint loads with its characters", async () => {
  const bytes = await Deno.readFile(`${HF}f32/model.safetensors`);
  const a = await loadModel(bytes, { heads: 2 });
  const b = await loadModel(`${HF}f32/model.safetensors`);
  assertEquals([...a.model.params], [...b.model.params]);
  assertEquals(a.info.from, "the tensors' shapes");
  const ck = await loadModel(new URL("./fixtures/train/ck_0.3.0_pre.st", import.meta.url).pathname);
  assertEquals(ck.info.kind, "lnstream");
  assertEquals(ck.tokenizer!.decode(ck.tokenizer!.encode("ROMEO:\n")), "ROMEO:\n");
  assertEquals(ck.model.gpt.config.nLayer, 2);
  const ids = Int32Array.from(ck.tokenizer!.encode("First Citizen:\nBefore"));
  const loss = ck.model.loss(ids.subarray(0, 8), ids.subarray(1, 9), 1, 8);
  assert(loss > 0 && loss < Math.log(ck.model.vocab) + 1, `loss ${loss}`);
});

Deno.test("GPT-2's BPE gives the reference ids on text with Unicode, whitespace runs and digits", async () => {
  const dir = new URL("./fixtures/tokenizer/", import.meta.url);
  const text = await Deno.readTextFile(new URL("text.txt", dir));
  const ref = JSON.parse(await Deno.readTextFile(new URL("ids.json", dir))).ids as number[];
  const t = await gpt2Tokenizer();
  assertEquals(t.encode(text), ref);
  assertEquals(t.decode(ref), text);
  assertEquals(t.vocabSize, 50257);
});

Deno.test("a tokenizer.json beside the model is its tokenizer: the ids of Hugging Face tokenizers", async () => {
  const dir = new URL("./fixtures/tokenizer/", import.meta.url);
  const text = await Deno.readTextFile(new URL("text.txt", dir));
  // tests/fixtures/tokenizer/make_bpe.py: a byte-level BPE trained with tokenizers, its ids
  const ref = JSON.parse(await Deno.readTextFile(new URL("ids_bpe.json", dir))).ids as number[];
  const { tokenizer, model } = await loadModel(`${HF}bpe/model.safetensors`);
  assertEquals(tokenizer!.name, "tokenizer.json");
  assertEquals(tokenizer!.encode(text), ref);
  assertEquals(tokenizer!.decode(ref), text);
  assertEquals(model.vocab, 400);
  // one of more ids than the model has is refused
  const tmp = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${HF}f32/model.safetensors`, `${tmp}/model.safetensors`);
    await Deno.copyFile(`${HF}f32/config.json`, `${tmp}/config.json`);
    await Deno.copyFile(new URL("tokenizer.json", dir), `${tmp}/tokenizer.json`);
    await assertRejects(
      () => loadModel(`${tmp}/model.safetensors`),
      DataError,
      "has 400 tokens; the model's vocabulary holds 50",
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
