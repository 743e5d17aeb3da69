#!/usr/bin/env bash
# harness plot on a results.db filled with known rows: every figure gives a valid PNG and SVG
# with its .dat and .gp beside it, the data are the known values, a missing series is named,
# and a machine without gnuplot gets a clear error.
source "$(dirname "$0")/shell_check.sh"

# The structure of a drawn figure, read off its files: every data block has rows; no plot command
# draws more than 6 titled series (black, lt 7, is kept for references and baselines); every
# horizontal text of the SVG lies inside the canvas, its width taken at 0.65 em a character
# (pngcairo's sans is about that wide; the SVG's Arial narrower). Prints what is wrong.
figure_faults() { # DIR NAME
  local d=$1 n=$2
  awk 'BEGIN { RS = ""; FS = "\n" } { rows = 0; for (i = 1; i <= NF; i++) if ($i !~ /^#/ && $i != "") rows++
       if (!rows) print "empty data block: " $1 }' "$d/$n.dat"
  grep "^plot " "$d/$n.gp" | awk -v MAX=6 '{ k = 0; m = split($0, parts, /, /)
       for (i = 1; i <= m; i++) if (parts[i] ~ / title / && parts[i] !~ /notitle/ && parts[i] !~ /lt 7/) k++
       if (k > MAX) print "a panel with " k " series" }'
  awk -v W="$(grep -m1 -o "^ width=\"[0-9]*" "$d/$n.svg" | grep -o "[0-9]*$")" '
       /<g transform="translate\(/ { rot = /rotate/; match($0, /translate\([-0-9.]+,/); x = substr($0, RSTART + 10, RLENGTH - 11) + 0
         anchor = "start"; if (match($0, /text-anchor="[a-z]+"/)) anchor = substr($0, RSTART + 13, RLENGTH - 14)
         size = 10; if (match($0, /font-size="[0-9.]+"/)) size = substr($0, RSTART + 11, RLENGTH - 12) + 0; want = 1; next }
       want && /<text>/ { want = 0; t = $0; gsub(/<[^>]*>/, "", t); gsub(/^[ \t]+/, "", t); gsub(/&[a-z]+;/, "x", t)
         if (rot || t == "") next; w = length(t) * 0.65 * size
         lo = anchor == "middle" ? x - w / 2 : anchor == "end" ? x - w : x; hi = lo + w
         if (lo < 0 || hi > W) printf "text outside the %d px canvas (%.0f to %.0f): %s\n", W, lo, hi, t }' "$d/$n.svg"
}

# the schema from a one-step run (the read commands never write one), then the known rows
mkdir fort
for i in $(seq 1 200); do echo "The fox number $i jumps over the dog."; echo "%"; done > fort/animals
"$H" data prepare english source=fort data_dir=d > /dev/null 2>&1
"$H" run size=tiny steps=1 eval_every=0 eval_tokens=256 final_eval_tokens=256 data_dir=d db=k.db threads=1 > /dev/null 2>&1
sqlite3 k.db "delete from activations; delete from metrics; delete from evals; delete from checkpoints; delete from runs"
sqlite3 k.db <<'SQL'
INSERT INTO runs(id, name, task, model, experts, topk, heads, seed, config, params, flops_per_token, status, started_at, label)
VALUES (1, 'a', 'english', 'dense', 0, 0, 0, 1, '{}', 1000000, 2000000, 'done', 'now', 'dense'),
       (2, 'b', 'english', 'xmoe', 8, 1, 0, 1, '{}', 3000000, 2100000, 'done', 'now', 'xmoe-8'),
       (3, 'c', 'english', 'xmoe', 8, 1, 0, 2, '{}', 3000000, 2100000, 'done', 'now', 'xmoe-8'),
       (4, 'd', 'english', 'mhmoe', 8, 1, 2, 1, '{"parity":"params"}', 3000000, 3500000, 'done', 'now', 'mhmoe-8h2-params'),
       (5, 'e', 'english', 'mhmoe', 8, 1, 4, 1, '{"parity":"params"}', 3000000, 3600000, 'done', 'now', 'mhmoe-8h4-params'),
       (6, 'f', 'english', 'mhmoe', 32, 1, 4, 1, '{"parity":"params"}', 9000000, 3600000, 'done', 'now', 'mhmoe-32h4-params'),
       (7, 'g', 'english', 'xmoe', 32, 1, 0, 1, '{}', 9000000, 2100000, 'failed', 'now', 'xmoe-32'),
       (8, 'h', 'captioning', 'dense', 0, 0, 0, 1, '{}', 1000000, 2000000, 'done', 'now', 'dense'),
       (9, 'i', 'mmm', 'dense', 0, 0, 0, 1, '{}', 1000000, 2000000, 'done', 'now', 'dense'),
       (10, 'j', 'english', 'smoe', 8, 2, 0, 1, '{}', 3000000, 2100000, 'done', 'now', 'smoe-8k2'),
       (11, 'k', 'english', 'xmoe', 16, 1, 0, 1, '{}', 5000000, 2100000, 'done', 'now', 'xmoe-16');
