#!/usr/bin/env bash
# The harness against PyTorch on the same shapes, the same BLAS and thread count, one after the
# other on this machine: `harness bench` and `bench/reference.py --bench`, then the ratio of
# training tokens/s per variant (README, Performance notes).
#   [STEPS=30 TORCH_STEPS=15 GEMM=openblas] bench/side_by_side.sh [SIZE=small] [THREADS=2] [HARNESS=build/harness]
# (GEMM: the harness's gemm= -- openblas, onednn or auto; PyTorch keeps its own)
set -eu
size=${1:-small}; threads=${2:-2}; h=${3:-build/harness}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
"$h" bench size=$size experts=8,32 steps=${STEPS:-30} threads=$threads gemm=${GEMM:-openblas} > "$out/harness.txt"
# PyTorch loads the same libopenblas: on the kernel the harness runs (it may have replaced
# OpenBLAS's generic choice), else the ratio measures the kernels, not the programs
core=$(sed -n 's/^BLAS: .*; kernel \([A-Za-z0-9_]*\) .*/\1/p' "$out/harness.txt" | head -1)
OPENBLAS_CORETYPE=${core:-${OPENBLAS_CORETYPE:-}} /usr/bin/python3 "$here/reference.py" --bench "$size" "$threads" ${TORCH_STEPS:-15} > "$out/torch.txt"
grep -E "^BLAS|^sgemm" "$out/harness.txt"
echo "harness gemm=${GEMM:-openblas}"
echo "PyTorch with OPENBLAS_CORETYPE=${core:-unset}"
head -1 "$out/torch.txt"
echo
echo "| $size, threads=$threads | params | harness tokens/s | PyTorch tokens/s | harness / PyTorch |"
echo "|---|---|---|---|---|"
# harness rows: | threads | model | parity | experts | ... | params (8) | ... | train tok/s (10) |
awk -F'|' 'FNR == NR { if ($3 ~ /^ (dense|xmoe|mhmoe) $/) { name = $3 == " dense " ? "dense" : ($3 == " xmoe " ? "xmoe-" $5 : "mhmoe-" $5 " " $4);
                         gsub(/ /, "", name); tps[name] = $10; par[name] = $8 } next }
           $2 ~ /^ (dense|xmoe|mhmoe)/ { name = $2; gsub(/^ | $/, "", name); key = name; gsub(/ /, "", key)
                         if (key in tps) { rows++; printf "| %s |%s| %.0f | %.0f | %.2f |\n", name, par[key], tps[key], $5, tps[key] / $5 } }
           END { if (!rows) { print "side_by_side.sh: no variant matched between the two tables" > "/dev/stderr"; exit 1 } }' \
  "$out/harness.txt" "$out/torch.txt"
rm -rf "$out"
