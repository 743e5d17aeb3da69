#!/usr/bin/env bash
# Data and expert parallelism over Open MPI (a build with -DHARNESS_MPI=ON): two processes on
# the same global batch against one process. Each process runs a slice of every batch; the gradients
# are summed over processes, so
#  - against one process on the whole batch, the training losses after 20 steps agree within
#    1e-5 relative for dense and dropless MoE without a balance loss: the only difference is
#    the order in which the slices' gradient contributions are added (floating-point addition
#    is not associative; OpenBLAS sums the batch rows of a weight gradient in one pass);
#  - against one process with micro_batches=2 (the same slices, one after the other) every
#    metric and histogram is bit-identical with reduce=ordered, for any model and task: the
#    same slices, the same per-slice balance statistics and capacity, the same additions;
#  - process 0 alone writes results.db and the checkpoint, and a run interrupted under mpirun
#    resumes (under mpirun, or in one process with the same slices: the same numbers).
source "$(dirname "$0")/shell_check.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
MPI="mpirun -np 2 --oversubscribe"

mkdir fort
for i in $(seq 1 400); do echo "The fox number $i jumps over the dog number $((i * 7)) near the river."; echo "%"; done > fort/animals
"$H" data prepare english source=fort data_dir=d > /dev/null 2>&1
base="data_dir=d size=tiny steps=20 eval_every=0 log_every=1 final_eval_tokens=4096 threads=1"
losses() { sqlite3 "$1" "select value from metrics where split='train' and name='loss' order by step"; }
# the largest relative difference of two loss columns
maxrel() { paste <(losses "$1") <(losses "$2") | max_rel_diff 20; }
all_numbers() { sqlite3 "$1" "select step, split, name, value from metrics where name not like '%per_s%' and name not like 'comm%' order by 1, 2, 3; select * from activations order by 1, 2, 3, 4, 5, 6; select * from evals order by 1, 2, 3"; }

for m in "model=dense" "model=xmoe capacity=0 balance=0" "model=mhmoe capacity=0 balance=0"; do
  tag=$(echo "$m" | tr -d ' =')
  "$H" run $m $base db=one_$tag.db > /dev/null 2>&1
  $MPI "$H" run $m $base parallel=data db=two_$tag.db > two_$tag.log 2>&1; rc=$?
  rel=$(maxrel one_$tag.db two_$tag.db)
  ok "$m: 2 processes finish" '[ $rc -eq 0 ] && [ "$(sqlite3 two_$tag.db "select status from runs")" = done ]'
  ok "$m: 20 training losses within 1e-5 relative of one process ($rel)" 'awk -v r="$rel" "BEGIN { exit !(r < 1e-5) }"'
done
ok "the losses are not all the same (the comparison can fail)" '[ "$(losses one_modeldense.db | sort -u | wc -l)" -gt 10 ]'

# the defaults (capacity 1.25, balance loss) and loss-free balancing: bit for bit against micro_batches=2
for m in "model=xmoe" "model=mhmoe balance_mode=loss_free"; do
  tag=$(echo "$m" | tr -d ' =_')
  "$H" run $m $base micro_batches=2 db=mb_$tag.db > /dev/null 2>&1
  $MPI "$H" run $m $base parallel=data reduce=ordered db=ord_$tag.db > ord_$tag.log 2>&1; rc=$?
  ok "$m reduce=ordered: every metric, histogram and eval bit-identical to micro_batches=2" '[ $rc -eq 0 ] && [ -n "$(all_numbers mb_$tag.db)" ] && [ "$(all_numbers mb_$tag.db | md5sum)" = "$(all_numbers ord_$tag.db | md5sum)" ]'
  ok "$m: the two group as one configuration (micro_batches=2 in both)" '[ "$(sqlite3 mb_$tag.db "select comparable from runs")" = "$(sqlite3 ord_$tag.db "select comparable from runs")" ] && sqlite3 ord_$tag.db "select comparable from runs" | grep -q "\"micro_batches\":2"'