INSERT INTO metrics(run_id, step, split, name, value) VALUES
  (1, 100, 'valid', 'ppl', 9.0), (1, 200, 'valid', 'ppl', 7.0), (1, 200, 'train', 'train_tokens_per_s', 15000),
  (2, 100, 'valid', 'ppl', 8.0), (2, 200, 'valid', 'ppl', 6.0), (3, 100, 'valid', 'ppl', 10.0), (3, 200, 'valid', 'ppl', 8.0),
  (4, 200, 'valid', 'ppl', 6.5), (5, 200, 'valid', 'ppl', 6.2), (6, 200, 'valid', 'ppl', 5.9), (7, 200, 'valid', 'ppl', 99),
  (8, 200, 'valid', 'ppl', 1.1), (9, 200, 'valid', 'ppl', 4.5), (10, 200, 'valid', 'ppl', 6.6), (11, 200, 'valid', 'ppl', 6.1),
  (8, 200, 'valid', 'constant_bleu4', 0.1), (8, 200, 'valid', 'random_bleu4', 0.05), (8, 200, 'valid', 'constant_cider', 0.2);
INSERT INTO activations(run_id, step, split, layer, head, expert, count, total) VALUES
  (3, 200, 'valid', 1, 0, 0, 60, 100), (3, 200, 'valid', 1, 0, 1, 40, 100),
  (3, 200, 'valid', 3, 0, 0, 100, 100), (3, 200, 'valid', 3, 0, 1, 0, 100),
  (5, 200, 'valid', 1, 0, 0, 50, 100), (5, 200, 'valid', 1, 0, 1, 50, 100),
  (5, 200, 'valid', 3, 0, 0, 45, 100), (5, 200, 'valid', 3, 0, 1, 55, 100),
  (3, 100, 'train', 1, 0, 0, 30, 100), (3, 100, 'train', 1, 0, 1, 70, 100),
  (3, 100, 'train', 3, 0, 0, 20, 100), (3, 100, 'train', 3, 0, 1, 80, 100),
  (5, 100, 'train', 3, 0, 0, 40, 100), (5, 100, 'train', 3, 0, 1, 60, 100);
INSERT INTO metrics(run_id, step, split, name, value) VALUES
  (2, 100, 'valid', 'router_tau/l1', 0.5), (3, 100, 'valid', 'router_tau/l1', 0.7), (5, 100, 'valid', 'router_tau/l1', 0.9),
  (3, 100, 'valid', 'router_entropy/l1', 0.99);
INSERT INTO evals(run_id, benchmark, metric, value) VALUES (1, 'mc', 'acc', 0.30), (1, 'mc_step0', 'acc', 0.26), (2, 'mc', 'acc', 0.40), (3, 'mc', 'acc', 0.50), (5, 'mc', 'acc', 0.45),
  (8, 'test', 'bleu4', 0.52), (8, 'test', 'cider', 2.79), (8, 'test', 'rouge_l', 0.75);
SQL

"$H" plot db=k.db out=figs > plot.log 2>&1
rc=$?
ok "plot fig=all succeeds" '[ $rc -eq 0 ]'
for f in ppl activation downstream heads scaling cost router; do
  ok "$f.png is a PNG" '[ "$(head -c 8 figs/$f.png | od -An -tx1 | tr -d " \n")" = 89504e470d0a1a0a ]'
  ok "$f.svg is an SVG" 'grep -q "<svg" figs/$f.svg'
  ok "$f.dat and $f.gp are kept" '[ -s figs/$f.dat ] && [ -s figs/$f.gp ]'
done
for f in ppl activation downstream heads scaling cost router; do
  ok "$f: every data block has rows, at most 6 series a panel, every text inside the canvas" '[ -z "$(figure_faults figs $f | tee -a faults.log)" ]'
