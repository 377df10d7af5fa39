#!/bin/bash
# normalize_1gb_bench.ts as interleaved rounds (single runs here swing by ±20 % and more), with the
# fixed cost on a 16-token file: medians in ms. Usage: bash bench/normalize_1gb_rounds.sh [rounds]
set -e
cd "$(dirname "$0")/.."
F=$(mktemp --suffix .npy) T=$(mktemp --suffix .npy)
trap 'rm -f "$F" "$T"' EXIT
deno run mod.ts gen --tokens 327680 --dim 768 --seed 1 > "$F"
deno run mod.ts gen --tokens 16 --dim 768 --seed 1 > "$T"
t() { local s; s=$(date +%s%N); bash -c "$1" > /dev/null 2>&1; echo $(( ($(date +%s%N) - s) / 100000 )); }
N="deno run --allow-read=. --allow-write=/dev/null mod.ts normalize --quiet"
declare -A R
names="pass-through normalize normalize+stats pass-through(16) normalize(16) normalize+stats(16)"
for _ in $(seq "${1:-7}"); do
  for f in "$F" "$T"; do
    k=""; [ "$f" = "$T" ] && k="(16)"
    R[pass-through$k]+="$(t "deno run bench/passthrough.ts < $f") "
    R[normalize$k]+="$(t "$N < $f") "
    R[normalize+stats$k]+="$(t "$N --stats /dev/null < $f") "
  done
done
for n in $names; do
  echo "$n: $(echo ${R[$n]} | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {printf "median %.1f ms (%.1f–%.1f)", a[int((NR+1)/2)]/10, a[1]/10, a[NR]/10}')"
done
