#!/usr/bin/env bash
# harness report on a db of real runs: one self-contained HTML page (no script, nothing fetched)
# whose figures are the SVGs plot draws and whose tables are the verdicts and the runs; opened in
# headless Chromium (Debian's), which must find every figure and table the file holds and take a
# screenshot of it.
source "$(dirname "$0")/shell_check.sh"
mkdir fort
for i in $(seq 1 300); do echo "The fox number $i jumps over the lazy dog near house $i."; echo "%"; done > fort/animals
"$H" data prepare english source=fort data_dir=d > /dev/null 2>&1
for m in dense xmoe; do for s in 1 2; do
  "$H" run task=english model=$m experts=4 size=tiny steps=20 eval_every=10 eval_tokens=1024 final_eval_tokens=2048 seed=$s threads=1 data_dir=d db=r.db > /dev/null 2>&1
done; done
ok "four runs to report" '[ "$(sqlite3 r.db "select count(*) from runs where status = \"done\"")" = 4 ]'
"$H" report db=r.db out=rep > rep.log 2>&1; rc=$?
ok "report writes one page" '[ $rc -eq 0 ] && [ -s rep/index.html ]'
ok "self-contained: no script, nothing fetched" '! grep -qi "<script" rep/index.html && ! grep -qiE "(src|href)=\"(https?:)?//" rep/index.html && ! grep -qi "<img" rep/index.html'
figs=$(grep -c "<figure" rep/index.html); svgs=$(ls rep/figures/*.svg | wc -l)
ok "every figure drawn is inline ($figs figures, $svgs SVG files)" '[ "$figs" -ge 3 ] && [ "$figs" = "$svgs" ] && [ "$(grep -o "<svg" rep/index.html | wc -l)" = "$figs" ]'
ok "each drawn figure's caption from the db (n per series) under it" '[ "$(grep -c "<span class=\"caption\">" rep/index.html)" -ge 3 ] && grep -q "xmoe-4 tiny/20 (n=2)" rep/index.html'
ok "every figure of the table is there, drawn or said why not" '[ "$(( figs + $(grep -c "Not drawn:" rep/index.html) ))" = "$("$H" help plot | grep -c "^  [a-z]")" ]'
ok "the verdicts by model and the runs table (4 rows)" 'grep -q "<h3>by model</h3>" rep/index.html && grep -q "<td>dense</td><td>xmoe-4</td><td>2</td>" rep/index.html && [ "$(sed -n "/id=\"runs\"/,\$p" rep/index.html | grep -c "^<tr><td>[0-9]")" = 4 ]'
ok "where it was made" 'grep -q "OpenBLAS kernels: " rep/index.html && grep -q "Runs made on: " rep/index.html'
# the browser: the DOM it builds holds every figure, SVG and table of the file; a screenshot
CHROME=$(command -v chromium || command -v chromium-browser || true)
ok "Debian's chromium is installed (.ci/packages)" '[ -n "$CHROME" ]'
if [ -n "$CHROME" ]; then
  timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --user-data-dir="$W/chrome" --dump-dom "file://$W/rep/index.html" > dom.html 2> chrome.log
  count() { grep -o "$1" "$2" | wc -l; }
  ok "the browser's DOM: every figure, SVG and table ($(count "<figure" dom.html) $(count "<svg" dom.html) $(count "<table" dom.html))" '[ "$(count "<figure" dom.html)" = "$figs" ] && [ "$(count "<svg" dom.html)" = "$figs" ] && [ "$(count "<table" dom.html)" = "$(count "<table" rep/index.html)" ] && ! grep -q parsererror dom.html'
  timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=3000 --user-data-dir="$W/chrome" --window-size=1300,2000 --screenshot="$W/shot.png" "file://$W/rep/index.html" > /dev/null 2>> chrome.log
  ok "a screenshot of it (a PNG of some size)" '[ "$(head -c 8 shot.png | od -An -tx1 | tr -d " \n")" = 89504e470d0a1a0a ] && [ "$(stat -c %s shot.png)" -gt 20000 ]'
fi
"$H" report db=missing.db out=rep2 > /dev/null 2> miss.log; rc=$?
ok "a missing db is named, nothing made" '[ $rc -eq 2 ] && grep -q "missing.db" miss.log && [ ! -e rep2 ] && [ ! -e missing.db ]'
finish
