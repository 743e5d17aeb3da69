/* The schema, views included. Derived figures live in views so that the C side only ever
 * stores raw counts and values. RESULTS_TABLES is idempotent; the views are dropped and made
 * again whenever RESULTS_SCHEMA_VERSION (the file's user_version) moves on. */
#define RESULTS_SCHEMA_VERSION 10 /* 10: the pairing views materialise their parts (100x faster) */

static const char *RESULTS_TABLES =
    "CREATE TABLE IF NOT EXISTS runs ("
    " id INTEGER PRIMARY KEY, name TEXT, task TEXT NOT NULL, model TEXT NOT NULL,"
    " experts INTEGER NOT NULL DEFAULT 0, topk INTEGER NOT NULL DEFAULT 0,"
    " heads INTEGER NOT NULL DEFAULT 0, seed INTEGER, config TEXT NOT NULL,"
    " params INTEGER, flops_per_token REAL,"
    " status TEXT NOT NULL CHECK (status IN ('running','done','failed','interrupted','diverged')),"
    " error TEXT, started_at TEXT NOT NULL, finished_at TEXT, wall_s REAL, host TEXT, git_rev TEXT);"
    "CREATE TABLE IF NOT EXISTS metrics ("
    " run_id INTEGER NOT NULL REFERENCES runs(id), step INTEGER NOT NULL, split TEXT NOT NULL,"
    " name TEXT NOT NULL, value REAL);"
    "CREATE INDEX IF NOT EXISTS metrics_by_run ON metrics(run_id, split, name, step);"
    "CREATE TABLE IF NOT EXISTS activations ("
    " run_id INTEGER NOT NULL REFERENCES runs(id), step INTEGER NOT NULL, split TEXT NOT NULL,"
    " layer INTEGER NOT NULL, head INTEGER NOT NULL, expert INTEGER NOT NULL,"
    " count INTEGER NOT NULL, total INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS activations_by_run ON activations(run_id, split, step);"
    "CREATE TABLE IF NOT EXISTS evals ("
    " run_id INTEGER NOT NULL REFERENCES runs(id), benchmark TEXT NOT NULL, metric TEXT NOT NULL,"
    " value REAL);"
    /* power plans (harness plan): the seeds each comparison of a family needs to detect target */
    "CREATE TABLE IF NOT EXISTS plans ("
    " id INTEGER PRIMARY KEY, made_at TEXT NOT NULL, by_key TEXT NOT NULL, selection TEXT NOT NULL,"
    " target REAL NOT NULL, power REAL NOT NULL, family INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS plan_rows ("
    " plan_id INTEGER NOT NULL REFERENCES plans(id), task TEXT, metric TEXT, a TEXT, b TEXT,"
    " pilot_n INTEGER, sd_diff REAL, seeds_needed INTEGER, core_hours REAL, size_steps TEXT);"
    /* a key a stored configuration leaves out at its default (so that runs made before the key
     * existed still group with runs at its default), with that default: the comparisons read a
     * missing key as this value. Filled by the harness (results_set_key_defaults). */
    "CREATE TABLE IF NOT EXISTS key_defaults (key TEXT PRIMARY KEY, value);"
    "CREATE TABLE IF NOT EXISTS checkpoints ("
    " run_id INTEGER NOT NULL REFERENCES runs(id), step INTEGER NOT NULL, path TEXT NOT NULL,"
    " sha256 TEXT);"
    /* settings of the derived figures; activation_threshold is the t of the paper's Fig. 1a:
     * an expert counts as activated when its load share is at least t / N */
    "CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value REAL);"
    "INSERT OR IGNORE INTO settings VALUES ('activation_threshold', 0.25);"
    /* the paper's own definition (Fig. 1a caption): an expert is activated when its selection
     * frequency -- selections over the number of TOKENS, so an MH-MoE sub-token selection counts
     * 1/h of a token -- exceeds a threshold below 1 that the paper does not give; 1/128 makes the
     * two definitions agree for top-1 X-MoE at the paper's 32 experts */
    "INSERT OR IGNORE INTO settings VALUES ('paper_activation_threshold', 0.0078125);"
    /* which way is better, by a metric's name (before any '/language'): -1 lower, 1 higher.
     * Only these metrics get verdicts; add a row to judge another one. */
    "CREATE TABLE IF NOT EXISTS metric_direction (name TEXT PRIMARY KEY, direction INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO metric_direction VALUES ('loss', -1), ('ppl', -1), ('bpb', -1), ('ppl_image', -1),"
    " ('ppl_text', -1), ('acc', 1), ('acc_norm', 1), ('acc_image', 1), ('acc_text', 1), ('bleu4', 1),"
    " ('cider', 1), ('rouge_l', 1);"
    /* Student t quantiles by degrees of freedom: t975 for the two-sided 95% interval, t80 for
     * 80% power; a df between rows takes the row below it (a slightly wider interval) */
    "CREATE TABLE IF NOT EXISTS student_t (df INTEGER PRIMARY KEY, t975 REAL NOT NULL, t80 REAL NOT NULL);"
    "INSERT OR IGNORE INTO student_t VALUES (1, 12.706, 1.376), (2, 4.303, 1.061), (3, 3.182, 0.978),"
    " (4, 2.776, 0.941), (5, 2.571, 0.920), (6, 2.447, 0.906), (7, 2.365, 0.896), (8, 2.306, 0.889),"
    " (9, 2.262, 0.883), (10, 2.228, 0.879), (11, 2.201, 0.876), (12, 2.179, 0.873), (13, 2.160, 0.870),"
    " (14, 2.145, 0.868), (15, 2.131, 0.866), (16, 2.120, 0.865), (17, 2.110, 0.863), (18, 2.101, 0.862),"
    " (19, 2.093, 0.861), (20, 2.086, 0.860), (25, 2.060, 0.856), (30, 2.042, 0.854), (40, 2.021, 0.851),"
    " (60, 2.000, 0.848), (120, 1.980, 0.845), (1000000000, 1.960, 0.842);";