done
# xmoe-8 at step 100 is the mean of seeds 1 and 2 (8 and 10), sample sd sqrt(2), 95% half-width
# t(0.975, 1) sd / sqrt(2) = 12.706; failed runs are left out
ok "ppl data: mean and 95% interval over seeds" 'grep -A3 "series xmoe-8$" figs/ppl.dat | grep -q "^100	9.0	12.706	2"'
ok "failed runs are not plotted" '! grep -q "xmoe-32" figs/ppl.dat && grep -q "series mhmoe-32h4-params" figs/ppl.dat'
ok "ppl: without labels=, the paper's series (dense, xmoe-E, mhmoe-Eh4-params; not smoe, not h2)" '[ "$(grep -c "^# task english series" figs/ppl.dat)" = 5 ] && ! grep -qE "smoe|h2" figs/ppl.dat && grep -q "series xmoe-16" figs/ppl.dat'
ok "ppl caption: each series with its n" 'grep -q "^english: xmoe-8 (n=2), dense (n=1)" figs/ppl.caption.md'
ok "activation: the xmoe runs with histograms, layers as rows, experts busiest first" 'grep -A2 "xmoe-8 (runs 3)" figs/activation.dat | tail -2 | tr "\n" " " | grep -q "^0.6	0.4 1.0	0.0 "'
ok "activation: both ratios (Fig. 1a) with their intervals, in the caption and the third panel (expert 1 of layer 3 got nothing: inactive)" 'grep -q "xmoe-8: activation ratio 0.750 ± 0.000, paper.s definition 0.750 ± 0.000 (n=1 runs" figs/activation.caption.md && grep -q "^0	xmoe-8	0.7500	0.0000	0.7500	0.0000	1$" figs/activation.dat'
ok "activation: rows named by the MoE layers that exist, one colour scale" 'grep -q "set ytics (.1. 0, .3. 1)" figs/activation.gp && grep -q "set yrange \[-0.5:1.5\]" figs/activation.gp && grep -q "set cbrange \[0:1.001\]" figs/activation.gp'
ok "router: tau per layer, the mean over the group's seeds" 'grep -A2 "router_tau: xmoe-8 l1" figs/router.dat | grep -q "^100	0.6"'
ok "router: the load of each expert rank against step" 'grep -A2 "xmoe-8 load share of expert rank 0" figs/router.dat | grep -q "^100	0.8" && grep -A2 "xmoe-8 load share of expert rank 1" figs/router.dat | grep -q "^100	0.2"'
ok "heads: mhmoe-8 over 2 and 4 heads" 'grep -A4 "series mhmoe-8-params$" figs/heads.dat | grep -c "^[24]	6" | grep -q 2'
ok "heads: X-MoE at the same experts as the reference line with its interval, n per point in the caption" 'grep -A3 "# reference xmoe-8 (n=2)" figs/heads.dat | grep -q "	7	-5.706	19.706$" && grep -q "(reference)" figs/heads.gp && grep -q "mhmoe-8-params: n per heads 2:1 4:1" figs/heads.caption.md'
ok "downstream markdown table: mean, interval, n; the step-0 score as a baseline" 'grep -q "| english | mc | acc | dense | 1 | 0.3000 | ± 0.0000 |" figs/downstream.md && grep -q "| english | mc | acc | baseline: before training | | 0.2600 | |" figs/downstream.md && grep -q "| english | mc | acc | xmoe-8 | 2 | 0.4500 | ± 0.6353 |" figs/downstream.md'
ok "downstream: one panel per task and metric, each on its own axis (CIDEr-D too), with the task's blind baselines" '[ "$(grep -c "^# " figs/downstream.dat | head -1)" -ge 8 ] && grep -q "^# captioning test cider" figs/downstream.dat && grep -q "title .constant (valid)." figs/downstream.gp && grep -q "title .random (valid)." figs/downstream.gp && grep -q "| captioning | test | cider | baseline: constant (valid) | | 0.2000 | |" figs/downstream.md && grep -q "title .chance." figs/downstream.gp'
ok "ppl panels: the pretraining tasks (english, mmm), not the finetunes" 'grep -q "# task mmm series dense" figs/ppl.dat && ! grep -q "task captioning" figs/ppl.dat'
ok "cost: params in millions" 'grep -q "^dense	1.0	2.0	15000" figs/cost.dat'

# the filters choose the series; a panel draws at most 6 and the caption names the rest
"$H" plot fig=ppl db=k.db out=ff labels=dense,mhmoe-8h2-params > /dev/null 2>&1
ok "labels= draws those series only" '[ "$(grep "^# task english" ff/ppl.dat | sed "s/.*series //" | sort | tr "\n" " ")" = "dense mhmoe-8h2-params " ]'
"$H" plot fig=ppl db=k.db out=ff experts=32 > /dev/null 2>&1
ok "experts=32: the 32-expert series and dense" '[ "$(grep "^# task english" ff/ppl.dat | sed "s/.*series //" | sort | tr "\n" " ")" = "dense mhmoe-32h4-params " ]'
"$H" plot fig=ppl db=k.db out=ff labels=dense,xmoe-8,xmoe-16,smoe-8k2,mhmoe-8h2-params,mhmoe-8h4-params,mhmoe-32h4-params > /dev/null 2>&1
ok "seven series asked: six drawn (the most seeds first), the seventh named in the caption" '[ "$(grep -c "^# task english" ff/ppl.dat)" = 6 ] && grep -q "1 more series not drawn (at most 6 per panel; choose with labels=): xmoe-16" ff/ppl.caption.md'
"$H" plot fig=ppl db=k.db out=ff experts=8x > /dev/null 2> fbad.log; rc=$?
ok "a bad filter is named" '[ $rc -eq 2 ] && grep -q "experts=8x: expected expert counts" fbad.log'
"$H" plot fig=ppl db=k.db out=ffq "labels=x') OR 1=1 --" > /dev/null 2>&1; rc=$?
ok "a quote in labels= is a label, not SQL" '[ $rc -eq 2 ] && [ ! -e ffq/ppl.dat ]'

