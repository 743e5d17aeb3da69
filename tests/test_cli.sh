#!/usr/bin/env bash
# End to end through the real binary, the real SQLite file and a corpus made here:
# prepare, train, interrupt, resume, list/query, repeat a run bit for bit, and bad input.
source "$(dirname "$0")/shell_check.sh"
q() { sqlite3 t.db "$1"; }

# a corpus in fortune format: 600 short sentences built from word lists, deterministic
mkdir fort
for i in $(seq 1 600); do
  a=(red green blue small large quiet loud old new bright)
  b=(cat dog bird fish horse mouse fox owl bee ant)
  c=(runs sleeps sings jumps waits reads hides eats plays swims)
  echo "The ${a[$((i % 10))]} ${b[$((i * 7 % 10))]} ${c[$((i * 3 % 10))]} near house number $i."
  echo "%"
done > fort/animals

"$H" data prepare english source=fort data_dir=d > prep.log 2>&1
ok "prepare writes the splits" '[ -s d/english/train.txt ] && [ -s d/english/valid.txt ] && grep -q "600 fortunes" prep.log'

common="size=tiny steps=40 eval_every=20 log_every=10 eval_tokens=2048 data_dir=d db=t.db out=ck threads=2"
# the words with each key's last value only: the harness refuses a key given twice
merged() { local out=() w i; for w in "$@"; do for i in "${!out[@]}"; do [ "${out[$i]%%=*}" = "${w%%=*}" ] && unset 'out[i]'; done; out+=("$w"); done; echo "${out[@]}"; }
"$H" run $(merged $common name=first) > run1.log 2>&1
rc=$?
ok "a tiny run finishes" '[ $rc -eq 0 ] && [ "$(q "select status from runs where id=1")" = done ]'
ok "valid bpb recorded at steps 20 and 40" '[ "$(q "select count(*) from metrics where run_id=1 and split=\"valid\" and name=\"bpb\"")" = 2 ]'
ok "test metrics at the end" '[ "$(q "select count(*) from metrics where run_id=1 and split=\"test\" and name=\"ppl\"")" = 1 ]'
ok "training tokens/s stored" '[ "$(q "select value > 0 from final_metrics where run_id=1 and metric=\"train_tokens_per_s\"")" = 1 ]'
ok "unigram baseline stored" '[ "$(q "select value > 1 from final_metrics where run_id=1 and metric=\"unigram_bpb\"")" = 1 ]'
ok "params and flops stored" '[ "$(q "select params > 0 and flops_per_token > 0 from runs where id=1")" = 1 ]'
ok "config stored as JSON" '[ "$(q "select json_extract(config, \"\$.steps\") from runs where id=1")" = 40 ]'
ok "checkpoint written and recorded" '[ -s ck/run-1.ckpt ] && [ "$(q "select path from checkpoints where run_id=1")" = ck/run-1.ckpt ]'
ok "no temporary file left" '[ ! -e ck/run-1.ckpt.tmp ]'

# the watch keys (evaluation points, logging, checkpoints, name) change neither the weights
# nor the final numbers: the sweep's rule that a run finished with other ones is done rests on it
"$H" run $(merged $common name=second eval_every=15 log_every=3 eval_tokens=1024 checkpoint_every=25) > run2.log 2>&1
finals_apart="select count(*), sum(a.value is not b.value) from final_metrics a join final_metrics b on a.split = b.split and a.metric = b.metric where a.run_id = 1 and b.run_id = 2 and a.split in (\"valid\", \"test\") and a.metric not like \"%per_s%\""
ok "same seed and threads, other watch keys: every held-out final number the same" '[ "$(q "$finals_apart" | cut -d"|" -f2)" = 0 ] && [ "$(q "$finals_apart" | cut -d"|" -f1)" -gt 4 ] && [ "$(q "select count(*) from metrics where run_id=2 and split=\"valid\" and name=\"loss\"")" = 3 ]'

# interrupt a long run, then resume it from its checkpoint
"$H" run $(merged $common steps=100000 eval_every=0 name=long) > run3.log 2>&1 &
pid=$!
wait_until 'grep -q "^step [0-9]" run3.log'
kill -INT $pid
wait $pid
rc=$?
ok "interrupted run exits 130" '[ $rc -eq 130 ]'
ok "interrupted status stored" '[ "$(q "select status from runs where id=3")" = interrupted ]'
ok "interrupted run saved a checkpoint" '[ -s ck/run-3.ckpt ] && grep -q "resume=ck/run-3.ckpt" run3.log'
at=$(q "select max(step) from checkpoints where run_id=3")
"$H" run resume=ck/run-3.ckpt steps=$((at + 10)) > run4.log 2>&1
ok "resumed run finishes with the stored config" '[ "$(q "select status from runs where id=4")" = done ] && [ "$(q "select json_extract(config, \"$.name\") from runs where id=4")" = long ]'
ok "resumed run logs from the checkpoint's step on" '[ "$(q "select min(step) from metrics where run_id=4 and split=\"train\" and name=\"loss\"")" -gt "$at" ] && [ "$(q "select max(step) from metrics where run_id=4")" = $((at + 10)) ]'

# a signal during an evaluation is acted on within a batch: the pass it cut short is not stored,
# and the resumed run does that evaluation again, so its numbers are those of a run never
# interrupted. The default corpus makes the closing evaluation (whole splits, then the
# multiple-choice benchmark) take about 20x a training step, and the step-0 one about 6x.
"$H" data prepare english data_dir=dbig > /dev/null 2>&1
ev="size=tiny threads=2 eval_every=0 checkpoint_every=1 final_eval_tokens=0 steps=2 model=xmoe experts=8 topk=8 data_dir=dbig db=ev.db"
"$H" run $ev name=whole > ev1.log 2>&1
"$H" run $ev name=cut > ev2.log 2>&1 &
pid=$!
# step 1's checkpoint row is written just before step 2 trains, and the closing evaluation follows
wait_until '[ "$(sqlite3 ev.db "select count(*) from checkpoints where run_id=2 and step=1")" = 1 ]'
sleep 0.3
kill -TERM $pid; wait $pid; rc=$?
ok "a signal in the closing evaluation: exit 130, interrupted, checkpoint at the last step, no benchmark of the cut pass stored" '[ $rc -eq 130 ] && [ "$(sqlite3 ev.db "select status from runs where id=2")" = interrupted ] && [ "$(sqlite3 ev.db "select max(step) from checkpoints where run_id=2")" = 2 ] && [ "$(sqlite3 ev.db "select count(*) from evals where run_id=2 and benchmark=\"mc\"")" = 0 ]'
"$H" run resume=ev.runs/run-2.ckpt > ev3.log 2>&1; rc=$?
same_finals="select count(*) from (select split, metric, value from final_metrics where run_id=1 and metric not like '%%tokens_per_s' except select split, metric, value from final_metrics where run_id=%d) union all select count(*) from (select benchmark, metric, value from evals where run_id=1 except select benchmark, metric, value from evals where run_id=%d) union all select count(*) from evals where run_id=%d"
ok "resumed at the last step, the run does its closing evaluation alone: done, numbers bit-identical to the uninterrupted run, stored once" '[ $rc -eq 0 ] && grep -q "resume: run 2 (interrupted) continues from step 2" ev3.log && [ "$(sqlite3 ev.db "select status from runs where id=2")" = done ] && [ "$(sqlite3 ev.db "$(printf "$same_finals" 2 2 2)" | tr "\n" " ")" = "0 0 6 " ] && [ "$(sqlite3 ev.db "select count(*) from metrics where run_id=2 and split=\"valid\" and name=\"loss\"")" = 1 ]'
"$H" run $ev name=cut0 > ev4.log 2>&1 &
pid=$!
# the data's description is written just before the step-0 benchmark starts
wait_until '[ "$(sqlite3 ev.db "select count(*) from metrics where run_id=3 and name=\"unigram_bpb\"")" = 1 ]'
sleep 0.2
kill -TERM $pid; wait $pid; rc=$?
ok "a signal in the step-0 benchmark: exit 130, checkpoint at step 0, none of its scores stored" '[ $rc -eq 130 ] && [ "$(sqlite3 ev.db "select max(step) from checkpoints where run_id=3")" = 0 ] && [ "$(sqlite3 ev.db "select count(*) from evals where run_id=3")" = 0 ]'
"$H" run resume=ev.runs/run-3.ckpt > ev5.log 2>&1; rc=$?
ok "resumed at step 0: described and scored again, once, numbers bit-identical to the uninterrupted run" '[ $rc -eq 0 ] && [ "$(sqlite3 ev.db "$(printf "$same_finals" 3 3 3)" | tr "\n" " ")" = "0 0 6 " ] && [ "$(sqlite3 ev.db "select count(*) from metrics where run_id=3 and name=\"unigram_bpb\"")" = 1 ]'

