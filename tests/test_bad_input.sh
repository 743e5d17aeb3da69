#!/usr/bin/env bash
# The bad-input catalogue: keys, values, data files, images, JSON, checkpoints, db files and
# queries a user can get wrong. Every case must end with a non-zero exit that is not a signal
# (a crash), a message naming the key, file or line, and results.db and the checkpoints exactly
# as they were (a dump and checksums compared before and after). Signals are in test_cli.sh.
source "$(dirname "$0")/shell_check.sh"

# a corpus, a finished run with its checkpoint, and a tiny VQA set in the harness's layout
mkdir fort
for i in $(seq 1 300); do echo "The fox number $i jumps over the dog number $((i * 7))."; echo "%"; done > fort/animals
"$H" data prepare english source=fort data_dir=d > /dev/null 2>&1
"$H" data prepare scenes data_dir=d > /dev/null 2>&1
base="size=tiny data_dir=d db=t.db threads=2"
"$H" run $base steps=3 eval_every=0 name=ok > /dev/null 2>&1
ok "the setup run finished" '[ "$(sqlite3 t.db "select status from runs where id=1")" = done ] && [ -s t.runs/run-1.ckpt ]'

vqa_set() { # vqa_set DIR: train/valid/test, one question on image 0 each
  local s
  for s in train valid test; do
    mkdir -p "$1/$s/images"
    cp d/scenes/train/images/0.png "$1/$s/images/0.png"
    echo '{"questions": [{"question_id": 1, "image_id": 0, "question": "is there a cube?"}]}' > "$1/$s/vqa_questions.json"
    echo '{"annotations": [{"question_id": 1, "answers": [{"answer": "yes"}, {"answer": "yes"}]}]}' > "$1/$s/vqa_annotations.json"
  done
}
vq="task=vqa size=tiny steps=1 pretrain_steps=0 db=t.db threads=2"