# a name from the db goes into gnuplot's quoted strings as it is: a quote (a db made by hand, or
# merged) does not end a title, and _ is no subscript (gnuplot's enhanced text would make one)
cp k.db q.db
sqlite3 q.db "update runs set label = 'x''moe_8' where label = 'xmoe-8'; update runs set task = 'capt''ion_x' where task = 'captioning'"
"$H" plot fig=ppl db=q.db out=fq "labels=dense,x'moe_8" > fq.log 2>&1; rc_ppl=$?
"$H" plot fig=activation db=q.db out=fq "labels=x'moe_8,mhmoe-8h4-params" >> fq.log 2>&1; rc_act=$?
"$H" plot fig=downstream db=q.db out=fq >> fq.log 2>&1; rc_down=$?
ok "a quote and an underscore in a label or task: ppl, activation and downstream drawn, the names shown as they are" \
  '[ $rc_ppl$rc_act$rc_down = 000 ] && grep -q "<text>x.moe_8</text>" fq/ppl.svg && grep -q "<text>x.moe_8 (1 run): load share" fq/activation.svg &&
   grep -q "<text>capt.ion_x test: rouge_l</text>" fq/downstream.svg && ! grep -q "<tspan[^>]*dy=" fq/ppl.svg fq/activation.svg fq/downstream.svg'

# user values never reach a shell: a quote in out= is a folder name, not a command
"$H" plot fig=cost db=k.db "out=figs';touch PWNED;'" > inj.log 2>&1
ok "out= with a quote: no command run, the figure in that folder" '[ ! -e PWNED ] && [ -s "figs'"'"';touch PWNED;'"'"'/cost.png" ]'
# a curve longer than any fixed cap is drawn whole, and the series after it too
cp k.db long.db
sqlite3 long.db "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 25001)
  INSERT INTO metrics(run_id, step, split, name, value) SELECT r, 1000 + i, 'valid', 'ppl', 5.0 FROM s, (SELECT 2 AS r UNION SELECT 3)"
"$H" plot fig=ppl db=long.db out=figs4 > long.log 2>&1
ok "a 25,003-point curve is plotted whole, and the series after it" 'grep -A25010 "series xmoe-8$" figs4/ppl.dat | grep -q "^26001	5.0" && grep -q "series mhmoe-8h4" figs4/ppl.dat'

# seven heads lines, the alphabetically first with the fewest seeds: the six with the most are drawn
cp k.db h.db
sqlite3 h.db "delete from runs; delete from metrics"
id=0
for g in a b c d e f g; do for h in 2 4; do for seed in 1 2; do
  [ $g = a ] && [ $seed = 2 ] && continue
  id=$((id + 1))
  sqlite3 h.db "INSERT INTO runs(id, name, task, model, experts, heads, seed, config, status, started_at, label)
    VALUES ($id, 'h', 'english', 'mhmoe', 8, $h, $seed, '{\"parity\":\"params\",\"size\":\"s$g\",\"steps\":100}', 'done', 'now', 'mhmoe-8h$h-params');
    INSERT INTO metrics VALUES ($id, 100, 'valid', 'ppl', 6.$seed)"
done; done; done
"$H" plot fig=heads db=h.db out=hfig > /dev/null 2>&1
ok "heads: at most 6 lines, the most seeds kept (the one-seed line left out and named)" '[ "$(grep -c "^# series" hfig/heads.dat)" = 6 ] && ! grep -q "series mhmoe-8-params sa/100" hfig/heads.dat && grep -q "1 more series not drawn (at most 6 per panel; choose with labels=): mhmoe-8-params sa/100" hfig/heads.caption.md'

# a seed run twice (another sweep's watch keys, force=1) is one sample: the latest counts
cp k.db dup.db
sqlite3 dup.db "INSERT INTO runs(id, name, task, model, experts, topk, heads, seed, config, status, started_at, label)
  VALUES (12, 'again', 'english', 'xmoe', 8, 1, 0, 1, '{}', 'done', 'now', 'xmoe-8');
  INSERT INTO metrics(run_id, step, split, name, value) VALUES (12, 100, 'valid', 'ppl', 8.0), (12, 200, 'valid', 'ppl', 6.0)"