done
ok "process 0 alone wrote: one run, one checkpoint" '[ "$(sqlite3 ord_modelxmoe.db "select count(*) from runs")" = 1 ] && [ "$(ls ord_modelxmoe.runs | grep -c ckpt)" = 1 ]'
ok "bytes sent per step stored" '[ "$(sqlite3 ord_modelxmoe.db "select min(value) > 0 from metrics where name=\"comm_bytes_per_step\"")" = 1 ]'
ok "the ranks recorded" '[ "$(sqlite3 ord_modelxmoe.db "select json_extract(config, \"$.ranks\") from runs")" = 2 ]'

# expert parallelism: the routed experts split over the 2 processes, rows exchanged with
# MPI_Alltoallv. reduce=ordered runs each process's block of an expert alone and adds the weight
# gradients in process order: bit-identical to micro_batches=2 (the same sgemm calls, the same
# additions); allreduce runs one sgemm pair per expert over both processes' rows, which sums a
# weight gradient's rows in another order: within 1e-5 of micro_batches=2 after 20 steps.
for m in "model=xmoe" "model=mhmoe balance_mode=loss_free" "task=mmm model=smoe shared_experts=1 router=expert_choice"; do
  tag=$(echo "$m" | tr -d ' =_')
  [ -f mb_$tag.db ] || "$H" run $m $base micro_batches=2 db=mb_$tag.db > /dev/null 2>&1
  $MPI "$H" run $m $base parallel=expert reduce=ordered db=epo_$tag.db > epo_$tag.log 2>&1; rc=$?
  ok "$m parallel=expert reduce=ordered: every metric, histogram and eval bit-identical to micro_batches=2" '[ $rc -eq 0 ] && [ -n "$(all_numbers mb_$tag.db)" ] && [ "$(all_numbers mb_$tag.db | md5sum)" = "$(all_numbers epo_$tag.db | md5sum)" ]'
  $MPI "$H" run $m $base parallel=expert db=ep_$tag.db > ep_$tag.log 2>&1; rc=$?
  rel=$(maxrel mb_$tag.db ep_$tag.db)
  ok "$m parallel=expert: 20 training losses within 1e-5 relative of micro_batches=2 ($rel)" '[ $rc -eq 0 ] && awk -v r="$rel" "BEGIN { exit !(r < 1e-5) }"'