# an MH-MoE run: activation histograms, routing metrics and the MoE columns of its run row
"$H" run $(merged $common model=mhmoe experts=4 heads=2 steps=20 eval_every=10 name=moe) > run5.log 2>&1
ok "mhmoe run finishes" '[ "$(q "select status from runs where id=5")" = done ]'
ok "mhmoe run row holds experts, topk and heads" '[ "$(q "select experts || topk || heads from runs where id=5")" = 412 ]'
ok "activation histograms: 2 heads x 4 experts per layer and pass" '[ "$(q "select count(*) from activations where run_id=5 and split=\"valid\" and step=20")" = 8 ]'
ok "activation shares sum to 1" '[ "$(q "select round(sum(share), 9) from activation_share where run_id=5 and split=\"test\"")" = 1.0 ]'
ok "routing metrics stored" '[ "$(q "select count(distinct name) from metrics where run_id=5 and name in (\"aux_loss\",\"dropped_frac\",\"router_entropy\",\"experts_per_token\")")" = 4 ]'
ok "activation ratio view" '[ -n "$(q "select ratio from activation_ratio where run_id=5 and split=\"valid\" and step=20")" ]'
"$H" run $(merged $common model=mhmoe heads=5) > /dev/null 2> e6.log; rc=$?
ok "heads that do not divide d_model are refused" '[ $rc -eq 2 ] && grep -q "heads must divide d_model" e6.log'

# multilingual: three languages in three scripts, an MH-MoE with BPE tokens
mkdir -p ml/en ml/ru ml/zh
cp d/english/train.txt d/english/valid.txt d/english/test.txt ml/en/
for i in $(seq 1 400); do echo "Кошка номер $i спит на тёплой печке и видит сон."; echo; done > ml/ru/text.txt
for i in $(seq 1 400); do echo "第${i}只猫在温暖的炉子上睡觉，梦见了鱼。"; echo; done > ml/zh/text.txt
"$H" run $(merged $common task=multilingual data=ml model=mhmoe experts=4 heads=2 tokenizer=bpe vocab=300 steps=20 eval_every=10 name=ml) > run6.log 2>&1
ok "multilingual run finishes" '[ "$(q "select status from runs where id=6")" = done ]'
ok "per-language bpb for every language" '[ "$(q "select count(*) from final_metrics where run_id=6 and split=\"test\" and metric like \"bpb/%\"")" = 3 ]'
ok "macro mean bpb" '[ -n "$(q "select value from final_metrics where run_id=6 and split=\"valid\" and metric=\"bpb\"")" ]'
ok "per-language activation histograms" '[ "$(q "select count(distinct split) from activations where run_id=6 and split like \"valid/%\"")" = 3 ]'
ok "global histogram is the sum of the languages" '[ "$(q "select (select sum(count) from activations where run_id=6 and step=20 and split=\"valid\") = (select sum(count) from activations where run_id=6 and step=20 and split like \"valid/%\")")" = 1 ]'
ok "multiple choice per language and overall, after training and at step 0" '[ "$(q "select count(*) from evals where run_id=6 and metric=\"acc\" and benchmark like \"mc/%\"")" = 3 ] && [ "$(q "select count(*) from evals where run_id=6 and metric=\"acc\" and benchmark like \"mc_step0%\"")" = 4 ] && [ -n "$(q "select 1 from evals where run_id=6 and benchmark=\"mc_step0/ru\"")" ]'
ok "tokenizer saved beside the checkpoint" '[ -s ck/run-6.bpe ] && head -1 ck/run-6.bpe | grep -q "moeh-bpe 1 merges"'
"$H" show 6 db=t.db > show.log 2>&1
ok "show lists the downstream results" 'grep -q "mc/ru" show.log'

# micro_batches=2: the batch in two slices, gradients added; a dense model's losses match the
# whole batch's up to the order of the additions
mb="size=tiny steps=20 eval_every=0 log_every=1 final_eval_tokens=2048 data_dir=d threads=2"
"$H" run $mb db=mb1.db > /dev/null 2>&1
"$H" run $mb micro_batches=2 db=mb2.db > /dev/null 2>&1
mbrel=$(paste <(sqlite3 mb1.db "select value from metrics where split='train' and name='loss' order by step") <(sqlite3 mb2.db "select value from metrics where split='train' and name='loss' order by step") | max_rel_diff 20)
ok "micro_batches=2: 20 dense losses within 1e-5 relative of the whole batch ($mbrel)" 'awk -v r="$mbrel" "BEGIN { exit !(r < 1e-5) }"'
"$H" run $mb micro_batches=3 db=mb3.db > mb3.log 2>&1; rc=$?
ok "micro_batches that does not divide batch is refused" '[ $rc -eq 2 ] && grep -q "batch=16 does not split into micro_batches=3" mb3.log'
"$H" run $mb parallel=data db=mb4.db > mb4.log 2>&1; rc=$?
ok "parallel=data: refused without MPI, accepted as one process with it" 'if grep -q "this build has no MPI" mb4.log; then [ $rc -eq 2 ]; else [ $rc -eq 0 ]; fi'

# from=RUN_ID repeats a stored run; keys given now win
"$H" run from=1 db=t.db steps=30 name=again > run7.log 2>&1
ok "from= repeats a run with overrides" '[ "$(q "select json_extract(config, \"$.eval_tokens\") || \"/\" || json_extract(config, \"$.steps\") from runs where id=7")" = 2048/30 ]'
# a size given now reshapes the run: the stored run's tiny preset values (d_model 64, seq_len
# 64, lr 3e-3) give way to small's, and what it set itself (eval_tokens) stays
# (in a copy of t.db, whose run ids the tests below count on)
cp t.db tr.db
"$H" run from=1 db=tr.db out=trck size=small steps=2 eval_every=0 final_eval_tokens=1024 name=resized > run7s.log 2>&1; rc=$?
ok "from= with another size= takes that size's presets, keeps the run's own keys" '[ $rc -eq 0 ] && [ "$(sqlite3 tr.db "select json_extract(config, \"$.d_model\") || \"/\" || json_extract(config, \"$.seq_len\") || \"/\" || json_extract(config, \"$.lr\") || \"/\" || json_extract(config, \"$.eval_tokens\") from runs where name=\"resized\"")" = 128/128/0.002/2048 ]'
"$H" run from=99 db=t.db > /dev/null 2> e7.log; rc=$?
ok "from= a missing run names it" '[ $rc -eq 2 ] && grep -q "no run 99" e7.log'

# a sweep: the cartesian product, and a second call skips what is done
"$H" sweep $(merged $common model=dense,xmoe experts=4 steps=10 eval_every=0 name=sw) > sweep1.log 2>&1
ok "sweep runs the product" '[ "$(q "select count(*) from runs where name=\"sw\" and status=\"done\"")" = 2 ] && grep -q "2 runs done, 0 skipped" sweep1.log'
"$H" sweep $(merged $common model=dense,xmoe experts=4 steps=10 eval_every=5 log_every=2 name=sw2) > sweep2.log 2>&1
ok "a repeated sweep skips finished runs, whatever its watch keys (eval_every, log_every, name)" 'grep -q "0 runs done, 2 skipped" sweep2.log && [ "$(q "select count(*) from runs where name like \"sw%\"")" = 2 ]'
"$H" sweep $(merged $common model=dense steps=10 eval_every=0 name=sw force=1) > sweep3.log 2>&1
ok "force=1 runs again" 'grep -q "1 runs done" sweep3.log'
# a key the sweep does not give is at its default in the run it would make: a finished run with
# another value of it (capacity=2 here; parity=flops for a params sweep) is another run
"$H" sweep $(merged $common model=xmoe experts=4 steps=11 eval_every=0 capacity=2 name=capx) > sweep7.log 2>&1
"$H" sweep $(merged $common model=xmoe experts=4 steps=11 eval_every=0 name=capy) > sweep8.log 2>&1
ok "a finished run that differs in a key the sweep leaves at its default is not taken for done" 'grep -q "1 runs done, 0 skipped" sweep8.log && [ "$(q "select count(*) from runs where name=\"capy\" and status=\"done\"")" = 1 ]'

# rows that are one run (dense has no experts) are run once
"$H" sweep $(merged $common model=dense experts=4,8 steps=7 eval_every=0 name=once) > sweep6.log 2>&1
ok "a grid row that is the same run as an earlier one is skipped" '[ "$(q "select count(*) from runs where name=\"once\"")" = 1 ] && grep -q "the same run as an earlier row" sweep6.log'

