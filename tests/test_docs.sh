#!/usr/bin/env bash
# Every harness command quoted in README.md and docs/*.md still parses: its subcommand is one
# `harness help` lists, and every key=value word names a key `harness help` or `harness help
# run` knows (run keys, task and route keys, and the other commands' own words). A renamed key
# or command fails here, naming the file and line. The docs' tables render: no line inside a
# table that is not a table row.
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/tests/shell_check.sh"

"$H" help > help.txt 2>&1
"$H" help run > help_run.txt 2>&1
# the subcommands: the first word of the usage lines ("  run key=value ...", "  sweep paper ...")
awk '/^  [a-z]/ { print $1 }' help.txt | sort -u > commands.txt
# the keys: run's (by task and route too), and every word=... the usage shows
{ awk '/^  [a-z_0-9]+ / { print $1 }' help_run.txt; grep -oE '[a-z_]+=' help.txt | tr -d '='; } | sort -u > keys.txt
ok "help lists the commands and the keys" '[ "$(wc -l < commands.txt)" -ge 10 ] && grep -qx steps keys.txt && grep -qx fig keys.txt'

# the quoted commands: code lines (4 spaces in) and `...` spans that call harness, one per line
for f in "$ROOT"/README.md "$ROOT"/docs/*.md; do
  name="${f#$ROOT/}"
  grep -nE '(^    .*harness [a-z]|`(\./build/)?harness [a-z][^`]*`)' "$f" | while IFS= read -r hit; do
    line="${hit%%:*}" text="${hit#*:}"
    # a command: ./build/harness anywhere (after && or mpirun ...), harness first on a code
    # line, or `harness ...` in backticks; up to a backtick, a '#' comment, '|', ';' or '&'
    { printf '%s\n' "$text" | grep -oE '\./build/harness [a-z][^`#|;&]*'
      printf '%s\n' "$text" | grep -oE '^    +harness [a-z][^`#|;&]*' | sed -E 's/^ +//'
      printf '%s\n' "$text" | grep -oE '`harness [a-z][^`]*`' | tr -d '`' | sed -E 's/[#|;&].*//'
    } | while IFS= read -r cmd; do
      echo "$name:$line: $cmd"
    done
  done
done > quoted.txt
ok "the docs quote commands ($(wc -l < quoted.txt))" '[ "$(wc -l < quoted.txt)" -ge 30 ]'

bad=0
while IFS= read -r q; do
  where="${q%%: *}" cmd="${q#*: }"
  # quoted arguments (SQL, titles) are not key=value words
  args=$(printf '%s' "${cmd#*harness }" | sed -E "s/\"[^\"]*\"//g; s/'[^']*'//g")
  set -f
  set -- $args
  set +f
  sub="$1"; shift
  if ! grep -qx "$sub" commands.txt; then echo "$where: '$sub' is not a harness command: $cmd" >&2; bad=$((bad + 1)); continue; fi
  for w in "$@"; do
    case "$w" in
      *=*) k="${w%%=*}" ;;
      *) continue ;;
    esac
    # placeholders (key=value, KEY=VALUE) are not keys
    [[ "$k" =~ ^[a-z_0-9]+$ ]] && [ "$k" != key ] || continue
    grep -qx "$k" keys.txt || { echo "$where: '$k=' is not a key harness knows: $cmd" >&2; bad=$((bad + 1)); }
  done
done < quoted.txt
ok "every quoted command's keys are known ($bad unknown)" '[ $bad -eq 0 ]'

# a table is a run of lines starting with '|': a paragraph line between two table rows breaks it
broken=0
for f in "$ROOT"/README.md "$ROOT"/docs/*.md; do
  n=$(awk 'prev ~ /^\|/ && $0 !~ /^\|/ && $0 != "" { held = FNR } held && /^\|/ && FNR > held { print FILENAME ":" held; held = 0 } { prev = $0 } /^$/ { held = 0 }' "$f" | wc -l)
  [ "$n" -eq 0 ] || { echo "$f: a line inside a table" >&2; broken=$((broken + n)); }
done
ok "tables render: no paragraph inside a table ($broken)" '[ $broken -eq 0 ]'
# a table of paired verdicts (header "| a | b | n | ...") under a quoted `harness compare ...
# db=results/published/NAME.db` is what that command prints on the committed db: each row's n,
# b - a and interval to the printed digit, and "better" in its adjusted verdict exactly when the
# command's verdict_holm says so. Those tables are the published claims.
awk 'match($0, /`harness compare [^`]*db=results\/published\/[a-z_]+\.db[^`]*`/) { cmd = substr($0, RSTART + 1, RLENGTH - 2); next }
     /^\| a \| b \| n \|/ && cmd != "" { for (i = 2; i < NF; i++) col[i] = $i; intable = 1; print "CMD\t" FILENAME ":" FNR "\t" cmd; next }
     intable && /^\|/ { if ($0 ~ /^\|---/) next; row = "ROW"
       for (i = 2; i < NF; i++) { c = col[i]; v = $i; gsub(/^ +| +$/, "", c); gsub(/^ +| +$|\*\*|`/, "", v)
         if (c == "a" || c == "b" || c == "n" || c == "b - a" || c == "95% interval" || c ~ /^verdict/) row = row "\t" v }
       print row; next }
     { if (intable) cmd = ""; intable = 0 }' FS='|' "$ROOT"/README.md "$ROOT"/docs/*.md > claims.txt
checked=0 wrong=0
while IFS=$'\t' read -r kind f1 f2 f3 f4 f5 f6; do
  if [ "$kind" = CMD ]; then
    where=$f1; set -f; set -- ${f2#harness }; set +f
    db=""; args=()
    for w in "$@"; do case "$w" in db=*) db=${w#db=} ;; *) args+=("$w") ;; esac; done
    [ -s "$(basename "$db")" ] || gzip -dc "$ROOT/$db.gz" > "$(basename "$db")"
    "$H" "${args[@]}" db="$(basename "$db")" csv=1 2> /dev/null | sed -E 's/"\[([^,]*), ([^]]*)\]"/[\1 \2]/' > printed.csv
    continue
  fi
  # a, b, n, b - a, interval, verdict (the table's order); the CSV's: task,size_steps,metric,a,b,n,..,diff,ci95,..,verdict_holm
  line=$(awk -F, -v a="$f1" -v b="$f2" '$4 == a && $5 == b' printed.csv)
  ci=$(printf '%s' "$f5" | tr -d ',')
  got=$(printf '%s' "$line" | awk -F, '{ print $6 "|" $9 "|" $10 "|" ($15 ~ /better/) }')
  want="$f3|$f4|$ci|$([[ "$f6" == *better* ]] && echo 1 || echo 0)"
  checked=$((checked + 1))
  [ "$got" = "$want" ] || { echo "$where: $f1 vs $f2: the doc says $want, the command prints ${got:-nothing}" >&2; wrong=$((wrong + 1)); }
done < claims.txt
ok "the published verdict tables are what their quoted commands print on the committed dbs ($checked rows, $wrong wrong)" '[ $checked -ge 5 ] && [ $wrong -eq 0 ]'
# the front door stays a front door
ok "README.md is about 200 lines at most ($(wc -l < "$ROOT/README.md"))" '[ "$(wc -l < "$ROOT/README.md")" -le 220 ]'
finish