done
"$H" run model=xmoe capacity=0 balance=0 $base db=one_x.db > /dev/null 2>&1
$MPI "$H" run model=xmoe capacity=0 balance=0 $base parallel=expert db=ep_x.db > /dev/null 2>&1
rel=$(maxrel one_x.db ep_x.db)
ok "dropless xmoe without balance loss, parallel=expert: within 1e-5 of one process on the whole batch ($rel)" 'awk -v r="$rel" "BEGIN { exit !(r < 1e-5) }"'
# the experts are sharded: a process's experts' gradients are its own, so they do not travel
# (the rows do: the numbers above need the other process's experts)
bytes() { sqlite3 "$1" "select sum(value) from metrics where name='comm_bytes_per_step'"; }
be=$(bytes ep_modelxmoe.db); bd=$(bytes ord_modelxmoe.db)
ok "parallel=expert sends rows, not the experts' gradients: fewer bytes than parallel=data ($be < $bd)" '[ -n "$be" ] && [ -n "$bd" ] && awk -v a="$be" -v b="$bd" "BEGIN { exit !(a > 0 && a < b) }"'
grep -h "holds" epo_modelxmoe.log > held.txt
ok "each process holds half the routed experts, and says so" '[ "$(grep -c "process [01] holds .* of [0-9]* parameters (experts [0-9]*-[0-9]* of 8" held.txt)" = 2 ]'
# process 0 gathers the experts into a checkpoint that is one process's file (after the header
# and the stored state, whose configuration text names the processes)
payload() { tail -c +5185 "$1" | md5sum; }
ok "sharded: the checkpoint of 2 processes is micro_batches=2's, every expert in it" '[ -s epo_modelxmoe.runs/run-1.ckpt ] && [ "$(payload epo_modelxmoe.runs/run-1.ckpt)" = "$(payload mb_modelxmoe.runs/run-1.ckpt)" ]'
# each block fetched once, the file's sha256 read back from what was written: the db's is the file's
sha=$(sha256sum < epo_modelxmoe.runs/run-1.ckpt | cut -d' ' -f1)
ok "sharded: the sha256 recorded for the checkpoint is the file's" '[ "$(sqlite3 epo_modelxmoe.db "select sha256 from checkpoints")" = "$sha" ]'
# and a checkpoint resumes at another number of processes: 10 steps under 2 then 10 in one,
# or 10 in one then 10 under 2, the same numbers
s10="model=xmoe data_dir=d size=tiny eval_every=0 log_every=1 final_eval_tokens=4096 threads=1 micro_batches=2 reduce=ordered parallel=expert"
$MPI "$H" run $s10 steps=10 db=p2.db > /dev/null 2>&1
"$H" run resume=p2.runs/run-1.ckpt steps=20 db=p2.db > p2r.log 2>&1; rc1=$?
"$H" run $s10 steps=10 db=p1.db > /dev/null 2>&1
$MPI "$H" run resume=p1.runs/run-1.ckpt steps=20 db=p1.db > p1r.log 2>&1; rc2=$?
later() { sqlite3 "$1" "select step, name, value from metrics where run_id = 2 and name not like '%per_s%' and name not like 'comm%' order by 1, 2; select * from evals where run_id = 2 order by 1, 2, 3"; }
ok "resumed at the other number of processes: steps 11-20 bit-identical" '[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ "$(later p2.db | grep -c loss)" -ge 10 ] && [ "$(later p1.db | md5sum)" = "$(later p2.db | md5sum)" ]'
$MPI "$H" run model=xmoe experts=3 $base parallel=expert db=bad.db > bad.log 2>&1; rc=$?
ok "experts=3 over 2 processes: exit 2, saying so" '[ $rc -ne 0 ] && grep -q "experts=3 over 2 processes: experts (times granularity) must be a multiple of the processes" bad.log'
$MPI "$H" run model=dense $base parallel=expert db=bad.db > bad.log 2>&1; rc=$?
ok "model=dense parallel=expert: refused, naming parallel=data" '[ $rc -ne 0 ] && grep -q "no experts to split (parallel=data" bad.log'

# image patches slice with their rows: masked multimodal modelling, the same check
"$H" data prepare scenes data_dir=d > /dev/null 2>&1
"$H" run task=mmm model=xmoe $base micro_batches=2 db=mmm1.db > /dev/null 2>&1
$MPI "$H" run task=mmm model=xmoe $base parallel=data reduce=ordered db=mmm2.db > /dev/null 2>&1
ok "task=mmm reduce=ordered: bit-identical to micro_batches=2" '[ -n "$(all_numbers mmm1.db)" ] && [ "$(all_numbers mmm1.db | md5sum)" = "$(all_numbers mmm2.db | md5sum)" ]'