# two runs at a time into one results.db, each logging to its own file; then the verdicts
"$H" sweep $(merged $common model=dense,xmoe experts=4 steps=12 eval_every=0 seed=1,2,3 name=par jobs=2 logs=plogs) > sweep4.log 2>&1
ok "jobs=2: six runs done side by side, one log each" '[ "$(q "select count(*) from runs where name=\"par\" and status=\"done\"")" = 6 ] && [ "$(ls plogs | wc -l)" = 6 ] && grep -q "6 runs done, 0 skipped" sweep4.log'
"$H" sweep size=tiny steps=5 eval_every=0 final_eval_tokens=1024 seed=1,2 data_dir=fresh db=fresh.db out=ck jobs=2 logs=plogs > sweep5.log 2>&1
ok "two runs side by side prepare a missing data set once, and both finish" '[ "$(sqlite3 fresh.db "select count(*) from runs where status=\"done\"")" = 2 ] && [ "$(cat plogs/*.log | grep -c "^data prepare")" = 1 ]'
"$H" compare by=model steps=12 metric=valid/bpb db=t.db > cmp.log 2>&1; rc=$?
ok "compare pairs the three seeds and gives an interval and a verdict" '[ $rc -eq 0 ] && grep -E "^english +tiny 12 +valid/bpb +dense +xmoe-4 +3 " cmp.log | grep -q -E "\[[-+][0-9.]+, [-+][0-9.]+\].*(better|no difference detected)"'
# a row whose seeds came from two OpenBLAS kernels pairs seeds across machines: said after the table
cp t.db kern.db
sqlite3 kern.db "update runs set config = json_set(config, '$.blas_core', 'OtherKernel') where name = 'par' and model = 'xmoe' and seed = 2"
"$H" compare by=model steps=12 metric=valid/bpb db=kern.db > kern.log 2>&1
"$H" compare by=model steps=12 metric=valid/bpb db=kern.db csv=1 > kern.csv 2> kern.err
ok "compare: a row mixing OpenBLAS kernels is said (on stderr under csv=1), a row of one kernel is not" 'grep -q "^  dense vs xmoe-4: .*OtherKernel" kern.log && ! grep -q "more than one OpenBLAS kernel" cmp.log && grep -q "OtherKernel" kern.err && ! grep -q "note:" kern.csv'
# Holm over the family a call shows: one row alone is its own family (p_holm = p); over all the
# metrics the smallest p is multiplied by the number of rows, and the header says how many
"$H" compare by=model steps=12 metric=valid/bpb db=t.db csv=1 > cmp_one.csv 2>&1
ok "compare: one row is a family of one, its Holm p its own p" 'grep -q "the family is the 1 row below" cmp.log && tail -1 cmp_one.csv | awk -F, "{ exit !(\$(NF - 2) != \"\" && \$(NF - 2) == \$(NF - 1)) }"'
"$H" compare by=model steps=12 db=t.db csv=1 > cmp_all.csv 2>&1
fam=$(($(wc -l < cmp_all.csv) - 6)) # four lines of header text, a blank line, the column names
ok "compare: the family is every row shown, and Holm multiplies the smallest p by their number" '[ $fam -gt 1 ] && grep -q "the family is the $fam rows below" cmp_all.csv && tail -n $fam cmp_all.csv | awk -F, -v m=$fam "{ if (\$(NF - 2) != \"\" && (min == \"\" || \$(NF - 2) + 0 < min)) { min = \$(NF - 2) + 0; adj = \$(NF - 1) + 0 } } END { want = m * min; if (want > 1) want = 1; d = adj - want; if (d < 0) d = -d; exit !(min != \"\" && d <= 0.005 * want + 1e-9) }"'
# a power plan for that family: the seeds a target needs from the pilot's paired sd, priced
# and stored. At the row's own detectable difference its 3 pilot seeds suffice; at half of it
# the smallest n whose (t_0.975 + t_0.80) sd / sqrt(n) is at most the target, as the db's own
# student_t table gives it (6 for 3 pilot seeds: the t tails shrink as n grows)
md=$(q "select min_detectable from verdicts where by_key = 'model' and metric = 'valid/bpb' and json_extract(a_key, '\$.steps') = 12")
"$H" plan by=model steps=12 metric=valid/bpb target=$(awk -v m="$md" 'BEGIN { print m * 1.02 }') db=t.db > plan1.log 2>&1; rc1=$?
"$H" plan by=model steps=12 metric=valid/bpb target=$(awk -v m="$md" 'BEGIN { print m / 2 }') db=t.db > plan2.log 2>&1; rc2=$?
planned() { q "select pilot_n || ' ' || seeds_needed || ' ' || (core_hours > 0) || ' ' || family from plan_rows join plans on plans.id = plan_id where plan_id = $1"; }
ok "plan: at the row's detectable difference its 3 pilot seeds suffice, nothing to run, stored" '[ $rc1 -eq 0 ] && [ -n "$md" ] && [ "$(planned 1)" = "3 3 0 1" ] && grep -q "stored as plan 1" plan1.log'
ok "plan: a row and a configuration are at a point (size, steps): stored with it, priced per point" '[ "$(q "select group_concat(distinct size_steps) from plan_rows where plan_id = 1")" = "tiny 12" ] && grep -q "^  english      tiny 12     dense " plan1.log'
n2=$(planned 2 | cut -d" " -f2)
by_table=$(q "select min(df + 1) from student_t, (select sd_diff as sd from verdicts where by_key = 'model' and metric = 'valid/bpb' and json_extract(a_key, '\$.steps') = 12) where (t975 + t80) * sd / sqrt(df + 1) <= $md / 2")
ok "plan: at half of it the smallest sufficient n ($n2, by the table $by_table), priced in core-hours" '[ $rc2 -eq 0 ] && [ "$(planned 2 | cut -d" " -f3)" = 1 ] && [ "$n2" -gt 3 ] && [ "$n2" = "$by_table" ]'
# sd_bound=0.8: the pilot's sd at its 80% upper bound, sqrt(2 / (-2 ln 0.8)) = 2.1171 times it for 3 seeds
"$H" plan by=model steps=12 metric=valid/bpb target=$(awk -v m="$md" 'BEGIN { print m / 2 }') sd_bound=0.8 db=t.db > plan3b.log 2>&1; rc3=$?
n3=$(planned 3 | cut -d" " -f2)
by_bound=$(q "select min(df + 1) from student_t, (select sd_diff * 2.11713 as sd from verdicts where by_key = 'model' and metric = 'valid/bpb' and json_extract(a_key, '\$.steps') = 12) where (t975 + t80) * sd / sqrt(df + 1) <= $md / 2")
# (the table has rows at some df only: the n it gives is at least the exact one)
ok "plan sd_bound=0.8: planned from the sd's upper bound ($n3 seeds, by the table at most $by_bound), the words stored" '[ $rc3 -eq 0 ] && [ "$n3" -gt "$n2" ] && [ "$n3" -le "$by_bound" ] && [ "$(q "select selection like \"%sd_bound=0.8%\" from plans where id = 3")" = 1 ]'
"$H" plan by=model steps=12 db=t.db > /dev/null 2> plan3.err; rc=$?
ok "plan without target= says what it needs" '[ $rc -eq 2 ] && grep -q "target=DELTA is required" plan3.err'
# sweep seeds=plan: each configuration runs seeds 1..N of the newest plan that has it (the most
# any of its rows needs), all configurations' seed 4 before seed 5; the pilot's 1-3 are done. A
# plan made by hand here, newer than the three above: dense needs 5 (its second row), xmoe-4 4
q "insert into plans(id, made_at, by_key, selection, target, power, family) values (9, 'now', 'model', 'by hand', 0.01, 0.8, 2);
   insert into plan_rows(plan_id, task, metric, a, b, pilot_n, sd_diff, seeds_needed, core_hours, size_steps) values
   (9, 'english', 'valid/bpb', 'dense', 'xmoe-4', 3, 0.01, 4, 0, 'tiny 12'), (9, 'english', 'valid/bpb', 'dense', 'smoe-4', 3, 0.01, 5, 0, 'tiny 12')"