"$H" plot fig=ppl db=dup.db out=figsd > /dev/null 2>&1
ok "a seed run twice counts once in the mean, interval and n" 'grep -A3 "series xmoe-8$" figsd/ppl.dat | grep -q "^100	9.0	12.706	2$" && [ "$(sqlite3 dup.db "select n from group_stats where label=\"xmoe-8\" and metric=\"valid/ppl\"")" = 2 ]'
# one group's seeds evaluated or logged at other steps (eval_every= and log_every= only watch a
# run): a curve's point is a mean over every seed of its series, drawn only at the steps all of
# them logged (xmoe-8's third seed at 150 and 200: ppl at 200 alone, over its 3 seeds). STEP:LAST
# COLUMN of each row of the block whose header matches
steps_of() { awk -v want="$2" '/^#/ { if ($0 !~ /^# step/) on = $0 ~ want; next } on && /^[0-9]/ { printf "%s:%s ", $1, $NF }' "$1"; }
cp k.db steps.db
sqlite3 steps.db "INSERT INTO runs(id, name, task, model, experts, topk, heads, seed, config, status, started_at, label)
  VALUES (12, 'sparse', 'english', 'xmoe', 8, 1, 0, 3, '{}', 'done', 'now', 'xmoe-8');
  INSERT INTO metrics(run_id, step, split, name, value) VALUES (12, 150, 'valid', 'ppl', 5.0), (12, 200, 'valid', 'ppl', 4.0),
    (2, 160, 'valid', 'router_tau/l1', 0.1);
  INSERT INTO activations(run_id, step, split, layer, head, expert, count, total) VALUES
    (2, 100, 'train', 3, 0, 0, 50, 100), (2, 100, 'train', 3, 0, 1, 50, 100), (3, 110, 'train', 3, 0, 0, 10, 100), (3, 110, 'train', 3, 0, 1, 90, 100)"
"$H" plot fig=ppl db=steps.db out=figst > /dev/null 2>&1
"$H" plot fig=router db=steps.db out=figst > /dev/null 2>&1
ok "ppl: a curve's points are the steps every seed of the series logged" '[ "$(steps_of figst/ppl.dat "series xmoe-8$")" = "200:3 " ]'
ok "router: tau and the expert ranks' load at the steps every seed logged" '[ "$(steps_of figst/router.dat "router_tau: xmoe-8 l1$")" = "100:0.6 " ] && [ "$(steps_of figst/router.dat "xmoe-8 load share of expert rank 0 ")" = "100:0.65 " ]'
# a db that lacks a series: the figure names what is missing and exits 2
sqlite3 k.db "delete from runs where model = 'mhmoe'"
"$H" plot fig=activation db=k.db out=figs2 > /dev/null 2> miss.log
rc=$?
ok "missing series exits 2 naming it" '[ $rc -eq 2 ] && grep -q "no finished mhmoe run with activation histograms" miss.log'
"$H" plot fig=nosuch db=k.db > /dev/null 2> bad.log
ok "unknown figure named" '[ $? -eq 2 ] && grep -q "fig=nosuch" bad.log'
"$H" plot db=missing.db > /dev/null 2> nodb.log
ok "missing db named" '[ $? -eq 2 ] && grep -q "missing.db" nodb.log && [ ! -e missing.db ]'
# fig=compute: the paired gaps at two compute points (steps 100 and 400: two doublings of the
# FLOPs), two seeds each. MH-MoE - X-MoE: -0.01, -0.03 at 100 (mean -0.02), -0.03, -0.05 at 400
# (-0.04); each point's 95% half-width t(0.975, 1) sd / sqrt(2) = 12.706 * 0.01 = 0.12706, so
# se 0.01, equal weights: slope -0.01 per doubling, se 1 / sqrt(1e4 * (1 + 1)) = 0.00707, 95%
# half-width 0.01386. X-MoE - dense is -0.1 on both seeds: no spread, no trend
sqlite3 c.db < /dev/null
cp k.db c.db
sqlite3 c.db "delete from activations; delete from metrics; delete from evals; delete from runs"
id=0
for steps in 100 400; do
  for seed in 1 2; do
    for m in dense xmoe mhmoe; do
      id=$((id + 1))
      case $m in
        dense) key=""; label=dense; bpb=3.0$seed ;;
        xmoe) key=',"experts":8'; label=xmoe-8; [ $steps = 100 ] && bpb=2.9$seed || bpb=2.8$seed ;;
        mhmoe) key=',"experts":8,"heads":4,"parity":"params"'; label=mhmoe-8h4-params
               bpb=$(awk -v s=$seed -v st=$steps 'BEGIN { x = (st == 100 ? 2.9 : 2.8) + s / 100; printf "%.2f", x - (st == 100 ? 0.01 : 0.03) - 0.02 * (s - 1) }') ;;
      esac
      cfg="{\"task\":\"english\",\"model\":\"$m\",\"size\":\"tiny\",\"steps\":$steps,\"batch\":16,\"seq_len\":64$key}"
      sqlite3 c.db "INSERT INTO runs(id, name, task, model, experts, heads, seed, config, comparable, label, flops_per_token, status, started_at)
                    VALUES ($id, 'c', 'english', '$m', $([ $m = dense ] && echo 0 || echo 8), $([ $m = mhmoe ] && echo 4 || echo 0), $seed, '$cfg', '$cfg', '$label', 1000, 'done', 'now');
                    INSERT INTO metrics VALUES ($id, $steps, 'valid', 'bpb', $bpb), ($id, $steps, 'valid', 'ppl', $bpb), ($id, 0, 'train', 'tokens', 1000000)"
    done
  done
