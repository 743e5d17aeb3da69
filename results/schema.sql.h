/* The schema, views included. Derived figures live in views so that the C side only ever
 * stores raw counts and values. */
static const char *RESULTS_SCHEMA =
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
    "CREATE TABLE IF NOT EXISTS checkpoints ("
    " run_id INTEGER NOT NULL REFERENCES runs(id), step INTEGER NOT NULL, path TEXT NOT NULL,"
    " sha256 TEXT);"
    /* the value of each (run, split, metric) at the run's last step that logged it */
    "CREATE VIEW IF NOT EXISTS final_metrics AS"
    " SELECT r.id AS run_id, r.name, r.task, r.model, r.experts, r.seed, r.status,"
    "        m.split, m.name AS metric, m.value, m.step"
    " FROM metrics m JOIN runs r ON r.id = m.run_id"
    " WHERE m.step = (SELECT max(m2.step) FROM metrics m2 WHERE m2.run_id = m.run_id"
    "                 AND m2.split = m.split AND m2.name = m.name);"
    /* paper Table 1: validation perplexity by task x model x experts (x MH-MoE heads) over
     * finished runs: mean and standard deviation over seeds */
    "CREATE VIEW IF NOT EXISTS table1 AS"
    " SELECT f.task, f.model, f.experts, r.heads, count(*) AS runs, avg(f.value) AS ppl_mean,"
    "        sqrt(max(avg(f.value * f.value) - avg(f.value) * avg(f.value), 0)) AS ppl_std"
    " FROM final_metrics f JOIN runs r ON r.id = f.run_id"
    " WHERE f.split = 'valid' AND f.metric = 'ppl' AND f.status = 'done'"
    " GROUP BY f.task, f.model, f.experts, r.heads ORDER BY f.task, f.experts, f.model, r.heads;"
    /* settings of the derived figures; activation_threshold is the t of the paper's Fig. 1a:
     * an expert counts as activated when its load share is at least t / N */
    "CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value REAL);"
    "INSERT OR IGNORE INTO settings VALUES ('activation_threshold', 0.25);"
    /* each expert's load share per layer (heads summed) */
    "CREATE VIEW IF NOT EXISTS activation_share AS"
    " SELECT a.run_id, a.step, a.split, a.layer, a.expert, sum(a.count) AS count, sum(a.total) AS total,"
    "        CAST(sum(a.count) AS REAL) / sum(a.total) AS share, r.experts"
    " FROM activations a JOIN runs r ON r.id = a.run_id"
    " GROUP BY a.run_id, a.step, a.split, a.layer, a.expert;"
    /* Fig. 1a: the share of (layer, expert) cells whose load share is at least t / N */
    "CREATE VIEW IF NOT EXISTS activation_ratio AS"
    " SELECT run_id, step, split, avg(share >= (SELECT value FROM settings"
    "        WHERE name = 'activation_threshold') / experts) AS ratio, count(*) AS cells"
    " FROM activation_share GROUP BY run_id, step, split;"
    /* normalised entropy of each layer's load: 1 = perfectly even, 0 = one expert */
    "CREATE VIEW IF NOT EXISTS activation_entropy AS"
    " SELECT run_id, step, split, layer,"
    "        -sum(CASE WHEN share > 0 THEN share * ln(share) ELSE 0 END) / ln(max(experts, 2)) AS entropy"
    " FROM activation_share GROUP BY run_id, step, split, layer;"
    /* paper Tables 2-4: downstream results by task x model x experts (x heads) x benchmark,
     * mean and standard deviation over seeds of finished runs */
    "CREATE VIEW IF NOT EXISTS downstream AS"
    " SELECT r.task, r.model, r.experts, r.heads, e.benchmark, e.metric, count(*) AS runs,"
    "        avg(e.value) AS mean, sqrt(max(avg(e.value * e.value) - avg(e.value) * avg(e.value), 0)) AS std"
    " FROM evals e JOIN runs r ON r.id = e.run_id WHERE r.status = 'done'"
    " GROUP BY r.task, r.model, r.experts, r.heads, e.benchmark, e.metric"
    " ORDER BY r.task, e.benchmark, e.metric, r.experts, r.model, r.heads;"
    /* distinct experts a token reaches over its sub-tokens and top-k choices: it needs each
     * token's choices, so the model measures it per pass and it is read from the metrics */
    "CREATE VIEW IF NOT EXISTS experts_per_token AS"
    " SELECT run_id, step, split, value AS experts_per_token FROM metrics WHERE name = 'experts_per_token';";