state() { sqlite3 t.db .dump; sha256sum t.runs/*; }
# bad NAME PATTERN COMMAND...: exit 1-125, stderr matches PATTERN (grep -E), nothing stored changed
bad() {
  local name="$1" pattern="$2"; shift 2
  state > before.txt
  "$@" > out.txt 2> err.txt < /dev/null; local rc=$?
  state > after.txt
  ok "$name" '[ $rc -ge 1 ] && [ $rc -le 125 ] && grep -qE -- "$pattern" err.txt && cmp -s before.txt after.txt'
  [ $rc -ge 1 ] && [ $rc -le 125 ] || echo "  ($name: exit $rc)" >&2
  grep -qE -- "$pattern" err.txt || { echo "  ($name: stderr was:)" >&2; head -3 err.txt >&2; }
}

# keys and values
bad "unknown key, nearest named"           "stepz"                 "$H" run $base stepz=3
bad "integer key given text"                "steps"                 "$H" run $base steps=abc
bad "negative step count"                   "steps"                 "$H" run $base steps=-1
bad "learning rate out of range"            "lr"                    "$H" run $base lr=100
bad "unknown model"                         "model"                 "$H" run $base model=foo
# numbers as JSON stores them: a stored config is always valid JSON
bad "steps=+3: a sign JSON does not have"   "steps=\+3"             "$H" run $base steps=+3
bad "steps=03: a leading zero"              "steps=03"              "$H" run $base steps=03
bad "lr=0x1p-9: a hex float"                "lr=0x1p-9"             "$H" run $base lr=0x1p-9
bad "moe_every beyond layers: no MoE layer" "moe_every"             "$H" run $base model=xmoe moe_every=3 layers=2 steps=1
bad "unknown task"                          "task=nosuch"           "$H" run $base task=nosuch
bad "a key given twice"                     "steps"                 "$H" run $base steps=3 steps=4
bad "a word without ="                      "steps"                 "$H" run $base steps
bad "unknown size preset"                   "size"                  "$H" run data_dir=d db=t.db size=huge
bad "negative threads"                      "threads"               "$H" run $base threads=-2
bad "zero batch"                            "batch"                 "$H" run $base batch=0
bad "attention heads not dividing d_model"  "attn_heads"            "$H" run $base attn_heads=3 steps=1
bad "negative capacity"                     "capacity"              "$H" run $base capacity=-1
bad "unknown gate"                          "gate"                  "$H" run $base gate=relu
bad "unknown tokenizer"                     "tokenizer"             "$H" run $base tokenizer=xyz
bad "unknown parity"                        "parity"                "$H" run $base model=mhmoe parity=both
# MH-MoE solves its expert size for parity before the route is checked: the refusal must come first
bad "mhmoe: sinkhorn with loss-free bias"   "router=sinkhorn balances" "$H" run $base model=mhmoe router=sinkhorn balance_mode=loss_free steps=1
bad "patch not dividing image_size"         "patch=7"               "$H" run $vq data_dir=d patch=7
bad "empty db="                             "db="                   "$H" run size=tiny data_dir=d db= steps=1
bad "out= under a plain file"               "out=t.db/ck"           "$H" run $base steps=1 out=t.db/ck
bad "configuration too long for a checkpoint" "shorten name="       "$H" run $base steps=1 name=$(printf 'n%.0s' $(seq 4200))
bad "from= a run the db does not hold"      "no run 999"            "$H" run $base from=999
bad "init= a run without a checkpoint"      "no checkpoint of run 999" "$H" run $base steps=1 init=999
bad "init= a missing file"                  "nothere.ckpt"          "$H" run $base steps=1 init=nothere.ckpt
# checkpoints
bad "resume= a missing file"                "missing.ckpt"          "$H" run $base resume=missing.ckpt
echo "not a checkpoint" > junk.ckpt
bad "resume= a file that is not a checkpoint" "junk.ckpt.*not a harness checkpoint" "$H" run $base resume=junk.ckpt
head -c 2000 t.runs/run-1.ckpt > cut.ckpt
bad "resume= a truncated checkpoint"        "cut.ckpt"              "$H" run $base resume=cut.ckpt steps=10
bad "resume= a finished run with nothing left" "nothing to do"      "$H" run $base resume=t.runs/run-1.ckpt
# the header is checksummed too: one flipped bit of opt_step (at byte 1048) is caught
cp t.runs/run-1.ckpt flip.ckpt
printf '\x01' | dd of=flip.ckpt bs=1 seek=1048 conv=notrunc 2> /dev/null
bad "resume= a checkpoint with a flipped header bit" "flip.ckpt: checksum" "$H" run $base resume=flip.ckpt steps=10
mkfifo fifo.ckpt
bad "resume= a FIFO: refused, not waited on" "fifo.ckpt: expected a regular file, found a FIFO" timeout 20 "$H" run $base resume=fifo.ckpt
ln -s /dev/zero zero.ckpt
bad "init= a link to a device"              "zero.ckpt: expected a regular file" timeout 20 "$H" run $base steps=1 init=zero.ckpt
bad "data= a device"                        "/dev/zero: expected a regular file" timeout 20 "$H" run $base steps=1 data=/dev/zero
# data files
bad "english data= a missing path"          "/nonexistent/corpus"   "$H" run $base steps=1 data=/nonexistent/corpus
: > empty.txt
bad "english data= an empty file"           "empty.txt"             "$H" run $base steps=1 data=empty.txt
vqa_set v1; echo '{"questions": [' > v1/train/vqa_questions.json
bad "vqa questions: broken JSON, file and line" "v1/train/vqa_questions.json: line [0-9]+: not valid JSON" "$H" run $vq data=v1
vqa_set v2; sed -i 's/"image_id": 0/"image_id": -1/' v2/valid/vqa_questions.json
bad "vqa: a negative image_id"              "v2/valid/vqa_questions.json.*image_id" "$H" run $vq data=v2
vqa_set v3; sed -i 's/"image_id": 0/"image_id": 1e400/' v3/train/vqa_questions.json
bad "vqa: image_id 1e400"                   "v3/train/vqa_questions.json.*image_id" "$H" run $vq data=v3
vqa_set v4; echo '{"questions": [{"question_id": 1, "image_id": 0, "question": "a?"}, {"question_id": 1, "image_id": 0, "question": "b?"}]}' > v4/test/vqa_questions.json
bad "vqa: a question_id given twice"        "given twice"           "$H" run $vq data=v4
vqa_set v4a; cat v4a/train/vqa_questions.json v4a/train/vqa_questions.json > q2 && mv q2 v4a/train/vqa_questions.json
bad "vqa: two JSON documents back to back"  "v4a/train/vqa_questions.json: line 2: expected the end of the file" "$H" run $vq data=v4a
vqa_set v4b; echo '{"questions": [{"question_id": 1, "image_id": 0, "question": "a?"}]} junk' > v4b/valid/vqa_questions.json
bad "vqa: junk after the closing brace"     "v4b/valid/vqa_questions.json: line 1: expected the end" "$H" run $vq data=v4b
vqa_set v4c; echo '{"annotations": [{"question_id": 1, "answers": [{"answer": "yes"}]}, {"question_id": 1, "answers": [{"answer": "no"}]}]}' > v4c/train/vqa_annotations.json
bad "vqa: a question annotated twice"       "question_id 1 is annotated twice" "$H" run $vq data=v4c
# a VQA folder holds no captions: its pretraining stage says what is missing and the ways out
vqa_set v11
bad "vqa: a folder without captions for the pretraining stage" "data=v11.*pretrain_data=FOLDER.*init=RUN_ID.*pretrain_steps=0" "$H" run task=vqa size=tiny steps=1 pretrain_steps=1 db=t.db threads=2 data=v11
"$H" run task=vqa size=tiny steps=1 pretrain_steps=1 db=pd.db threads=2 data=v11 pretrain_data=d/scenes > pd.log 2>&1; rc=$?
ok "pretrain_data= names the image-text folder of the pretraining stage" '[ $rc -eq 0 ] && [ "$(sqlite3 pd.db "select json_extract(config, \"\$.data\") from runs where task=\"mmm\"")" = d/scenes ] && [ "$(sqlite3 pd.db "select status from runs where task=\"vqa\"")" = done ]'
vqa_set v5; echo '{"annotations": []}' > v5/train/vqa_annotations.json
bad "vqa: a question without answers"       "no answers"            "$H" run $vq data=v5
vqa_set v6; rm v6/test/images/0.png
bad "vqa: a missing image"                  "v6/test/images/0.png"  "$H" run $vq data=v6
vqa_set v7; echo "not a png" > v7/valid/images/0.png
bad "vqa: an image that does not decode"    "v7/valid/images/0.png: cannot decode" "$H" run $vq data=v7
vqa_set v8; echo '{"questions": []}' > v8/valid/vqa_questions.json
bad "vqa: an empty valid split"             "no questions for the valid split" "$H" run $vq data=v8
vqa_set v9; echo '{"questions": {}}' > v9/train/vqa_questions.json
bad "vqa: questions not an array"           "\"questions\" to be an array" "$H" run $vq data=v9
vqa_set v10; rm v10/valid/vqa_annotations.json
bad "vqa: a missing annotation file"        "v10/valid/vqa_annotations.json" "$H" run $vq data=v10
mkdir -p n1/train n1/valid n1/test
printf '%s\n' '{"sentence": "a", "left_url": "l.png", "right_url": "r.png", "label": "True"}' '{"sentence": "b", "left_url": "l.png", "right_url": "r.png", "label": "maybe"}' > n1/train/nlvr2.jsonl
bad "nlvr2: a bad label, file and line"     "n1/train/nlvr2.jsonl: line 2" "$H" run task=reasoning size=tiny steps=1 pretrain_steps=0 db=t.db data=n1
mkdir -p n3/train n3/valid n3/test
{ printf '%s\n' '{"sentence": "a", "left_url": "l.png", "right_url": "r.png", "label": "True"}'; printf '{"sentence": "b",\0 "label": "True"}\n'; } > n3/train/nlvr2.jsonl
bad "nlvr2: a NUL byte mid-file"            "n3/train/nlvr2.jsonl: line 2: a NUL byte" "$H" run task=reasoning size=tiny steps=1 pretrain_steps=0 db=t.db data=n3
mkdir -p n4/train n4/valid n4/test
o='{"sentence": "a", "left_url": "l.png", "right_url": "r.png", "label": "True"}'
echo "$o $o" > n4/train/nlvr2.jsonl
bad "nlvr2: two objects on one line"        "n4/train/nlvr2.jsonl: line 1: expected one JSON object" "$H" run task=reasoning size=tiny steps=1 pretrain_steps=0 db=t.db data=n4
echo '{"sentence": "a", "label": "True", "identifier": "train-1-0"}' > n2.json; mkdir -p n2; mv n2.json n2/train.json
bad "nlvr2 official: an identifier without its fields" "n2/train.json: line 1: identifier" "$H" run task=reasoning size=tiny steps=1 pretrain_steps=0 db=t.db data=n2
mkdir -p c1/train c1/valid c1/test
for s in train valid test; do echo '{"images": [{"id": 1}], "annotations": []}' > c1/$s/captions.json; done
bad "coco: an image without file_name"      "c1/train/captions.json.*file_name" "$H" run task=captioning size=tiny steps=1 pretrain_steps=0 db=t.db data=c1
mkdir -p c2/train/im c2/valid c2/test; cp d/scenes/train/images/0.png c2/train/im/0.png
for s in train valid test; do echo '{"images": [{"id": 1, "file_name": "im/0.png"}], "annotations": []}' > c2/$s/captions.json; done
bad "coco: an image without a caption"      "has no caption"        "$H" run task=captioning size=tiny steps=1 pretrain_steps=0 db=t.db data=c2
for s in train valid test; do echo '{"images": [{"id": 1, "file_name": "im/0.png"}], "annotations": [{"image_id": 1, "caption": " "}]}' > c2/$s/captions.json; done
bad "coco: an empty caption"                "c2/train/captions.json: line 1: annotation 0: image_id 1: an empty caption" "$H" run task=captioning size=tiny steps=1 pretrain_steps=0 db=t.db data=c2
bad "data check: a folder that is not there" "/nonexistent/vqa"     "$H" data check task=vqa data=/nonexistent/vqa
bad "data check: an unknown task"           "task=nosuch"           "$H" data check task=nosuch data=v1
bad "data prepare: an unknown set"          "nosuch"                "$H" data prepare nosuch data_dir=d
# db files and queries
echo "not a database" > text.db
bad "db= a file that is not SQLite"         "text.db"               "$H" run $base steps=1 db=text.db
bad "list: a missing db"                    "missing.db: no such file" "$H" list db=missing.db
bad "show: not a run id"                    "expected a run id"     "$H" show abc db=t.db
bad "show: a run id with junk after it"     "show 1abc: expected a run id" "$H" show 1abc db=t.db
bad "show: a run the db does not hold"      "holds no run 999"      "$H" show 999 db=t.db
bad "list: a key that is a part of db="     "'b=t.db': expected one of" "$H" list b=t.db
bad "list: csv= neither 0 nor 1"            "csv=yes"               "$H" list csv=yes db=t.db
bad "compare: a value no run has"           "holds no finished runs" "$H" compare by=model a=dense b=nosuch db=t.db
bad "compare: a metric no run has"          "metric=valid/nosuch"   "$H" compare by=model metric=valid/nosuch db=t.db
bad "sweep: seeds= not a number"            "seeds=abc"             "$H" sweep paper seeds=abc db=t.db
bad "sweep: a value too long to hold"       "longer than"           "$H" sweep name=$(printf 'n%.0s' $(seq 5000)) db=t.db
# another program's SQLite file: read and write commands refuse it and leave it as it was
sqlite3 other.db "create table notes (a); insert into notes values (1)"
other=$(sha256sum other.db)
bad "list: an SQLite file that is not a results db" "other.db: not a results database" "$H" list db=other.db
bad "run: an SQLite file that is not a results db" "other.db: not a results database" "$H" run size=tiny data_dir=d threads=2 steps=1 db=other.db
ok "the other program's file is unchanged, no WAL switch or journal left" '[ "$(sha256sum other.db)" = "$other" ] && [ ! -e other.db-wal ] && [ "$(sqlite3 other.db "pragma journal_mode")" = delete ]'
bad "list: a device"                        "expected a results database file" "$H" list db=/dev/null
ok "list db=/dev/null leaves no /dev/null-journal" '[ ! -e /dev/null-journal ]'
cp t.db newer.db; sqlite3 newer.db "pragma user_version = 99"
bad "run: a db of a newer schema is not written" "newer harness" "$H" run size=tiny data_dir=d threads=2 steps=1 db=newer.db
ok "list reads a db of a newer schema" '"$H" list db=newer.db | grep -q " ok "'
chmod a-w t.db; ro=$("$H" list db=t.db 2>&1); chmod u+w t.db
ok "a read-only db is listed" 'echo "$ro" | grep -q " ok "' 
bad "query: empty"                          "query"                 "$H" query '' db=t.db
bad "query: ATTACH"                         "ATTACH|not authorized|authori" "$H" query "ATTACH 'x.db' AS x" db=t.db
bad "query: a write"                        "readonly|read-only|only SELECT|not authorized" "$H" query "DELETE FROM runs" db=t.db
bad "query: an unknown table"               "no such table: nosuch" "$H" query "select * from nosuch" db=t.db
bad "query: two statements"                 "one statement|statement" "$H" query "select 1; select 2" db=t.db
bad "query: an unknown option"              "verbose=1"             "$H" query "select 1" db=t.db verbose=1
bad "compare: an unknown by= key"           "by=modle"              "$H" compare by=modle db=t.db
bad "plot: an unknown figure"               "fig=nosuch|nosuch"     "$H" plot fig=nosuch db=t.db out=figs
bad "sweep: an unknown key in the grid"     "stepz"                 "$H" sweep stepz=1,2 db=t.db
bad "sweep paper: seed= instead of seeds=" "takes seeds=N .*not seed=" "$H" sweep paper seed=5 db=t.db
bad "sweep paper: a value no row of its grid has" "no row of sweep paper .*task=nosuch" "$H" sweep paper task=nosuch db=t.db
bad "export: an unknown format"            "format=xml: .xml. is not one of csv, jsonl, tensorboard" "$H" export format=xml db=t.db
bad "export: no such db"                   "missing.db: no such file" "$H" export db=missing.db out=ex
bad "an unknown command"                    "unknown command 'frobnicate'" "$H" frobnicate

cases=$((pass + fail - 1))
ok "the catalogue holds at least 50 cases ($cases)" '[ $cases -ge 50 ]'
finish
