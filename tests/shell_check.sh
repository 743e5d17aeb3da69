# Sourced by the shell tests: $1 is the harness binary (H); the test runs in a fresh temporary
# folder (W) removed at exit; ok NAME CONDITION counts, and finish prints the summary line
# ctest's log shows and sets the exit code.
set -u
H="$1"
W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
cd "$W"
pass=0 fail=0
ok() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $1" >&2; fi; }
# the largest |a - b| / |a| over the lines "a<TAB>b" on stdin; 1 unless there are exactly $1 lines
max_rel_diff() { awk -v want="$1" 'BEGIN { m = 0 } { d = ($1 - $2) / $1; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3g\n", NR == want ? m : 1 }'; }
finish() { echo "$pass passed, $fail failed"; [ $fail -eq 0 ]; }
# waits until CONDITION holds, checking every 0.05 s, for up to 5 minutes: a loaded or slow
# machine reaches the state later, never a different one (1 when it never came)
wait_until() { local i; for i in $(seq 6000); do eval "$1" 2> /dev/null && return 0; sleep 0.05; done; return 1; }
