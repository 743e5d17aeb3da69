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
echo '{"sentence": "a", "label": "True", "identifier": "train-1-0"}' > n2.json; mkdir -p n2; mv n2.json n2/train.json
bad "nlvr2 official: an identifier without its fields" "n2/train.json: line 1: identifier" "$H" run task=reasoning size=tiny steps=1 pretrain_steps=0 db=t.db data=n2
mkdir -p c1/train c1/valid c1/test
for s in train valid test; do echo '{"images": [{"id": 1}], "annotations": []}' > c1/$s/captions.json; done
bad "coco: an image without file_name"      "c1/train/captions.json.*file_name" "$H" run task=captioning size=tiny steps=1 pretrain_steps=0 db=t.db data=c1
mkdir -p c2/train/im c2/valid c2/test; cp d/scenes/train/images/0.png c2/train/im/0.png
for s in train valid test; do echo '{"images": [{"id": 1, "file_name": "im/0.png"}], "annotations": []}' > c2/$s/captions.json; done
bad "coco: an image without a caption"      "has no caption"        "$H" run task=captioning size=tiny steps=1 pretrain_steps=0 db=t.db data=c2
bad "data check: a folder that is not there" "/nonexistent/vqa"     "$H" data check task=vqa data=/nonexistent/vqa
bad "data check: an unknown task"           "task=nosuch"           "$H" data check task=nosuch data=v1
bad "data prepare: an unknown set"          "nosuch"                "$H" data prepare nosuch data_dir=d
# db files and queries
echo "not a database" > text.db
bad "db= a file that is not SQLite"         "text.db"               "$H" run $base steps=1 db=text.db
bad "list: a missing db"                    "missing.db: no such file" "$H" list db=missing.db
bad "show: not a run id"                    "needs a run id"        "$H" show abc db=t.db
bad "query: empty"                          "query"                 "$H" query '' db=t.db
bad "query: ATTACH"                         "ATTACH|not authorized|authori" "$H" query "ATTACH 'x.db' AS x" db=t.db
bad "query: a write"                        "readonly|read-only|only SELECT|not authorized" "$H" query "DELETE FROM runs" db=t.db
bad "query: an unknown table"               "no such table: nosuch" "$H" query "select * from nosuch" db=t.db
bad "query: two statements"                 "one statement|statement" "$H" query "select 1; select 2" db=t.db
bad "query: an unknown option"              "verbose=1"             "$H" query "select 1" db=t.db verbose=1
bad "compare: an unknown by= key"           "by=modle"              "$H" compare by=modle db=t.db
bad "plot: an unknown figure"               "fig=nosuch|nosuch"     "$H" plot fig=nosuch db=t.db out=figs
bad "sweep: an unknown key in the grid"     "stepz"                 "$H" sweep stepz=1,2 db=t.db
bad "sweep paper: a key its grid sets"      "seed"                  "$H" sweep paper seed=5 db=t.db
bad "an unknown command"                    "unknown command 'frobnicate'" "$H" frobnicate

cases=$((pass + fail - 1))
ok "the catalogue holds at least 50 cases ($cases)" '[ $cases -ge 50 ]'
finish
