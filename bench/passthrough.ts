// The pass-through baseline for the pipeline benchmark: stdin to stdout through
// one reused 1 MiB buffer, no parsing, no workers.
const buf = new Uint8Array(1 << 20);
for (;;) {
  const n = await Deno.stdin.read(buf);
  if (n === null) break;
  let off = 0;
  while (off < n) off += await Deno.stdout.write(buf.subarray(off, n));
}