# dry=1 lists what the same command would run, each timed by its configuration's finished seeds
# (mean wall seconds times threads), and runs nothing: the db's file is the same bytes after
before=$(cat t.db t.db-wal 2> /dev/null | md5sum)
"$H" sweep $(merged $common model=dense,xmoe experts=4 steps=12 eval_every=0 name=par) seeds=plan dry=1 > sdry.log 2>&1; rc=$?
dense_min=$(q "select printf('%.1f', avg(wall_s * json_extract(config, '$.threads')) / 60) from runs where name = 'par' and model = 'dense' and status = 'done'")
ok "sweep dry=1: the runs to run, each timed by its finished seeds, nothing run or written" '[ $rc -eq 0 ] && grep -q "3 runs to run, 6 skipped as done already, of 9" sdry.log && grep -q "model=dense .*seed=4: to run, about $dense_min core-minutes (the mean of 3 finished seeds)" sdry.log && [ "$(q "select count(*) from runs where name = \"par\" and seed > 3")" = 0 ] && [ "$(cat t.db t.db-wal 2> /dev/null | md5sum)" = "$before" ]'
"$H" sweep $(merged $common model=dense,xmoe experts=4 steps=12 eval_every=0 name=par) seeds=plan > splan.log 2>&1; rc=$?
ok "sweep seeds=plan: dense seeds 4 and 5, xmoe-4 seed 4, in seed order, the pilot's skipped" '[ $rc -eq 0 ] && grep -q "dense at tiny 12: seeds 1-5 (plan 9)" splan.log && grep -q "3 runs done, 6 skipped" splan.log && [ "$(q "select group_concat(model || seed, \" \") from (select model, seed from runs where name = \"par\" and seed > 3 order by id)")" = "dense4 xmoe4 dense5" ]'
"$H" sweep $(merged $common model=xmoe experts=4,6 steps=12 eval_every=0 name=par) seeds=plan > splan2.log 2>&1; rc=$?
ok "sweep seeds=plan: a configuration with no finished run to plan from is named, nothing run" '[ $rc -eq 2 ] && grep -q "experts=6 .*: no finished run of this configuration" splan2.log && [ "$(q "select count(*) from runs where experts = 6")" = 0 ]'
q "update plan_rows set seeds_needed = 0 where plan_id = 9"
"$H" sweep $(merged $common model=xmoe experts=4 steps=12 eval_every=0 name=par) seeds=plan > splan3.log 2>&1; rc=$?
ok "sweep seeds=plan: a plan that could not plan the configuration (seeds 0) is said, not run" '[ $rc -eq 2 ] && grep -q "plan 9 could not plan xmoe-4 at tiny 12" splan3.log'
# evaluation is dropless; the closing one also scores the valid split at the training capacity
# (valid_capped), which drops for an MoE model and is not made for dense or expert choice (on
# the masked task: a causal one refuses expert choice)
for m in "model=xmoe experts=4" "model=dense" "task=mmm model=smoe experts=4 router=expert_choice"; do
  "$H" run $(merged $common $m steps=12 eval_every=0 threads=1 name=capped db=cap.db) > /dev/null 2>&1
done
"$H" run $(merged $common model=xmoe experts=4 steps=12 eval_every=6 threads=1 name=console db=con.db) > con.log 2>&1
ok "the evaluation line: the watched numbers, the rest counted (each per-layer value is in the db)" 'grep "^step 6: " con.log | grep -q "valid bpb [0-9.]*, valid router_entropy [0-9.]*, valid dropped_frac [0-9.]*; [0-9]* more in results.db" && ! grep "^step 6: " con.log | grep -q "router_entropy/l" && [ "$(sqlite3 con.db "select count(*) from metrics where step = 6 and name like \"router_entropy/l%\"")" -ge 1 ]'
cq() { sqlite3 cap.db "select group_concat(r.model || ':' || m.split || '=' || (m.value > 0), ' ') from metrics m join runs r on r.id = m.run_id where m.name = 'dropped_frac' and m.split like 'valid%' order by r.id, m.split"; }
ok "valid drops nothing, valid_capped drops for xmoe only ($(cq))" '[ "$(cq)" = "xmoe:valid=0 xmoe:valid_capped=1 smoe:valid=0" ] && [ "$(sqlite3 cap.db "select count(*) from metrics where split = \"valid_capped\" and name = \"bpb\"")" = 1 ]'
"$H" compare db=t.db > /dev/null 2> cmp.err; rc=$?
ok "compare without by= says what it needs" '[ $rc -eq 2 ] && grep -q "by=KEY is required" cmp.err'
"$H" compare by=model expert=8 db=t.db > /dev/null 2> cmp2.err; rc=$?
ok "compare refuses a misspelt filter key, naming the nearest" '[ $rc -eq 2 ] && grep -q "unknown key .expert.; nearest known key: .experts." cmp2.err'
"$H" compare by=modle db=t.db > /dev/null 2> cmp3.err; rc=$?
ok "compare refuses an unknown by= key" '[ $rc -eq 2 ] && grep -q "by=modle: unknown key; nearest known key: .model." cmp3.err'

# VQA on the scenes set, prepared on first use: image patches + question -> answer, started
# from a masked multimodal modelling run (pretrain_steps) that is a run of its own
mm="model=mhmoe experts=4 heads=2 size=tiny data_dir=d db=t.db out=ck"
"$H" run task=vqa $mm pretrain_steps=5 steps=20 eval_every=10 name=vqa > run8.log 2>&1
rc=$?
ok "vqa run finishes" '[ $rc -eq 0 ] && [ -s d/scenes/train/vqa_questions.json ] && [ -s d/scenes/valid/images/0.png ]'
ok "vqa accuracy and both baselines stored" '[ "$(q "select count(distinct name) from metrics where run_id=(select max(id) from runs where name=\"vqa\") and name in (\"acc\",\"majority_acc\",\"question_only_acc\")")" = 3 ]'
pre=$(q "select id from runs where task='mmm' and status='done' order by id desc limit 1")
ok "pretraining is a finished mmm run with masked-token perplexity split image/text" '[ -n "$pre" ] && [ "$(q "select count(distinct name) from metrics where run_id=$pre and split=\"valid\" and name in (\"ppl\",\"ppl_image\",\"ppl_text\",\"unigram_ppl_image\")")" = 4 ] && [ -s d/scenes/codebook-s32-p8-k128.bin ]'
ok "the vqa run starts from it" '[ "$(q "select json_extract(config, \"$.init\") from runs where name=\"vqa\"")" = "$pre" ] && grep -q "init=$pre:" run8.log'
ok "vqa activations recorded, image and text sub-tokens apart" '[ "$(q "select count(distinct split) from activations where run_id=(select max(id) from runs where name=\"vqa\") and split in (\"valid\",\"valid/image\",\"valid/text\")")" = 3 ] && [ "$(q "select sum(count) from activations where run_id=(select max(id) from runs where name=\"vqa\") and split=\"valid\"")" = "$(q "select sum(count) from activations where run_id=(select max(id) from runs where name=\"vqa\") and split in (\"valid/image\",\"valid/text\")")" ]'
"$H" run task=vqa image_size=30 patch=8 steps=1 data_dir=d db=t.db > /dev/null 2> e8.log; rc=$?
ok "patch that does not divide image_size is refused" '[ $rc -eq 2 ] && grep -q "patch=8: must divide image_size=30" e8.log'
"$H" run task=vqa size=tiny steps=1 init=$pre data_dir=d db=t.db > /dev/null 2> e9.log; rc=$?
ok "init= from a different model is refused, naming the setting" '[ $rc -eq 2 ] && grep -q "its model has model" e9.log'
"$H" run task=vqa size=tiny steps=1 init=999 data_dir=d db=t.db > /dev/null 2> e10.log; rc=$?
ok "init= of a run without a checkpoint is refused" '[ $rc -eq 2 ] && grep -q "holds no checkpoint of run 999" e10.log'

# reasoning over two images (NLVR2 style): the same pretraining is reused
"$H" run task=reasoning $mm pretrain_steps=5 steps=10 eval_every=0 name=nlvr > run9.log 2>&1
rc=$?
ok "reasoning run finishes with accuracy and the majority baseline" '[ $rc -eq 0 ] && [ "$(q "select count(distinct name) from metrics where run_id=(select max(id) from runs where name=\"nlvr\") and name in (\"acc\",\"majority_acc\")")" = 2 ]'
ok "a second finetune reuses the finished pretraining run" 'grep -q "reusing run $pre" run9.log && [ "$(q "select count(*) from runs where task=\"mmm\"")" = 1 ]'
"$H" run task=reasoning $mm pretrain_steps=5 steps=10 eval_every=0 pair=joint name=nlvr_joint > run9j.log 2>&1
rc=$?
ok "pair=joint (both images in one sequence) runs from the same pretraining" '[ $rc -eq 0 ] && grep -q "reusing run $pre" run9j.log && [ "$(q "select count(*) from metrics where run_id=(select max(id) from runs where name=\"nlvr_joint\") and split=\"test\" and name=\"acc\"")" = 1 ]'
"$H" run task=reasoning $mm pretrain_steps=0 steps=1 batch=7 > /dev/null 2> e11.log; rc=$?
ok "an odd batch is refused for pair=separate" '[ $rc -eq 2 ] && grep -q "batch=7: task=reasoning reads each example as 2 sequences" e11.log'