# interrupt a long run under mpirun, resume it under mpirun and in one process: the same losses
$MPI "$H" run model=xmoe data_dir=d size=tiny steps=100000 eval_every=0 log_every=5 threads=1 parallel=data db=k.db > k.log 2>&1 &
pid=$!
wait_until '[ -s k.db ] && [ "$(sqlite3 k.db "select count(*) from metrics where name='\''loss'\''")" -ge 3 ]'
kill -INT $pid; wait $pid
at=$(sqlite3 k.db "select max(step) from checkpoints")
ok "interrupted under mpirun: a checkpoint" '[ -n "$at" ] && [ "$at" -gt 0 ] && [ "$(sqlite3 k.db "select status from runs")" = interrupted ]'
cp k.db a.db; cp k.db b.db
$MPI "$H" run resume=k.runs/run-1.ckpt steps=$((at + 10)) db=a.db out=a.runs > a.log 2>&1; rc=$?
"$H" run resume=k.runs/run-1.ckpt steps=$((at + 10)) db=b.db out=b.runs > b.log 2>&1
ok "resumed under mpirun: done, from the checkpoint's step on" '[ $rc -eq 0 ] && [ "$(sqlite3 a.db "select status from runs where id=2")" = done ] && [ "$(sqlite3 a.db "select min(step) from metrics where run_id=2 and name=\"loss\"")" -gt "$at" ]'
ok "resumed in one process: the same losses" '[ -n "$(losses a.db)" ] && [ "$(losses a.db)" = "$(losses b.db)" ]'

# a sweep over 3 processes: process 0 hands the runs out and merges what comes back; the same
# numbers as a sweep in one process, a finetune finds the pretraining run it reuses
sw="model=dense,xmoe seed=1,2 size=tiny steps=20 eval_every=0 final_eval_tokens=2048 data_dir=d threads=1"
finals() { sqlite3 "$1" "select r.task, r.model, r.seed, m.split, m.name, m.value from metrics m join runs r on r.id = m.run_id where m.name not like '%per_s%' order by 1, 2, 3, 4, 5, m.step"; }
mpirun -np 3 --oversubscribe "$H" sweep $sw db=sw3.db logs=l3 > sw3.log 2>&1; rc=$?
"$H" sweep $sw db=sw1.db logs=l1 > sw1.log 2>&1
ok "mpirun sweep: 4 runs done over 2 processes" '[ $rc -eq 0 ] && grep -q "4 runs done" sw3.log && grep -q "on process 2" sw3.log && [ "$(sqlite3 sw3.db "select count(*) from runs where status = \"done\"")" = 4 ]'
ok "mpirun sweep: every metric as the sweep in one process" '[ -n "$(finals sw1.db)" ] && [ "$(finals sw1.db | md5sum)" = "$(finals sw3.db | md5sum)" ]'
ok "mpirun sweep: the processes keep no database, process 0 wrote every row" '[ -z "$(ls l3/rank-*/*.db 2>/dev/null)" ]'
mpirun -np 3 --oversubscribe "$H" sweep $sw db=sw3.db logs=l3 > sw3b.log 2>&1
ok "mpirun sweep again: all done already" 'grep -q "0 runs done, 4 skipped" sw3b.log'
ft="task=mmm,vqa model=dense size=tiny steps=10 pretrain_steps=10 eval_every=0 final_eval_tokens=2048 data_dir=d threads=1"
mpirun -np 2 --oversubscribe "$H" sweep $ft db=ft.db logs=lf > ft.log 2>&1; rc=$?
ok "mpirun sweep: the finetune reuses the pretraining run process 0 holds" '[ $rc -eq 0 ] && [ "$(sqlite3 ft.db "select count(*) from runs")" = 2 ] && [ "$(sqlite3 ft.db "select r.task from runs r where r.id = (select json_extract(config, \"$.pretrain_run\") from runs where task = \"vqa\")")" = mmm ]'

# refusals
$MPI "$H" run $base db=r.db > r.log 2>&1; rc=$?
ok "two processes without parallel=data are refused" '[ $rc -ne 0 ] && grep -q "say parallel=data" r.log && [ ! -s r.db ] || [ "$(sqlite3 r.db "select count(*) from runs" 2>/dev/null || echo 0)" = 0 ]'
$MPI "$H" run $base parallel=data micro_batches=3 db=r.db > r2.log 2>&1; rc=$?
ok "micro_batches not a multiple of the processes is refused" '[ $rc -ne 0 ] && grep -q "micro_batches=3" r2.log'
finish
