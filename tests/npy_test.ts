// .npy element types against files numpy wrote (tests/fixtures/npy/, made with numpy 2.4:
// x.astype(dtype) and, beside each, numpy's own conversion of it to <f4).
import { assert, assertEquals } from "./std_assert.ts";
import { parseNpyHeader, toFloat32 } from "../lib/io/npy.ts";
import { readTokens } from "../lib/pipeline/scan.ts";
import { lnstream } from "./spawn.ts";

const dir = new URL("./fixtures/npy/", import.meta.url);
const file = (name: string) => Deno.readFileSync(new URL(name, dir));

for (
  const [name, dtype] of [["x_lt_f2", "<f2"], ["x_gt_f2", ">f2"], ["x_gt_f4", ">f4"], [
    "x_gt_f8",
    ">f8",
  ]]
) {
  Deno.test(`${dtype} .npy reads as numpy's float32 conversion (${name})`, async () => {
    const bytes = file(`${name}.npy`);
    const h = parseNpyHeader(bytes);
    assertEquals(h.dtype, dtype);
    assertEquals(h.shape, [3, 4]);
    const want = file(
      `${name.replace("gt_f2", "lt_f2")}_as_f4.npy`.replace("x_gt_f2_as_f4", "x_lt_f2_as_f4"),
    );
    const ref = new Float32Array(want.slice(parseNpyHeader(want).dataOffset).buffer);
    const got = new Float32Array(12);
    toFloat32(got, bytes.subarray(h.dataOffset), h.dtype, 12);
    assertEquals(got, ref);
    // and through the pipeline's decoder
    const { tokens, C } = await readTokens(ReadableStream.from([bytes]), 100);
    assertEquals(C, 4);
    assertEquals(tokens, ref);
    // normalize gives the same bytes as for numpy's float32 file
    const a = await lnstream(["normalize", "--quiet"], bytes);
    const b = await lnstream(["normalize", "--quiet"], want);
    assertEquals(a.code, 0, a.stderr);
    assertEquals(a.stdout, b.stdout);
  });
}

Deno.test("unsupported .npy element types are named", async () => {
  const bytes = file("x_gt_f4.npy").slice();
  const at = new TextDecoder("latin1").decode(bytes.subarray(0, 64)).indexOf(">f4");
  bytes[at + 1] = "i".charCodeAt(0); // '>f4' → '>i4'
  const r = await lnstream(["normalize"], bytes);
  assertEquals(r.code, 65);
  assert(r.stderr.includes("'>i4'") && r.stderr.includes(">f2"), r.stderr);
});