# a matching pretraining run whose checkpoint is gone is passed over: the stage pretrains again
mv ck/run-$pre.ckpt ck/moved.ckpt
"$H" run task=reasoning $mm pretrain_steps=5 steps=2 eval_every=0 name=nlvr_again > run9a.log 2>&1
rc=$?
ok "a pretraining run without its checkpoint is not reused; a new one is trained" '[ $rc -eq 0 ] && grep -q "run $pre has these settings but no usable checkpoint" run9a.log && [ "$(q "select count(*) from runs where task=\"mmm\" and status=\"done\"")" = 2 ]'
# what pretraining must match comes from the keys' roles: micro_batches (a key the hand-kept list
# missed) shapes the mmm run, so a finetune with another value pretrains again
"$H" run task=reasoning $mm pretrain_steps=5 steps=2 eval_every=0 micro_batches=2 name=nlvr_mb > run9m.log 2>&1
rc=$?
ok "a finetune whose pretraining settings differ (micro_batches=2) is not given the other run" '[ $rc -eq 0 ] && ! grep -q "reusing run" run9m.log && [ "$(q "select count(*) from runs where task=\"mmm\" and status=\"done\"")" = 3 ]'

# captioning: greedy decoding scored with BLEU-4, CIDEr-D, ROUGE-L beside blind baselines
"$H" run task=captioning $mm pretrain_steps=0 steps=10 eval_every=0 final_eval_tokens=8192 name=cap > run10.log 2>&1
rc=$?
ok "captioning run finishes with its metrics and blind baselines" '[ $rc -eq 0 ] && [ "$(q "select count(distinct name) from metrics where run_id=(select max(id) from runs where name=\"cap\") and name in (\"bleu4\",\"cider\",\"rouge_l\",\"constant_cider\",\"random_cider\")")" = 5 ] && [ "$(q "select count(*) from evals where run_id=(select max(id) from runs where name=\"cap\") and benchmark=\"test\"")" = 3 ]'

# the listing and queries
"$H" list db=t.db > list.log 2>&1
ok "list shows every run" '[ $(grep -c -E "english|multilingual|mmm|vqa|reasoning|captioning" list.log) -eq $(q "select count(*) from runs") ]'
"$H" query "select id, status from runs order by id" csv=1 db=t.db > q.csv
ok "query csv" '[ "$(sed -n 2p q.csv)" = "1,done" ]'
nruns=$(q "select count(*) from runs")
"$H" query "delete from runs" db=t.db > /dev/null 2> qerr.log
rc=$?
ok "query refuses writes" '[ $rc -ne 0 ] && grep -q read-only qerr.log && [ "$(q "select count(*) from runs")" = "$nruns" ]'

# bad input: clear messages, non-zero exit, nothing stored
before=$(q "select count(*) from runs")
"$H" run $(merged $common stepz=5) > /dev/null 2> e1.log; rc=$?
ok "unknown key exits 2 naming the nearest key" '[ $rc -eq 2 ] && grep -q "stepz" e1.log && grep -q "steps" e1.log'
"$H" run $(merged $common lr=fast) > /dev/null 2> e2.log; rc=$?
ok "bad value exits 2 naming the key" '[ $rc -eq 2 ] && grep -q "lr=fast" e2.log'
"$H" run $(merged $common data=no/such/text) > /dev/null 2> e3.log; rc=$?
ok "missing data names the path" '[ $rc -eq 2 ] && grep -q "no/such/text" e3.log'
"$H" run $(merged $common d_model=60 attn_heads=7) > /dev/null 2> e4.log; rc=$?
ok "bad shape names the keys" '[ $rc -eq 2 ] && grep -q "attn_heads" e4.log'
echo "garbage" > junk.ckpt
"$H" run $(merged $common resume=junk.ckpt) > /dev/null 2> e5.log; rc=$?
ok "bad checkpoint names the file" '[ $rc -eq 2 ] && grep -q "junk.ckpt" e5.log'
"$H" run $common steps=5 > /dev/null 2> e5b.log; rc=$?
"$H" sweep $common model=dense steps=5 > /dev/null 2> e5s.log; rc=$?
ok "a sweep refuses a key given twice as well" '[ $rc -eq 2 ] && grep -q "given twice" e5s.log'
"$H" sweep paper task=vqa,nosuch db=grid.db > /dev/null 2> e5p.log; rc=$?
ok "a named sweep refuses a value no row of its grid has, naming it, before making anything" '[ $rc -eq 2 ] && grep -q "no row of sweep paper .* has task=nosuch" e5p.log && [ ! -e grid.db ]'
"$H" sweep compute size=tiny steps=550 db=grid.db > /dev/null 2> e5r.log; rc=$?
ok "a named sweep refuses words that together leave no row" '[ $rc -eq 2 ] && grep -q "no row of sweep compute that the other words leave" e5r.log && [ ! -e grid.db ]'
# a key that never tells runs apart replaces the rows' value rather than narrowing them (the
# compute grid's rows evaluate every 300 steps and log every 60)
"$H" sweep compute size=tiny eval_every=60 log_every=5 seeds=1 db=wgrid.db dry=1 > wgrid.log 2>&1; rc=$?
ok "a named sweep takes a watch key's value over its rows' (eval_every=, log_every=), every row kept" '[ $rc -eq 0 ] && grep -q "7 runs to run, 0 skipped as done already, of 7" wgrid.log && [ "$(grep -c "log_every=5 eval_every=60 size=tiny" wgrid.log)" = 7 ] && ! grep -q "eval_every=300\|log_every=60" wgrid.log && [ ! -e wgrid.db ]'
"$H" sweep compute size=tiny eval_every=$(printf '%05000d' 60) db=wgrid.db dry=1 > /dev/null 2> wlong.log; rc=$?
ok "a word too long for a named grid is refused as that, not as a value no row has" '[ $rc -eq 2 ] && grep -q "longer than 4096 characters" wlong.log && [ ! -e wgrid.db ]'
# a word naming a key the grid's rows set narrows them: the ablations grid's dense row alone,
# at both of its dense_mlp values
"$H" sweep ablations model=dense size=tiny steps=4 eval_every=0 eval_tokens=1024 final_eval_tokens=1024 data_dir=d db=narrow.db out=ck seeds=1 > narrow.log 2>&1; rc=$?
ok "a named sweep narrowed by a word runs the rows that have its value, only" '[ $rc -eq 0 ] && [ "$(sqlite3 narrow.db "select group_concat(label, \" \") from (select label from runs where status = \"done\" order by id)")" = "dense dense-dense_mlp=both" ]'
"$H" sweep paper seed=5 db=grid.db > /dev/null 2> e5q.log; rc=$?
ok "sweep paper says seeds=N where seed= was given, before making anything" '[ $rc -eq 2 ] && grep -q "takes seeds=N" e5q.log && [ ! -e grid.db ]'
ok "a key given twice exits 2 naming both words" '[ $rc -eq 2 ] && grep -q "steps=40" e5b.log && grep -q "steps=5" e5b.log'
"$H" run $(merged $common db=) > /dev/null 2> e5c.log; rc=$?
ok "an empty db= exits 2 before training" '[ $rc -eq 2 ] && grep -q "db=" e5c.log'
touch plainfile
"$H" run $(merged $common out=plainfile/ck) > /dev/null 2> e5d.log; rc=$?
ok "an unwritable out= exits 2 before training, naming it" '[ $rc -eq 2 ] && grep -q "out=plainfile/ck" e5d.log'
ok "bad input stored nothing" '[ "$(q "select count(*) from runs")" = "$before" ]'
for c in list "show 1" "compare by=model"; do
  "$H" $c db=absent.db > /dev/null 2> e5e.log; rc=$?
  ok "$c on a missing db exits 2 and makes no file" '[ $rc -eq 2 ] && grep -q "absent.db: no such file" e5e.log && [ ! -e absent.db ]'
done
"$H" query "" db=t.db > q1.log 2> e5f.log; rc=$?
ok "an empty query exits 2 and prints nothing" '[ $rc -eq 2 ] && [ ! -s q1.log ] && grep -q empty e5f.log'
"$H" query "attach 'other.db' as o" db=t.db > /dev/null 2> e5g.log; rc=$?
ok "query refuses ATTACH and makes no file" '[ $rc -eq 2 ] && grep -q ATTACH e5g.log && [ ! -e other.db ]'
"$H" query "select 1; delete from runs" db=t.db > /dev/null 2> e5h.log; rc=$?
ok "query runs one statement only" '[ $rc -eq 2 ] && grep -q "one statement" e5h.log && [ "$(q "select count(*) from runs")" = "$before" ]'
"$H" help run > help.log
ok "help run lists every key" 'grep -q "eval_every" help.log && grep -q "tiny:300" help.log'
ok "help run lists each task's declared keys under it" 'grep -A1 "^  task=vqa: " help.log | grep -q "^  answers " && grep -q "(reasoning:64)" help.log'
"$H" help plot > helpplot.log
ok "help plot lists every figure" 'grep -q "^  routers " helpplot.log && grep -q "^  ppl " helpplot.log'