/* columns added after the first release, for files made before them */
static const char *const RESULTS_ADDED_COLUMNS[][2] = {
    {"runs", "comparable TEXT"}, /* the config a comparison may pair on (set by the harness) */
    {"runs", "label TEXT"},      /* a short name of the variant, e.g. mhmoe-8h4-params */
    {"runs", "pid INTEGER"},     /* the process running it, on host: a 'running' row whose process */
    {"runs", "heartbeat TEXT"},  /* is gone (or, elsewhere, silent for 30 minutes) lists as dead */
    {"plan_rows", "size_steps TEXT"}, /* the point a row compares at (schema 9) */
};

static const char *const RESULTS_VIEW_NAMES[] = {
    "final_metrics", "table1", "activation_share", "activation_ratio", "activation_entropy", "downstream",
    "experts_per_token", "run_groups", "seed_runs", "run_finals", "group_stats", "curve_stats", "comparable_runs", "run_pairs",
    "paired_scores", "verdicts"};

/* SQL: the value of key k (an SQL expression) in the stored configuration j, or its default
 * when j leaves it out (key_defaults) */
#define KEY_VALUE(j, k) "coalesce(json_extract(" j ", '$.' || " k "), (SELECT value FROM key_defaults WHERE key = " k "))"

static const char *RESULTS_VIEWS =
    /* the value of each (run, split, metric) at the run's last step that logged it */
    "CREATE VIEW final_metrics AS"
    " SELECT r.id AS run_id, r.name, r.task, r.model, r.experts, r.seed, r.status,"
    "        m.split, m.name AS metric, m.value, m.step"
    " FROM metrics m JOIN runs r ON r.id = m.run_id"
    " WHERE m.step = (SELECT max(m2.step) FROM metrics m2 WHERE m2.run_id = m.run_id"
    "                 AND m2.split = m.split AND m2.name = m.name);"
    /* each run's group: its configuration without the seed and the bookkeeping (the harness
     * stores it as `comparable`; older rows fall back on the config without seed and name) */
    "CREATE VIEW run_groups AS"
    " SELECT r.id AS run_id, r.task, r.model, r.experts, r.heads, r.seed, r.status,"
    "        coalesce(r.label, r.model || CASE WHEN r.experts > 0 THEN '-' || r.experts ELSE '' END"
    "                 || CASE WHEN r.heads > 0 THEN 'h' || r.heads ELSE '' END) AS label,"
    "        coalesce(r.comparable, json_remove(r.config, '$.seed', '$.name')) AS group_key"
    /* a row whose stored text is not JSON (steps=+3 was stored as written before schema 6)
     * is left out here, not allowed to fail every query above it; results_invalid_runs names it */
    " FROM runs r WHERE json_valid(r.config) AND (r.comparable IS NULL OR json_valid(r.comparable));"
    /* every final number of a run under one name: SPLIT/METRIC from the metrics, BENCHMARK/METRIC
     * from the evals */
    "CREATE VIEW run_finals AS"
    " SELECT run_id, split || '/' || metric AS metric, metric AS base, value FROM final_metrics"
    " UNION SELECT run_id, benchmark || '/' || metric, metric, value FROM evals;"
    /* each group's finished runs, one per seed: the latest (a seed run again -- by a sweep with
     * other watch keys, or force=1 -- is one sample, not two; the verdicts pair the same way) */
    "CREATE VIEW seed_runs AS"
    " SELECT * FROM (SELECT g.*, row_number() OVER (PARTITION BY g.task, g.model, g.experts, g.heads, g.group_key, g.seed"
    "                ORDER BY g.run_id DESC) AS nth FROM run_groups g WHERE g.status = 'done') WHERE nth = 1;"
    /* mean, sample standard deviation, 95% interval (Student t) and n of every final number
     * over the seeds of each group of finished runs */
    "CREATE VIEW group_stats AS"
    " SELECT s.*, t.t975 * s.sd / sqrt(s.n) AS ci95"
    " FROM (SELECT g.task, g.label, g.model, g.experts, g.heads, g.group_key, f.metric, count(*) AS n,"
    "              avg(f.value) AS mean,"
    "              CASE WHEN count(*) > 1 THEN sqrt(max(sum(f.value * f.value) - count(*) * avg(f.value) * avg(f.value), 0)"
    "                   / (count(*) - 1)) END AS sd,"
    "              group_concat(g.run_id) AS runs"
    "       FROM run_finals f JOIN seed_runs g ON g.run_id = f.run_id"
    "       GROUP BY g.task, g.model, g.experts, g.heads, g.group_key, f.metric) s"
    " LEFT JOIN student_t t ON t.df = (SELECT max(df) FROM student_t WHERE df <= s.n - 1);"
    /* the same per logged step, for the curves of the figures */
    "CREATE VIEW curve_stats AS"
    " SELECT c.*, t.t975 * c.sd / sqrt(c.n) AS ci95"
    " FROM (SELECT g.task, g.label, g.model, g.experts, g.heads, g.group_key, m.split, m.name AS metric, m.step,"
    "              count(*) AS n, avg(m.value) AS mean,"
    "              CASE WHEN count(*) > 1 THEN sqrt(max(sum(m.value * m.value) - count(*) * avg(m.value) * avg(m.value), 0)"
    "                   / (count(*) - 1)) END AS sd"
    "       FROM metrics m JOIN seed_runs g ON g.run_id = m.run_id"
    "       GROUP BY g.task, g.model, g.experts, g.heads, g.group_key, m.split, m.name, m.step) c"
    " LEFT JOIN student_t t ON t.df = (SELECT max(df) FROM student_t WHERE df <= c.n - 1);"
    /* paper Table 1: validation perplexity per group of finished runs (the full configuration
     * but the seed), with the share of expert assignments dropped in training */
    "CREATE VIEW table1 AS"
    " SELECT s.task, s.label, s.model, s.experts, s.heads,"
    "        json_extract(s.group_key, '$.parity') AS parity, json_extract(s.group_key, '$.capacity') AS capacity,"
    "        json_extract(s.group_key, '$.d_model') AS d_model, json_extract(s.group_key, '$.steps') AS steps,"
    "        s.n, s.mean AS ppl_mean, s.ci95 AS ppl_ci95, s.sd AS ppl_sd,"
    "        (SELECT d.mean FROM group_stats d WHERE d.group_key = s.group_key AND d.model = s.model"
    "         AND d.experts = s.experts AND d.heads = s.heads AND d.task = s.task AND d.metric = 'train/dropped_frac')"
    "        AS dropped_frac, s.runs, s.group_key"
    " FROM group_stats s WHERE s.metric = 'valid/ppl'"
    " ORDER BY s.task, d_model, steps, s.experts, s.model, s.heads, parity, capacity;"
    /* paper Tables 2-4: downstream results per group of finished runs */
    "CREATE VIEW downstream AS"
    " SELECT g.task, g.label, g.model, g.experts, g.heads, e.benchmark, e.metric, s.n, s.mean, s.ci95, s.sd,"
    "        s.runs, g.group_key"
    " FROM evals e JOIN run_groups g ON g.run_id = e.run_id"
    " JOIN group_stats s ON s.group_key = g.group_key AND s.task = g.task AND s.model = g.model"
    "  AND s.experts = g.experts AND s.heads = g.heads AND s.metric = e.benchmark || '/' || e.metric"
    " WHERE g.status = 'done' GROUP BY g.task, g.model, g.experts, g.heads, g.group_key, e.benchmark, e.metric"
    " ORDER BY g.task, e.benchmark, e.metric, g.experts, g.model, g.heads;"
    /* the runs a comparison pairs: finished, with a comparable configuration, the latest of
     * each (configuration, seed) */
    "CREATE VIEW comparable_runs AS"
    " SELECT run_id, task, seed, label, comparable FROM (SELECT r.id AS run_id, r.task, r.seed,"
    "        coalesce(r.label, r.model) AS label, r.comparable,"
    "        row_number() OVER (PARTITION BY r.comparable, r.seed ORDER BY r.id DESC) AS nth"
    "   FROM runs r WHERE r.status = 'done' AND json_valid(r.comparable)) WHERE nth = 1;"
    /* two runs of one task and seed whose configurations differ in exactly one key, ordered by
     * that key's value. A key only one of them has counts when it has a default (key_defaults:
     * the run without it is at that default) and the other's value is not it; any other key
     * only one has (the MoE keys beside dense) does not count. Each run's keys are read out of
     * its JSON once (kv) and every candidate pair's differing keys found by joins on them: a
     * json_each per pair, evaluated again for every final number it was joined with, made a
     * compare on 221 runs take minutes. */
    "CREATE VIEW run_pairs AS"
    " WITH cr AS MATERIALIZED (SELECT * FROM comparable_runs),"
    " kv AS MATERIALIZED (SELECT c.run_id, j.key, j.atom FROM cr c, json_each(c.comparable) j),"
    " cand AS MATERIALIZED (SELECT a.run_id AS a_id, b.run_id AS b_id FROM cr a JOIN cr b"
    "   ON b.task = a.task AND b.seed IS a.seed AND b.comparable <> a.comparable),"
    " diff AS (SELECT c.a_id, c.b_id, ka.key AS k FROM cand c JOIN kv ka ON ka.run_id = c.a_id"
    "     LEFT JOIN kv kb ON kb.run_id = c.b_id AND kb.key = ka.key LEFT JOIN key_defaults d ON d.key = ka.key"
    "     WHERE CASE WHEN kb.key IS NOT NULL THEN ka.atom IS NOT kb.atom ELSE d.key IS NOT NULL AND ka.atom IS NOT d.value END"
    "   UNION ALL SELECT c.a_id, c.b_id, kb.key FROM cand c JOIN kv kb ON kb.run_id = c.b_id JOIN key_defaults d ON d.key = kb.key"
    "     WHERE kb.atom IS NOT d.value AND NOT EXISTS (SELECT 1 FROM kv ka WHERE ka.run_id = c.a_id AND ka.key = kb.key)),"
    " one AS (SELECT a_id, b_id, min(k) AS by_key FROM diff GROUP BY a_id, b_id HAVING count(*) = 1)"
    " SELECT a.task, a.seed, a.run_id AS a_id, b.run_id AS b_id, a.label AS a_label, b.label AS b_label,"
    "        a.comparable AS a_key, b.comparable AS b_key, o.by_key"
    " FROM one o JOIN cr a ON a.run_id = o.a_id JOIN cr b ON b.run_id = o.b_id"
    " WHERE " KEY_VALUE("a.comparable", "o.by_key") " < " KEY_VALUE("b.comparable", "o.by_key") ";"
    /* each pair's final numbers side by side, for the held-out metrics with a direction (the
     * last training batch's loss is one batch: not a result); the pairs and the final numbers
     * are made once, then joined */
    "CREATE VIEW paired_scores AS"
    " WITH p AS MATERIALIZED (SELECT * FROM run_pairs),"
    " f AS MATERIALIZED (SELECT * FROM run_finals WHERE metric NOT LIKE 'train/%')"
    " SELECT p.task, fa.metric, d.direction, p.by_key, " KEY_VALUE("p.a_key", "p.by_key") " AS a,"
    "        " KEY_VALUE("p.b_key", "p.by_key") " AS b, p.a_label, p.b_label, p.a_key, p.b_key, p.seed,"
    "        p.a_id, p.b_id, fa.value AS value_a, fb.value AS value_b"
    " FROM p JOIN f fa ON fa.run_id = p.a_id"
    " JOIN f fb ON fb.run_id = p.b_id AND fb.metric = fa.metric"
    " JOIN metric_direction d ON d.name = CASE WHEN instr(fa.base, '/') THEN substr(fa.base, 1, instr(fa.base, '/') - 1)"
    "                                    ELSE fa.base END;"
    /* the answer to 'is b better than a?': over the seeds both were run with, the mean paired
     * difference b - a, its 95% interval (Student t, sample standard deviation), the smallest
     * difference these seeds would detect with 80% power at this spread, and a verdict that
     * claims an ordering only when the interval excludes 0 */
    "CREATE VIEW verdicts AS"
    " SELECT v.task, v.metric, v.by_key, v.a, v.b, v.a_label, v.b_label, v.n, v.mean_a, v.mean_b, v.diff,"
    "        v.diff - v.half AS ci_low, v.diff + v.half AS ci_high, v.min_detectable,"
    "        CASE WHEN v.half IS NULL OR (v.diff - v.half <= 0 AND v.diff + v.half >= 0) THEN 'no difference detected'"
    "             WHEN (v.diff > 0) = (v.direction > 0) THEN 'b better' ELSE 'a better' END AS verdict,"
    "        v.direction, v.sd AS sd_diff, v.a_runs, v.b_runs, v.a_key, v.b_key"
    " FROM (SELECT w.*, t.t975 * w.sd / sqrt(w.n) AS half, (t.t975 + t.t80) * w.sd / sqrt(w.n) AS min_detectable"
    "       FROM (SELECT task, metric, by_key, a, b, a_label, b_label, direction, a_key, b_key, count(*) AS n,"
    "                    avg(value_a) AS mean_a, avg(value_b) AS mean_b, avg(value_b - value_a) AS diff,"
    "                    CASE WHEN count(*) > 1 THEN sqrt(max(sum((value_b - value_a) * (value_b - value_a))"
    "                         - count(*) * avg(value_b - value_a) * avg(value_b - value_a), 0) / (count(*) - 1)) END AS sd,"
    "                    group_concat(a_id) AS a_runs, group_concat(b_id) AS b_runs"
    "             FROM paired_scores GROUP BY task, metric, by_key, a_key, b_key) w"
    "       LEFT JOIN student_t t ON t.df = (SELECT max(df) FROM student_t WHERE df <= w.n - 1)) v"
    " ORDER BY v.task, v.by_key, v.metric, v.a_label, v.b_label;"
    /* each expert's load share per layer (heads summed), and its selections per token: a head's
     * total is tokens x k, so tokens = max(total) / k */
    "CREATE VIEW activation_share AS"
    " SELECT a.run_id, a.step, a.split, a.layer, a.expert, sum(a.count) AS count, sum(a.total) AS total,"
    "        CAST(sum(a.count) AS REAL) / sum(a.total) AS share, r.experts,"
    "        CAST(sum(a.count) AS REAL) * max(r.topk, 1) / max(max(a.total), 1) AS per_token"
    " FROM activations a JOIN runs r ON r.id = a.run_id"
    " GROUP BY a.run_id, a.step, a.split, a.layer, a.expert;"
    /* Fig. 1a, two definitions; an expert with no selection in the window is never active.
     * ratio: the share of (layer, expert) cells whose load share is at least t / N (the
     * harness: relative to an even load, the same bar for every variant); ratio_paper: the
     * share whose selections per token exceed the paper's threshold (sub-token selections
     * counted against tokens: h times X-MoE's for an even MH-MoE load) */
    "CREATE VIEW activation_ratio AS"
    " SELECT run_id, step, split,"
    "        avg(count > 0 AND share >= (SELECT value FROM settings WHERE name = 'activation_threshold') / experts) AS ratio,"
    "        avg(count > 0 AND per_token > (SELECT value FROM settings WHERE name = 'paper_activation_threshold')) AS ratio_paper,"
    "        count(*) AS cells"
    " FROM activation_share GROUP BY run_id, step, split;"
    /* normalised entropy of each layer's load: 1 = perfectly even, 0 = one expert */
    "CREATE VIEW activation_entropy AS"
    " SELECT run_id, step, split, layer,"
    "        -sum(CASE WHEN share > 0 THEN share * ln(share) ELSE 0 END) / ln(max(experts, 2)) AS entropy"
    " FROM activation_share GROUP BY run_id, step, split, layer;"
    /* distinct experts a token reaches over its sub-tokens and top-k choices: it needs each
     * token's choices, so the model measures it per pass and it is read from the metrics */
    "CREATE VIEW experts_per_token AS"
    " SELECT run_id, step, split, value AS experts_per_token FROM metrics WHERE name = 'experts_per_token';";
