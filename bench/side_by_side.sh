#!/usr/bin/env bash
# The harness against PyTorch on the same shapes, the same BLAS and thread count, one after the
# other on this machine: `harness bench` and `bench/reference.py --bench`, then the ratio of
# training tokens/s per variant (README, Performance notes).
#   [STEPS=30 TORCH_STEPS=15] bench/side_by_side.sh [SIZE=small] [THREADS=2] [HARNESS=build/harness]
set -eu
size=${1:-small}; threads=${2:-2}; h=${3:-build/harness}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
"$h" bench size=$size experts=8,32 steps=${STEPS:-30} threads=$threads > "$out/harness.txt"
/usr/bin/python3 "$here/reference.py" --bench "$size" "$threads" ${TORCH_STEPS:-15} > "$out/torch.txt"
grep -E "^BLAS|^sgemm" "$out/harness.txt"
head -1 "$out/torch.txt"
echo
echo "| $size, threads=$threads | params | harness tokens/s | PyTorch tokens/s | harness / PyTorch |"
echo "|---|---|---|---|---|"
# harness rows: | model | parity | experts | ... | params (7) | ... | train tok/s (9) |
awk -F'|' 'FNR == NR { if ($2 ~ /^ (dense|xmoe|mhmoe) $/) { name = $2 == " dense " ? "dense" : ($2 == " xmoe " ? "xmoe-" $4 : "mhmoe-" $4 " " $3);
                         gsub(/ /, "", name); sub(/mhmoe-/, "mhmoe-", name); tps[name] = $9; par[name] = $7 } next }
           $2 ~ /^ (dense|xmoe|mhmoe)/ { name = $2; gsub(/^ | $/, "", name); key = name; gsub(/ /, "", key)
                         if (key in tps) printf "| %s |%s| %.0f | %.0f | %.2f |\n", name, par[key], tps[key], $5, tps[key] / $5 }' \
  "$out/harness.txt" "$out/torch.txt"
rm -rf "$out"