# balance_reduce=sum weighs the summed balance losses: the same run with one MoE layer, another with two
bl() { sqlite3 t.db "select value from final_metrics where run_id=(select max(id) from runs where name=\"$1\") and split=\"valid\" and metric=\"loss\""; }
for r in mean sum; do
  "$H" run $(merged $common model=xmoe experts=4 steps=6 eval_every=0 balance=0.5 balance_reduce=$r name=one-$r) > /dev/null 2>&1
  "$H" run $(merged $common model=xmoe experts=4 steps=6 eval_every=0 balance=0.5 balance_reduce=$r layers=4 name=two-$r) > /dev/null 2>&1
done
ok "balance_reduce: sum equals mean with one MoE layer, differs with two" '[ -n "$(bl one-sum)" ] && [ "$(bl one-mean)" = "$(bl one-sum)" ] && [ "$(bl two-mean)" != "$(bl two-sum)" ]'

# the zero-shot multiple choice is scored before training too (mc_step0), the floor the
# trained score is read against: fortunes long enough to make items
mkdir fort2
for i in $(seq 1 300); do
  echo "Fortune $i says the ${a[$((i % 10))]} ${b[$((i * 3 % 10))]} ${c[$((i * 7 % 10))]} all day long."
  echo "Then it ${c[$((i % 10))]} again near the ${a[$((i * 3 % 10))]} house number $((i * 13 % 97))."
  echo "%"
done > fort2/long
"$H" data prepare english source=fort2 data_dir=d2 > /dev/null 2>&1
"$H" run size=tiny steps=3 eval_every=0 data_dir=d2 db=t.db out=ck threads=2 name=mc > mc.log 2>&1; rc=$?
mcid=$(q "select id from runs where name='mc'")
ok "multiple choice scored after training and at step 0, on the same items" '[ $rc -eq 0 ] && [ "$(q "select count(*) from evals where run_id=$mcid and benchmark in (\"mc\",\"mc_step0\") and metric=\"acc\" and value between 0 and 1")" = 2 ] && [ "$(q "select count(distinct value) from evals where run_id=$mcid and metric=\"items\"")" = 1 ] && [ "$(q "select value > 0 from evals where run_id=$mcid and benchmark=\"mc_step0\" and metric=\"items\"")" = 1 ]'

# router_norm=code: the torchscale router (no temperature parameter), its own label; a paper
# router cannot start from its weights
"$H" run $(merged $common model=xmoe experts=4 steps=6 eval_every=0 router_norm=code name=code) > code.log 2>&1; rc=$?
"$H" run $(merged $common model=xmoe experts=4 steps=6 eval_every=0 name=paper-router) > /dev/null 2>&1
codeid=$(q "select id from runs where name='code'")
"$H" run $(merged $common model=xmoe experts=4 steps=2 eval_every=0 init=$codeid name=from-code) > fc.log 2>&1; rc2=$?
ok "router_norm=code trains, labelled, one temperature fewer per MoE layer" '[ $rc -eq 0 ] && [ "$(q "select label from runs where name=\"code\"")" = xmoe-4-code ] && [ "$(q "select (select params from runs where name=\"paper-router\") - params from runs where name=\"code\"")" = "$(q "select count(distinct name) from metrics where run_id=$codeid and name like \"router_tau/l%\"")" ]'
ok "a paper router refuses the code router's weights, naming router_norm" '[ $rc2 -ne 0 ] && grep -q router_norm fc.log'

# the OpenBLAS kernel: recorded in every run; a named one is self-checked in a child process,
# then the harness starts again with OPENBLAS_CORETYPE set. The kernels named here come from
# what this machine's OpenBLAS loads (blas_core=keep), so the cases hold on any x86-64 CPU
ok "every run records its BLAS kernel, library and threads" '[ "$(q "select count(*) from runs where json_extract(config, \"\$.blas_core\") is null or json_extract(config, \"\$.blas\") not like \"%OpenBLAS%threads\"")" = 0 ]'
if [ "$(uname -m)" = x86_64 ]; then
  "$H" run $(merged $common steps=1 eval_every=0 blas_core=keep name=keep) > b0.log 2>&1
  loaded=$(q "select json_extract(config, \"\$.blas_core\") from runs where name=\"keep\"")
  # a kernel other than the loaded one that every x86-64 CPU runs (SSE3, SSSE3)
  other=Prescott; [ "$loaded" = Prescott ] && other=Core2
  "$H" run $(merged $common steps=4 eval_every=0 blas_core=$other name=named) > b1.log 2>&1; rc=$?
  ok "blas_core=$other (OpenBLAS loads $loaded): self-checked, re-executed, recorded" '[ $rc -eq 0 ] && [ -n "$loaded" ] && grep -q "OPENBLAS_CORETYPE=$other (sgemm self-check passed" b1.log && [ "$(q "select json_extract(config, \"\$.blas_core\") from runs where name=\"named\"")" = $other ] && [ "$(q "select json_extract(config, \"\$.blas\") like \"%chosen by the harness: blas_core=$other%\" from runs where name=\"named\"")" = 1 ]'
  own=$(q "select json_extract(config, \"\$.blas_core\") from runs where id=1")
  "$H" run $(merged $common steps=4 eval_every=0 blas_core=NoSuchKernel name=nokernel) > b2.log 2>&1; rc=$?
  ok "an unknown kernel fails its self-check and auto's choice runs ($own), not the generic one" '[ $rc -eq 0 ] && grep -q "kernel NoSuchKernel failed its self-check" b2.log && [ "$(q "select json_extract(config, \"\$.blas_core\") from runs where name=\"nokernel\"")" = "$own" ]'
fi
"$H" run $(merged $common blas=mine) > /dev/null 2> e7.log; rc=$?
ok "the recorded blas key cannot be set" '[ $rc -eq 2 ] && grep -q "recorded by the harness" e7.log'

