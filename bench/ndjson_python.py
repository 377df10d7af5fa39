# The Python NDJSON baseline of bench/ndjson_bench.ts: each line read with json into a float32
# numpy array and written back with json, nothing else. Lines in, lines out, stdin to stdout.
import json
import sys

import numpy as np

out = sys.stdout
for line in sys.stdin:
    if not line.strip():
        continue
    a = np.asarray(json.loads(line), dtype=np.float32)
    out.write(json.dumps(a.tolist()))
    out.write("\n")