done
"$H" plot fig=compute db=c.db out=cfig > cplot.log 2>&1; rc=$?
ok "compute: drawn, the MH-MoE - X-MoE gap per point with its interval and epochs" '[ $rc -eq 0 ] && [ -s cfig/compute.png ] && grep -q "^| mhmoe-8h4-params - xmoe-8 | 8 | tiny/100 | 0.10 | 3.07e+08 | 2 | -0.0200 | \[-0.1471, +0.1071\] |" cfig/compute.md && grep -q "^| mhmoe-8h4-params - xmoe-8 | 8 | tiny/400 | 0.41 | 1.23e+09 | 2 | -0.0400 |" cfig/compute.md'
# Holm within each point's family of 3 (the figures' arithmetic below): at tiny/400 X-MoE - dense
# has no spread (p 0: a verdict), MH-MoE - dense p 0.0265 is Holm's second, 2 x 0.0265 = 0.053
ok "compute: each row's detectable difference and Holm's verdict within its point" 'grep -q "^| mhmoe-8h4-params - dense | 8 | tiny/400 | .* | 0.053 (3) | no difference detected |$" cfig/compute.md && grep -q "^| xmoe-8 - dense | 8 | tiny/400 | .* | 0 (3) | xmoe-8 better |$" cfig/compute.md && grep -q "^| mhmoe-8h4-params - xmoe-8 | 8 | tiny/100 | .* | \[-0.1471, +0.1071\] | 0.1408 |" cfig/compute.md'
ok "compute: the trend per doubling of the FLOPs with its interval" 'grep -q "^| mhmoe-8h4-params - xmoe-8 | 8 | 2 | -0.0100 \[-0.0239, +0.0039\] |" cfig/compute.md'
"$H" plot fig=gaps db=c.db out=cfig > gplot.log 2>&1; rc=$?
ok "gaps: the paired gap at each step with its band (the same pairs, per step)" '[ $rc -eq 0 ] && [ -s cfig/gaps.png ] && grep -A2 "series mhmoe-8h4-params - xmoe-8 tiny/100$" cfig/gaps.dat | grep -qE "^100	-0.02[0-9]*	0.127[0-9]*	2$" && [ "$(grep -c "^# task" cfig/gaps.dat)" = 6 ]'
# seed 1 of dense and X-MoE-8 at tiny/100 also evaluated at step 50: a gap with one seed there,
# left out (the pairs of a point are the same at every step)
cp c.db c50.db
sqlite3 c50.db "INSERT INTO metrics VALUES (1, 50, 'valid', 'bpb', 3.5), (2, 50, 'valid', 'bpb', 3.4)"
"$H" plot fig=gaps db=c50.db out=c50fig > /dev/null 2>&1
ok "gaps: drawn at the steps every pair of the series has" '[ "$(steps_of c50fig/gaps.dat "series xmoe-8 - dense tiny/100$")" = "100:2 " ]'
ok "compute: the three comparisons, each its own series" '[ "$(grep -c "^# " cfig/compute.dat)" = 6 ] && grep -q "^| xmoe-8 - dense | 8 | 2 | (none: a point without spread" cfig/compute.md'

# the ppl caption's verdicts on the same pairs, after Holm within each (size, steps) family of 3:
# MH-MoE - dense at tiny/400 is -0.23 and -0.25 (mean -0.24, half-width 12.706 x 0.01 = 0.127),
# raw p 0.0265 (t = 24, one df), Holm's second of three: 2 x 0.0265 = 0.053, so no verdict though
# its own interval excludes 0; X-MoE - dense is -0.2 on both seeds (p 0)
"$H" plot fig=ppl db=c.db out=cfig > /dev/null 2>&1
ok "ppl caption: the adjusted verdicts between the drawn series, each at its own length" 'grep -qF "mhmoe-8h4-params tiny/400 - dense tiny/400 = -0.2400 [-0.3671, -0.1129] (n=2, p_holm 0.053 of 3): no difference detected" cfig/ppl.caption.md && grep -qF "xmoe-8 tiny/400 - dense tiny/400 = -0.2000 [-0.2000, -0.2000] (n=2, p_holm 0 of 3): xmoe-8 better" cfig/ppl.caption.md && ! grep -q "tiny/100 - [a-z0-9-]* tiny/400" cfig/ppl.caption.md'