# faults: a killed run lists as dead and its resume continues the same run id; SIGHUP and a
# closed stdout behave like Ctrl-C; a diverging run ends diverged; checkpoints default to a
# folder named by the db, and a file another db wrote over is refused by its sha256
f="size=tiny eval_every=0 log_every=5 data_dir=d threads=2"
"$H" run $f steps=100000 checkpoint_every=10 db=k.db name=killed > k1.log 2>&1 &
pid=$!
# wait for the checkpoint's row, not just its file: the row is written after the file
wait_until '[ "$(sqlite3 k.db "select count(*) from checkpoints where run_id=1")" -ge 1 ]'
timeout 120 "$H" run $f steps=100000 db=k.db resume=k.runs/run-1.ckpt > /dev/null 2> k0.log; rc=$?
ok "resume= of a run still running is refused" '[ $rc -eq 2 ] && grep -q "run 1 of db=k.db is still running" k0.log'
kill -9 $pid; wait $pid 2> /dev/null
ok "checkpoints default to a folder beside the db, named by it" '[ -s k.runs/run-1.ckpt ]'
ok "a run whose process is gone lists as dead" '"$H" list db=k.db | grep -q " dead "'
states="select run_state('running', 'elsewhere', 1, '2020-01-01T00:00:00.000Z') || run_state('running', 'elsewhere', 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
ok "a run of another host is dead after 30 silent minutes, alive before" '[ "$("$H" query "$states" db=k.db csv=1 | tail -1)" = deadrunning ]'
ok "its checkpoint rows carry the file sha256" '[ "$(sqlite3 k.db "select sha256 from checkpoints where run_id=1 order by step desc limit 1")" = "$(sha256sum k.runs/run-1.ckpt | cut -d" " -f1)" ]'
at=$(sqlite3 k.db "select max(step) from checkpoints where run_id=1")
"$H" run $f steps=100000 db=k.db resume=k.runs/run-1.ckpt > k2.log 2>&1 &
pid=$!
wait_until '[ "$(sqlite3 k.db "select max(step) from metrics where run_id=1 and name='\''loss'\''")" -gt $((at + 10)) ]'
kill -HUP $pid; wait $pid; rc=$?
ok "resume of a dead run continues its run id" '[ "$(sqlite3 k.db "select count(*) from runs")" = 1 ] && grep -q "resume: run 1 (dead) continues from step $at" k2.log'
ok "SIGHUP behaves like Ctrl-C: exit 130, interrupted, checkpoint" '[ $rc -eq 130 ] && [ "$(sqlite3 k.db "select status from runs where id=1")" = interrupted ] && grep -q "resume=k.runs/run-1.ckpt" k2.log'
ok "no training step is stored twice" '[ "$(sqlite3 k.db "select count(*) from (select step from metrics where run_id=1 and split=\"train\" and name=\"loss\" group by step having count(*) > 1)")" = 0 ]'
# data-loss paths. A checkpoint's row is written before its file takes its name: a crash between
# the two leaves a row whose file never arrived, and the previous file must still resume
cp k.db kold.db
ck=$(sqlite3 k.db "select max(step) from checkpoints where run_id=1")
sqlite3 k.db "insert into checkpoints(run_id, step, path, sha256) values (1, $((ck + 1000)), 'k.runs/run-1.ckpt', '$(printf '0%.0s' $(seq 64))')"
"$H" run $f steps=100000 db=k.db resume=k.runs/run-1.ckpt > k6.log 2>&1 &
pid=$!
wait_until '[ "$(sqlite3 k.db "select max(step) from metrics where run_id=1 and name='\''loss'\''")" -gt $((ck + 10)) ]'
kill -INT $pid; wait $pid
ok "a checkpoint row whose file never took its name does not block resume; the row is dropped" 'grep -q "resume: run 1 (interrupted) continues from step $ck" k6.log && [ "$(sqlite3 k.db "select count(*) from checkpoints where run_id=1 and step >= $((ck + 1000))")" = 0 ]'
# an older copy of the same db merged back keeps the newer run
n_metrics=$(sqlite3 k.db "select count(*) from metrics where run_id=1")
"$H" merge kold.db db=k.db > k8.log 2>&1; rc=$?
ok "merge of an older copy keeps the run that went further, and says so" '[ $rc -eq 0 ] && grep -q "1 older than the copy here" k8.log && [ "$(sqlite3 k.db "select count(*) from metrics where run_id=1")" = "$n_metrics" ] && [ "$(sqlite3 k.db "select count(*) from runs")" = 1 ]'
# resumed into another db: the checkpoints go beside that db, not over the files of the first
before=$(sha256sum k.runs/run-1.ckpt)
"$H" run $f steps=100000 db=k2.db resume=k.runs/run-1.ckpt > k7.log 2>&1 &
pid=$!
wait_until '[ "$(sqlite3 k2.db "select max(step) from metrics where run_id=1 and name='\''loss'\''")" -gt $((ck + 10)) ]'
kill -INT $pid; wait $pid
ok "resume= into another db writes its checkpoints beside that db, the first db's file untouched" '[ "$(sha256sum k.runs/run-1.ckpt)" = "$before" ] && [ -s k2.runs/run-1.ckpt ] && [ "$(sqlite3 k2.db "select path from checkpoints where run_id=1 limit 1")" = k2.runs/run-1.ckpt ]'
timeout 120 "$H" run $f steps=100000 db=k.db name=piped 2>&1 | head -1 > /dev/null
ok "a closed stdout (| head) ends the run interrupted with a checkpoint" '[ "$(sqlite3 k.db "select status from runs where name=\"piped\"")" = interrupted ] && [ -s k.runs/run-2.ckpt ]'
"$H" run $f steps=30 lr=10 warmup=0 db=k.db name=hot > /dev/null 2> k3.log; rc=$?
ok "a loss far above its start ends diverged, exit 1" '[ $rc -eq 1 ] && [ "$(sqlite3 k.db "select status from runs where name=\"hot\"")" = diverged ] && grep -q "over 3x its" k3.log'
"$H" run $f steps=5 db=s1.db out=shared > /dev/null 2>&1
"$H" run $f steps=6 db=s2.db out=shared > /dev/null 2>&1
"$H" run task=english size=tiny steps=1 init=1 data_dir=d db=s1.db out=shared > /dev/null 2> k4.log; rc=$?
ok "init= refuses a checkpoint another db wrote over (sha256)" '[ $rc -eq 2 ] && grep -q "is not the checkpoint run 1 of db=s1.db wrote" k4.log'

"$H" run $f steps=2 db=k.db name=$(printf 'n%.0s' $(seq 4200)) > /dev/null 2> k5.log; rc=$?
ok "a configuration too long for a checkpoint is refused before the run row" '[ $rc -eq 2 ] && grep -q "shorten name=" k5.log && [ "$(sqlite3 k.db "select count(*) from runs where length(name) > 4000")" = 0 ]'

# harness data check: counts per split, and a missing image named with exit 1
"$H" data check task=vqa data=d/scenes > dc1.log 2>&1; rc=$?
ok "data check reports each split" '[ $rc -eq 0 ] && grep -q "^train  questions" dc1.log && grep -q "^valid  missing_images *0" dc1.log'
cp -r d/scenes dmiss && rm dmiss/test/images/3.png
"$H" data check task=vqa data=dmiss > dc2.log 2>&1; rc=$?
ok "data check names a missing image and exits 1" '[ $rc -eq 1 ] && grep -q "dmiss/test/images/3.png" dc2.log && grep -q "^test   missing_images *1" dc2.log'
"$H" run task=vqa data=dmiss size=tiny steps=1 pretrain_steps=0 db=t.db out=ck > /dev/null 2> dc3.log; rc=$?
ok "a run on it stops before training, naming the image" '[ $rc -eq 2 ] && grep -q "dmiss/test/images/3.png" dc3.log'

# the routing after the paper, end to end in a db of its own: expert choice with fine-grained
# experts, a shared expert and z-loss; loss-free balancing interrupted and resumed (its bias is
# in the checkpoint); the imbalance metrics; the refusals; the routers figure
rq() { sqlite3 r.db "$1"; }
rt="size=tiny steps=20 eval_every=10 log_every=10 eval_tokens=2048 data_dir=d db=r.db out=rck threads=2 experts=8"
"$H" run $rt model=mhmoe router=sinkhorn granularity=2 shared_experts=1 z_loss=0.001 > r1.log 2>&1; rc=$?
ok "sinkhorn + granularity + shared expert + z-loss trains" '[ $rc -eq 0 ] && [ "$(rq "select status || \" \" || label from runs where id=1")" = "done mhmoe-8h4-params-sinkhorn-g2-sh1-z0.001" ]'
ok "granularity=2: twice the experts and topk, half the parity size (977 with the shared expert, rounded to 976)" '[ "$(rq "select experts || \" \" || topk || \" \" || json_extract(config, \"\$.expert_dim_used\") from runs where id=1")" = "16 2 488" ]'
ok "imbalance, unrouted and z-loss metrics stored" '[ "$(rq "select count(distinct name) from metrics where run_id=1 and split=\"valid\" and name in (\"load_cv\",\"max_violation\",\"dead_experts\",\"load_cv/l1\",\"unrouted_frac\",\"z_loss\")")" = 6 ]'
"$H" run $(merged $rt task=mmm model=mhmoe router=expert_choice db=ec.db) > r1e.log 2>&1; rc=$?
# (every expert takes as many sub-tokens, padding included, which the load statistics leave
# out: its max violation is not 0 on a padded task; test_moe checks the balance itself)
ok "expert choice trains on the masked task and leaves some sub-tokens to no expert" '[ $rc -eq 0 ] && [ "$(sqlite3 ec.db "select min(value) > 0 from metrics where name=\"unrouted_frac\" and split=\"train\"")" = 1 ]'
"$H" run $rt model=xmoe router=expert_choice > /dev/null 2> r1c.log; rc=$?
ok "expert choice is refused on a causal task, naming the task and the route" '[ $rc -eq 2 ] && grep -q "task=english model=xmoe router=expert_choice.*later tokens change earlier outputs" r1c.log'
"$H" run $(merged $rt model=xmoe balance_mode=loss_free bias_rate=0.01 steps=100000 eval_every=0) > r2.log 2>&1 &
pid=$!
wait_until 'grep -q "^step [0-9]" r2.log'
kill -INT $pid; wait $pid
"$H" run resume=rck/run-2.ckpt steps=$(( $(rq "select max(step) from checkpoints where run_id=2") + 10 )) > r3.log 2>&1; rc=$?
# a longer run from the checkpoint is a new run (its steps differ) that starts where it stopped
ok "loss-free balancing resumes from its checkpoint" '[ $rc -eq 0 ] && [ "$(rq "select status from runs where id=3")" = done ] && [ "$(rq "select min(step) > 1 from metrics where run_id=3 and name=\"loss\"")" = 1 ] && [ -n "$(rq "select value from metrics where run_id=3 and name=\"max_violation\" limit 1")" ]'
"$H" run $rt model=xmoe router=expert_choice balance_mode=loss_free > /dev/null 2> r4.log; rc=$?
ok "expert choice with loss-free balancing is refused" '[ $rc -eq 2 ] && grep -q "balanced by construction" r4.log'
"$H" run $(merged $rt model=dense dense_mlp=both db=dm.db) > /dev/null 2>&1; rc=$?
"$H" run $(merged $rt model=dense db=dm.db) > /dev/null 2>&1
ok "dense_mlp=both: two C x C layers per dense block more (tiny: 2 blocks x 2 x (64^2 + 64)), named in the label" '[ $rc -eq 0 ] && [ "$(sqlite3 dm.db "select max(params) - min(params) from runs")" = 16640 ] && [ "$(sqlite3 dm.db "select label from runs where id = 1")" = "dense-dense_mlp=both" ]'
ok "dense_mlp pairs with the dense default (omitted at its default)" '[ "$("$H" compare by=dense_mlp db=dm.db metric=valid/bpb 2>&1 | grep -c "valid/bpb  *dense-dense_mlp=both  *dense  ")" = 1 ]'
"$H" run $rt model=xmoe granularity=3 > /dev/null 2> r5.log; rc=$?
ok "a granularity that does not divide the expert size is refused" '[ $rc -eq 2 ] && grep -q "granularity=3 must divide the expert size 256" r5.log'
"$H" run $rt model=xmoe router=hash > /dev/null 2> r6.log; rc=$?
ok "an unknown router names the table's routes" '[ $rc -eq 2 ] && grep -q "expected one of topk|expert_choice|sinkhorn" r6.log'
"$H" run $rt model=xmoe seed=1 > /dev/null 2>&1 && "$H" run $rt model=xmoe seed=2 > /dev/null 2>&1
"$H" plot fig=routers db=r.db out=rfig > rp.log 2>&1; rc=$?
ok "plot fig=routers draws each group with its imbalance" '[ $rc -eq 0 ] && [ -s rfig/routers.png ] && grep -q "^tiny/20, English, 8 experts" rfig/routers.md && grep -q "^| xmoe-8 | 2 |" rfig/routers.md && grep -q "sinkhorn-g2" rfig/routers.md'
"$H" sweep > /dev/null 2> rs.log; rc=$?
ok "sweep without words names its grids" '[ $rc -eq 2 ] && grep -q "routers" rs.log && grep -q "paper" rs.log'