# fig=ablations: MH-MoE (params) against mh_mlp=2 on seeds 1 and 2 (the default run's stored
# configuration leaves mh_mlp out, as the harness stores it): bpb 3.00 / 3.02 against 2.99 / 3.00,
# so the gap -0.01 and -0.02, mean -0.015, half-width 12.706 x 0.005 = 0.06353; beside it the
# paper's Table 7 n = 2 (12.72 -> 12.66: log2 ratio -0.0068 bits per token), inside [-0.0785,
# +0.0485] from 0.0068 / 0.0785 = 0.087 bytes per token on
cp c.db a.db
sqlite3 a.db "delete from metrics; delete from runs"
for seed in 1 2; do for v in 1 2; do
  cfg='{"task":"english","model":"mhmoe","experts":8,"heads":4,"parity":"params","size":"tiny","steps":100'$([ $v = 2 ] && echo ',"mh_mlp":2')'}'
  label=mhmoe-8h4-params$([ $v = 2 ] && echo -mh_mlp=2)
  bpb=$(awk -v s=$seed -v v=$v 'BEGIN { printf "%.2f", v == 1 ? 2.98 + 0.02 * s : 2.98 + 0.01 * s }')
  sqlite3 a.db "INSERT INTO runs(id, name, task, model, experts, heads, seed, config, comparable, label, status, started_at)
                VALUES ($(( seed * 2 + v )), 'a', 'english', 'mhmoe', 8, 4, $seed, '$cfg', '$cfg', '$label', 'done', 'now');
                INSERT INTO metrics VALUES ($(( seed * 2 + v )), 100, 'valid', 'bpb', $bpb)"
done; done
"$H" plot fig=ablations db=a.db out=afig > aplot.log 2>&1; rc=$?
ok "ablations: the ablated variant minus the full model, paired, with its interval and verdict" '[ $rc -eq 0 ] && grep -qE "^0	mh_mlp=2	-0.01500[0-9]	0.06353[0-9]	2	-0.0068	0.087 or more$" afig/ablations.dat && grep -q "^# Table 7" afig/ablations.dat && grep -qF "mhmoe-8h4-params-mh_mlp=2 - mhmoe-8h4-params = -0.0150 [-0.0785, +0.0485] (n=2, p_holm 0.2 of 1): no difference detected (the paper, Table 7 n = 2: 12.72 -> 12.66 perplexity per token, -0.0068 bits per token; in this interval at 0.087 or more bytes per token)" afig/ablations.caption.md && [ -z "$(figure_faults afig ablations)" ]'

# ...at one length: a2.db adds mh_mlp=3 at tiny/100 (gap +0.01 on both seeds) and mh_mlp=2 at
# tiny/50 (a third length's row, fewer than tiny/100's two): tiny/100 is drawn, tiny/50 named
cp a.db a2.db
for seed in 1 2; do for v in 3 4; do
  steps=$([ $v = 3 ] && echo 100 || echo 50); mlp=$([ $v = 3 ] && echo 3 || echo 2)
  cfg='{"task":"english","model":"mhmoe","experts":8,"heads":4,"parity":"params","size":"tiny","steps":'$steps',"mh_mlp":'$mlp'}'
  base='{"task":"english","model":"mhmoe","experts":8,"heads":4,"parity":"params","size":"tiny","steps":'$steps'}'
  sqlite3 a2.db "INSERT INTO runs(id, name, task, model, experts, heads, seed, config, comparable, label, status, started_at)
                 VALUES ($(( seed * 10 + v )), 'a', 'english', 'mhmoe', 8, 4, $seed, '$cfg', '$cfg', 'mhmoe-8h4-params-mh_mlp=$mlp', 'done', 'now');
                 INSERT INTO metrics VALUES ($(( seed * 10 + v )), $steps, 'valid', 'bpb', 3.03)"
  [ $v = 4 ] && sqlite3 a2.db "INSERT INTO runs(id, name, task, model, experts, heads, seed, config, comparable, label, status, started_at)
                 VALUES ($(( seed * 10 + 5 )), 'a', 'english', 'mhmoe', 8, 4, $seed, '$base', '$base', 'mhmoe-8h4-params', 'done', 'now');
                 INSERT INTO metrics VALUES ($(( seed * 10 + 5 )), 50, 'valid', 'bpb', 3.0)"
done; done
"$H" plot fig=ablations db=a2.db out=a2fig > a2plot.log 2>&1; rc=$?
ok "ablations: the length with the most rows drawn, another length named, not drawn" '[ $rc -eq 0 ] && [ "$(grep -c "^[0-9]" a2fig/ablations.dat)" = 2 ] && grep -q "^1	mh_mlp=3	" a2fig/ablations.dat && grep -qF "At tiny/100 (left out, at other lengths: tiny/50 (1 row))" a2fig/ablations.caption.md && ! grep -q "= +0.0300" a2fig/ablations.caption.md'