# harness bench: every variant at each thread count of a list, read against the sgemm ceiling
# and the memory the model allocates (the numbers themselves are not checked: no timed tests)
"$H" bench size=tiny experts=8 threads=1,2 steps=2 > bench.log 2>&1; rc=$?
ok "bench: 5 variants at threads 1 and 2, shares of sgemm, state beside peak, the scaling lines" '[ $rc -eq 0 ] && grep -q "^sgemm GFLOP/s (the ceiling): n=128" bench.log && [ "$(grep -cE "^\| (1|2) \| (dense|smoe|xmoe|mhmoe) " bench.log)" = 10 ] && [ "$(grep -cE "threads=2 / threads=1 = [0-9]" bench.log)" = 5 ] && grep -E "^\| 2 \| dense " bench.log | awk -F"|" "{ exit !(\$13 ~ /%/ && \$17 + 0 > 0 && \$18 + 0 > 0) }"'
# model= and parity= keep variants; each kept row is the configuration the full table ran under
# its name (a dense row is dense: before, a model= word made every row the word's model)
"$H" bench size=tiny experts=8 threads=1 steps=1 model=dense,mhmoe parity=params > bench_kept.log 2>&1; rc=$?
rows() { grep -E "^\| 1 \| (dense|mhmoe) \| (-|params) " "$1" | cut -d"|" -f2-9; }
ok "bench model=dense,mhmoe parity=params: those two rows, each the full table's configuration" '[ $rc -eq 0 ] && [ "$(grep -cE "^\| 1 \| " bench_kept.log)" = 2 ] && [ "$(rows bench_kept.log)" = "$(rows bench.log)" ]'
"$H" bench size=tiny model=dense,moe > bench_bad.log 2>&1; rc=$?
ok "bench model=moe: refused, the key and its values named" '[ $rc -eq 2 ] && grep -q "model=moe: expected one of dense|smoe|xmoe|mhmoe" bench_bad.log'

# harness merge: t.db's runs into a db that already has one (so every id moves), twice
cp mb1.db e.db
"$H" merge t.db db=e.db > mg.log 2>&1; rc=$?
nt=$(q "select count(*) from runs where status != 'running'")
per_run() { sqlite3 "$1" "select r.started_at, r.task, r.model, (select count(*) from metrics m where m.run_id = r.id), (select count(*) from activations a where a.run_id = r.id), (select count(*) from evals e where e.run_id = r.id) from runs r where r.status != 'running' and r.host is not null order by r.started_at, r.task, r.model, 4"; }
ok "merge adds every finished run under a new id" '[ $rc -eq 0 ] && [ "$(sqlite3 e.db "select count(*) from runs")" = $((nt + 1)) ] && grep -q "$nt runs added (ids 2-" mg.log'
ok "each merged run keeps its metrics, histograms and evals" '[ "$(per_run t.db)" = "$(per_run e.db | grep -v "$(per_run mb1.db)")" ]'
vq=$(sqlite3 e.db "select id from runs where name = 'vqa'")
ok "a finetune's pretrain_run names the merged pretraining run" '[ -n "$vq" ] && [ "$(sqlite3 e.db "select task from runs where id = (select json_extract(config, \"$.pretrain_run\") from runs where id = $vq)")" = mmm ] && [ "$(sqlite3 e.db "select json_extract(config, \"$.pretrain_run\") from runs where id = $vq")" != "$(q "select json_extract(config, \"$.pretrain_run\") from runs where name = \"vqa\"")" ]'
"$H" merge t.db db=e.db > mg2.log 2>&1
ok "merging again replaces, adds nothing" '[ "$(sqlite3 e.db "select count(*) from runs")" = $((nt + 1)) ] && grep -q "0 runs added, $nt merged before and replaced" mg2.log && [ "$(per_run t.db)" = "$(per_run e.db | grep -v "$(per_run mb1.db)")" ]'
sqlite3 e.db .dump > e_before.txt
"$H" merge prep.log db=e.db > /dev/null 2> mg3.log; rc=$?
ok "merging a file that is not a results db: refused, db unchanged" '[ $rc -eq 2 ] && grep -q "prep.log" mg3.log && sqlite3 e.db .dump | cmp -s - e_before.txt'

# gemm=: every matrix product on oneDNN (a build without libdnnl-dev refuses it by name): the same
# numbers twice, close to OpenBLAS's, the backend stored; an unknown backend refused
g="size=tiny steps=20 eval_every=10 log_every=10 eval_tokens=2048 data_dir=d db=g.db threads=2 model=xmoe experts=4"
"$H" run $g name=blas > g0.log 2>&1
"$H" run $g name=dnnl1 gemm=onednn > g1.log 2>&1; rc=$?
if grep -q "this build has no onednn" g1.log; then
  ok "gemm=onednn in a build without oneDNN: refused by name" '[ $rc -eq 2 ]'
else
  "$H" run $g name=dnnl2 gemm=onednn > g2.log 2>&1
  gq() { sqlite3 g.db "$1"; }
  ok "gemm=onednn: finishes, the same numbers twice, stored as asked" '[ $rc -eq 0 ] && [ "$(gq "select count(distinct value) from final_metrics where name in (\"dnnl1\",\"dnnl2\") and split=\"valid\" and metric=\"loss\"")" = 1 ] && [ "$(gq "select json_extract(config, \"\$.gemm\") from runs where name=\"dnnl1\"")" = onednn ]'
  ok "gemm=onednn and gemm=openblas agree to 1e-3 in validation loss after 20 steps" '[ "$(gq "select abs(a.value - b.value) < 1e-3 * a.value from final_metrics a, final_metrics b where a.name=\"blas\" and b.name=\"dnnl1\" and a.split=\"valid\" and b.split=\"valid\" and a.metric=\"loss\" and b.metric=\"loss\"")" = 1 ]'
fi
"$H" run $g name=auto1 gemm=auto > g4.log 2>&1; rc=$?
plan=$(sqlite3 g.db "select json_extract(config, '$.gemm') from runs where name='auto1'")
"$H" run from=$(sqlite3 g.db "select id from runs where name='auto1'") name=auto2 db=g.db > g5.log 2>&1
ok "gemm=auto: the plan it measured is stored and said, and from= runs that plan again to the same bits" '[ $rc -eq 0 ] && grep -qF "gemm=auto: $plan (" g4.log && [ "$(sqlite3 g.db "select json_extract(config, \"\$.gemm\") from runs where name=\"auto2\"")" = "$plan" ] && [ "$(sqlite3 g.db "select count(distinct value) from final_metrics where name in (\"auto1\",\"auto2\") and split=\"valid\" and metric=\"loss\"")" = 1 ]'
"$H" run $g name=bad2 gemm=openblas,onednn@NT1x2 > /dev/null 2> g6.log; rc=$?
ok "gemm= of a malformed plan is refused, saying what a plan is" '[ $rc -eq 2 ] && grep -q "BACKEND@SHAPE" g6.log'
"$H" run $g name=bad gemm=mkl > /dev/null 2> g3.log; rc=$?
ok "gemm= of an unknown backend is refused with the choices" '[ $rc -eq 2 ] && grep -q "gemm" g3.log && grep -q "onednn" g3.log'

finish