# fig=routers: one training length (the one with the most groups), every point named on the plot;
# a group at another length is named in the caption, a key=value label (mh_mlp=2) is no routing idea
cp c.db r.db
sqlite3 r.db "delete from metrics; delete from runs"
id=0
for row in "xmoe 1 tiny 100 xmoe-8 3.00 0.2" "xmoe 2 tiny 100 xmoe-8 3.10 0.3" "xmoe 1 tiny 100 xmoe-8-sinkhorn 3.20 0.5" \
           "mhmoe 1 tiny 100 mhmoe-8h4-params 3.05 0.1" "mhmoe 1 tiny 100 mhmoe-8h4-params-mh_mlp=2 3.01 0.1" "xmoe 1 small 50 xmoe-8 2.90 0.2"; do
  set -- $row; id=$((id + 1))
  cfg='{"task":"english","model":"'$1'","experts":8,"size":"'$3'","steps":'$4$([ $1 = mhmoe ] && echo ',"heads":4,"parity":"params"')$(case $5 in *sinkhorn) echo ',"router":"sinkhorn"';; *=2) echo ',"mh_mlp":2';; esac)'}'
  sqlite3 r.db "INSERT INTO runs(id, name, task, model, experts, heads, seed, config, comparable, label, status, started_at, params, flops_per_token)
                VALUES ($id, 'r', 'english', '$1', 8, 4, $2, '$cfg', '$cfg', '$5', 'done', 'now', $([ $3 = tiny ] && echo 1e6 || echo 4e6), 2e6);
                INSERT INTO metrics VALUES ($id, $4, 'valid', 'bpb', $6), ($id, $4, 'train', 'max_violation', $7), ($id, $4, 'train', 'load_cv', 0.1)"
done
"$H" plot fig=routers db=r.db out=rfig > rplot.log 2>&1; rc=$?
ok "routers: one length (tiny/100), X-MoE and MH-MoE as two series, each point named by what it adds; the other length named, key=value labels left out" '[ $rc -eq 0 ] && grep -qE "^0.25	3.05[0-9]*	[0-9.]+	[0-9.]+	default$" rfig/routers.dat && grep -qE "	sinkhorn$" rfig/routers.dat && [ "$(grep -c "default$" rfig/routers.dat)" = 2 ] && ! grep -q "mh_mlp\|2.9" rfig/routers.dat rfig/routers.md && grep -q "^# MH-MoE" rfig/routers.dat && grep -qF "Left out, at other lengths: small/50 (1 groups)." rfig/routers.caption.md && grep -q "^set title .tiny/100 English" rfig/routers.gp && [ -z "$(figure_faults rfig routers)" ]'

# fig=cost: a series per label and size / steps (a model's parameters differ by size; it averaged them)
"$H" plot fig=cost db=r.db out=rfig > /dev/null 2>&1
ok "cost: one bar per label and size / steps" 'grep -q "^xmoe-8 tiny/100	1.0	" rfig/cost.dat && grep -q "^xmoe-8 small/50	4.0	" rfig/cost.dat && grep -q "xmoe-8 tiny/100 (n=2 runs)" rfig/cost.caption.md'

# fig=router: the router curves at the picked groups' length only (tiny/100, where xmoe-8 has the most
# seeds): xmoe-8 at small/50 drew a second curve of the same name
sqlite3 r.db "INSERT INTO activations(run_id, step, split, layer, head, expert, count, total) VALUES
                (1, 100, 'train', 1, 0, 0, 60, 100), (1, 100, 'train', 1, 0, 1, 40, 100), (2, 100, 'train', 1, 0, 0, 60, 100),
                (2, 100, 'train', 1, 0, 1, 40, 100), (4, 100, 'train', 1, 0, 0, 50, 100), (4, 100, 'train', 1, 0, 1, 50, 100);
              INSERT INTO metrics VALUES (1, 100, 'valid', 'router_tau/l1', 0.5), (2, 100, 'valid', 'router_tau/l1', 0.7),
                (4, 100, 'valid', 'router_tau/l1', 0.4), (6, 50, 'valid', 'router_tau/l1', 0.9)"
"$H" plot fig=router db=r.db out=rfig > /dev/null 2>&1; rc=$?
ok "router: the curves at the picked groups' length only" '[ $rc -eq 0 ] && [ "$(grep -c "^# router_tau: xmoe-8 l1" rfig/router.dat)" = 1 ] && grep -A2 "^# router_tau: xmoe-8 l1" rfig/router.dat | grep -q "^100	0.6" && ! grep -q "^50	" rfig/router.dat && grep -q "router metrics at tiny/100" rfig/router.caption.md'

# no gnuplot on the PATH
mkdir nogp
for t in sh cat sqlite3 head od tr grep; do p=$(command -v $t) && ln -s "$p" nogp/$t; done
PATH="$W/nogp" "$H" plot db=k.db out=figs3 > /dev/null 2> nogp.log
ok "absent gnuplot is a clear error" '[ $? -eq 2 ] && grep -q "gnuplot not found" nogp.log'

finish
