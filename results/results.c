#include "results.h"
#include "stats.h"
#include "schema.sql.h"
#include "results_db.h"
#include "util/atomic_file.h"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


const char *results_error(ResultsDb *db) { return sqlite3_errmsg(db->db); }

static int exec(ResultsDb *db, const char *sql) {
    char *msg = NULL;
    int rc = sqlite3_exec(db->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) fprintf(stderr, "results.db: %s\n", msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return rc == SQLITE_OK ? 0 : -1;
}

static int user_version(ResultsDb *db) {
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(db->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int has_column(ResultsDb *db, const char *table, const char *column) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pragma_table_info('%s') WHERE name = ?", table);
    sqlite3_stmt *st;
    int found = 0;
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK) return 0;
    sqlite3_bind_text(st, 1, column, (int)strcspn(column, " "), SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) found = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return found;
}

/* A file older than RESULTS_SCHEMA_VERSION gets the added columns and this version's views,
 * in one transaction (two processes opening it at once: the second finds it done) */
static int upgrade_views(ResultsDb *db, char **msg) {
    if (user_version(db) == RESULTS_SCHEMA_VERSION) return 0;
    if (sqlite3_exec(db->db, "BEGIN IMMEDIATE", NULL, NULL, msg) != SQLITE_OK) return -1;
    int rc = SQLITE_OK;
    if (user_version(db) != RESULTS_SCHEMA_VERSION) {
        char sql[256];
        for (size_t i = 0; rc == SQLITE_OK && i < sizeof RESULTS_ADDED_COLUMNS / sizeof RESULTS_ADDED_COLUMNS[0]; i++) {
            if (has_column(db, RESULTS_ADDED_COLUMNS[i][0], RESULTS_ADDED_COLUMNS[i][1])) continue;
            snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s", RESULTS_ADDED_COLUMNS[i][0], RESULTS_ADDED_COLUMNS[i][1]);
            rc = sqlite3_exec(db->db, sql, NULL, NULL, msg);
        }
        for (size_t i = 0; rc == SQLITE_OK && i < sizeof RESULTS_VIEW_NAMES / sizeof RESULTS_VIEW_NAMES[0]; i++) {
            snprintf(sql, sizeof sql, "DROP VIEW IF EXISTS %s", RESULTS_VIEW_NAMES[i]);
            rc = sqlite3_exec(db->db, sql, NULL, NULL, msg);
        }
        if (rc == SQLITE_OK) rc = sqlite3_exec(db->db, RESULTS_VIEWS, NULL, NULL, msg);
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", RESULTS_SCHEMA_VERSION);
        if (rc == SQLITE_OK) rc = sqlite3_exec(db->db, sql, NULL, NULL, msg);
    }
    if (rc != SQLITE_OK) { sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL); return -1; }
    return sqlite3_exec(db->db, "COMMIT", NULL, NULL, msg) == SQLITE_OK ? 0 : -1;
}

/* SQL run_state(status, host, pid, heartbeat): 'dead' for a 'running' row whose process is
 * gone -- on this host, its pid no longer exists; elsewhere, no heartbeat for 30 minutes --
 * else status. A row without pid or heartbeat (written before schema 5) stays as stored. */
#define DEAD_AFTER_SILENT_S 1800
static void sql_run_state(sqlite3_context *ctx, int argc, sqlite3_value **v) {
    const char *status = (const char *)sqlite3_value_text(v[0]), *host = (const char *)sqlite3_value_text(v[1]);
    const char *heartbeat = (const char *)sqlite3_value_text(v[3]);
    if (!status || strcmp(status, "running")) { sqlite3_result_value(ctx, v[0]); return; }
    char me[256] = "";
    gethostname(me, sizeof me - 1);
    int dead = 0;
    struct tm beat = {0};
    double seconds;
    if (host && !strcmp(host, me) && sqlite3_value_type(v[2]) == SQLITE_INTEGER) {
        pid_t pid = (pid_t)sqlite3_value_int64(v[2]);
        dead = pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH);
    } else if (heartbeat && sscanf(heartbeat, "%d-%d-%dT%d:%d:%lf", &beat.tm_year, &beat.tm_mon, &beat.tm_mday,
                                   &beat.tm_hour, &beat.tm_min, &seconds) == 6) {
        /* the heartbeat is UTC, as strftime('%Y-%m-%dT%H:%M:%fZ', 'now') wrote it */
        beat.tm_year -= 1900;
        beat.tm_mon -= 1;
        beat.tm_sec = (int)seconds;
        dead = difftime(time(NULL), timegm(&beat)) > DEAD_AFTER_SILENT_S;
    }
    sqlite3_result_text(ctx, dead ? "dead" : status, -1, SQLITE_TRANSIENT);
}

/* student_p(t, df): the two-sided p-value of a t statistic (results/stats.h); NULL for a NULL
 * argument or df < 1 */
static void sql_student_p(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL ||
        sqlite3_value_double(argv[1]) < 1) {
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_result_double(ctx, student_t_p(sqlite3_value_double(argv[0]), sqlite3_value_double(argv[1])));
}

/* 1 if the file holds a runs table, 0 if it holds no table at all, -1 if it holds other
 * tables (another program's SQLite file) or cannot be read */
static int holds_results(ResultsDb *db) {
    sqlite3_stmt *st;
    int tables = -1, runs = 0;
    if (sqlite3_prepare_v2(db->db, "SELECT count(*), count(*) FILTER (WHERE name = 'runs') FROM sqlite_master"
                           " WHERE type = 'table'", -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) { tables = sqlite3_column_int(st, 0); runs = sqlite3_column_int(st, 1); }
    sqlite3_finalize(st);
    return tables < 0 ? -1 : runs ? 1 : tables == 0 ? 0 : -1;
}

static const char *key_defaults_json; /* results_set_key_defaults */

void results_set_key_defaults(const char *json) { key_defaults_json = json; }

/* the key defaults into table (key_defaults, or a TEMP one), replacing a key's older row; the
 * rows of keys this build does not know stay. 0, or -1 with msg */
static int store_key_defaults(ResultsDb *db, const char *table, char **msg) {
    if (!key_defaults_json) return 0;
    char sql[256];
    sqlite3_stmt *st;
    /* written only when a default is new or changed: an open that changes nothing writes nothing
     * (every writing open used to commit the same rows again) */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM json_each(?) j WHERE NOT EXISTS (SELECT 1 FROM %s k"
             " WHERE k.key = j.key AND k.value IS j.value)", table);
    int rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL), changed = 1;
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, key_defaults_json, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) changed = sqlite3_column_int(st, 0) > 0;
        sqlite3_finalize(st);
    }
    if (!changed) return 0;
    snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO %s (key, value) SELECT key, value FROM json_each(?)", table);
    rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, key_defaults_json, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_finalize(st);
    }
    if (rc != SQLITE_OK) *msg = sqlite3_mprintf("key defaults: %s", sqlite3_errmsg(db->db));
    return rc == SQLITE_OK ? 0 : -1;
}

/* the connection, its busy wait and SQL functions; NULL with err */
static ResultsDb *connect(const char *path, int flags, char *err, size_t errlen) {
    ResultsDb *db = calloc(1, sizeof *db);
    if (!db) { snprintf(err, errlen, "%s: out of memory", path); return NULL; }
    if (sqlite3_open_v2(path, &db->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open: %s", path, sqlite3_errmsg(db->db));
        sqlite3_close(db->db);
        free(db);
        return NULL;
    }
    /* a sweep and a plot may touch the file at once: wait for a lock instead of failing */
    sqlite3_busy_timeout(db->db, 10000);
    sqlite3_create_function(db->db, "run_state", 4, SQLITE_UTF8, NULL, sql_run_state, NULL, NULL);
    sqlite3_create_function(db->db, "student_p", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_student_p, NULL, NULL);
    /* Holm-adjusted verdicts, a family being one key's comparisons on one metric at one size
     * and step count: a TEMP view of the harness's connections (harness query, plot), since it
     * needs student_p; plain sqlite3 has the verdicts view without it */
    if (sqlite3_exec(db->db, "CREATE TEMP VIEW verdicts_holm AS WITH family AS (SELECT v.*, json_extract(a_key, '$.size') AS size,"
                     " json_extract(a_key, '$.steps') AS steps, " RESULTS_PAIRED_P " AS p FROM verdicts v),"
                     RESULTS_HOLM_CTES("PARTITION BY task, metric, by_key, size, steps")
                     " SELECT task, metric, by_key, size, steps, a, b, a_label, b_label, n, mean_a, mean_b, diff, ci_low,"
                     " ci_high, min_detectable, verdict, p, m AS family, p_holm, " RESULTS_VERDICT_HOLM " AS verdict_holm,"
                     " a_runs, b_runs, a_key, b_key FROM adjusted ORDER BY task, by_key, metric, size, steps, a_label, b_label",
                     NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot make the verdicts_holm view: %s", path, sqlite3_errmsg(db->db));
        sqlite3_close(db->db);
        free(db);
        return NULL;
    }
    return db;
}

ResultsDb *results_open(const char *path, char *err, size_t errlen) {
    if (file_check_regular(path, err, errlen)) return NULL;
    ResultsDb *db = connect(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err, errlen);
    if (!db) return NULL;
    int holds = holds_results(db), version = user_version(db);
    if (holds < 0) {
        snprintf(err, errlen, "%s: not a results database (an SQLite file with other tables, or unreadable: %s); "
                 "nothing was written to it", path, sqlite3_errmsg(db->db));
        goto fail;
    }
    if (version > RESULTS_SCHEMA_VERSION) {
        snprintf(err, errlen, "%s: written by a newer harness (schema %d, this build knows %d): not written to; "
                 "the read commands (list, show, query, compare, plot) still read it", path, version, RESULTS_SCHEMA_VERSION);
        goto fail;
    }
    char *msg = NULL;
    if (sqlite3_exec(db->db, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db->db, RESULTS_TABLES, NULL, NULL, &msg) != SQLITE_OK || upgrade_views(db, &msg) ||
        store_key_defaults(db, "key_defaults", &msg)) {
        snprintf(err, errlen, "%s: not a usable results database: %s", path, msg ? msg : sqlite3_errmsg(db->db));
        sqlite3_free(msg);
        goto fail;
    }
    return db;
fail:
    sqlite3_close(db->db);
    free(db);
    return NULL;
}

/* this build's views as TEMP views of the connection; 0 or -1 */
static int temp_views(ResultsDb *db) {
    static const char WORD[] = "CREATE VIEW ";
    size_t n = strlen(RESULTS_VIEWS), words = 0;
    for (const char *p = RESULTS_VIEWS; (p = strstr(p, WORD)); p += sizeof WORD - 1) words++;
    char *sql = malloc(n + words * 5 + 1), *o = sql;
    if (!sql) return -1;
    for (const char *p = RESULTS_VIEWS; *p;) {
        if (!strncmp(p, WORD, sizeof WORD - 1)) {
            o += sprintf(o, "CREATE TEMP VIEW ");
            p += sizeof WORD - 1;
        } else *o++ = *p++;
    }
    *o = 0;
    int rc = sqlite3_exec(db->db, sql, NULL, NULL, NULL);
    free(sql);
    return rc == SQLITE_OK ? 0 : -1;
}

ResultsDb *results_open_read(const char *path, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: no such file (harness run creates it)", path);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) { snprintf(err, errlen, "%s: expected a results database file", path); return NULL; }
    /* read-only: no journal, no schema, no WAL switch; a writer's lock does not block it */
    ResultsDb *db = connect(path, SQLITE_OPEN_READONLY, err, errlen);
    if (!db) return NULL;
    int holds = holds_results(db), version = user_version(db);
    if (holds != 1) {
        snprintf(err, errlen, "%s: not a results database (%s)", path,
                 holds == 0 ? "it holds no table" : "it holds no runs table");
        results_close(db);
        return NULL;
    }
    /* an older file keeps its old views: this build's are made for this connection only (TEMP
     * views are found before the file's), and the file stays as it is */
    /* (before schema 7 there was no key_defaults table: this build's defaults in a TEMP one) */
    char *msg = NULL;
    if (version < RESULTS_SCHEMA_VERSION &&
        (sqlite3_exec(db->db, "CREATE TEMP TABLE IF NOT EXISTS key_defaults (key TEXT PRIMARY KEY, value)", NULL, NULL, &msg) ||
         store_key_defaults(db, "temp.key_defaults", &msg) || temp_views(db))) {
        sqlite3_free(msg);
        snprintf(err, errlen, "%s: results schema %d, older than this build's %d, and it cannot be read without an "
                 "upgrade (%s); any writing command (harness run, merge) upgrades it in place", path, version,
                 RESULTS_SCHEMA_VERSION, sqlite3_errmsg(db->db));
        results_close(db);
        return NULL;
    }
    char *bad = NULL;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db->db, "SELECT group_concat(id, ', ') FROM runs WHERE NOT json_valid(config)"
                           " OR (comparable IS NOT NULL AND NOT json_valid(comparable))", -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0)) bad = strdup((const char *)sqlite3_column_text(q, 0));
        sqlite3_finalize(q);
    }
    if (bad) fprintf(stderr, "note: db=%s: run(s) %s hold a stored configuration that is not JSON (written before "
                     "numbers were checked strictly); they are left out of groups and comparisons\n", path, bad);
    free(bad);
    return db;
}

void results_close(ResultsDb *db) {
    if (!db) return;
    sqlite3_close(db->db);
    free(db);
}

int64_t results_run_begin(ResultsDb *db, const RunInfo *r) {
    sqlite3_stmt *st;
    const char *sql =
        "INSERT INTO runs(name, task, model, experts, topk, heads, seed, config, params,"
        " flops_per_token, status, started_at, host, git_rev, comparable, label)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,'running',strftime('%Y-%m-%dT%H:%M:%fZ','now'),?,?,?,?)";
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_text(st, 1, r->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, r->task, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, r->model, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, r->experts);
    sqlite3_bind_int(st, 5, r->topk);
    sqlite3_bind_int(st, 6, r->heads);
    sqlite3_bind_int64(st, 7, r->seed);
    sqlite3_bind_text(st, 8, r->config, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 9, r->params);
    sqlite3_bind_double(st, 10, r->flops_per_token);
    sqlite3_bind_text(st, 11, r->host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 12, r->git_rev, -1, SQLITE_TRANSIENT);
    if (r->comparable) sqlite3_bind_text(st, 13, r->comparable, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, 13);
    if (r->label) sqlite3_bind_text(st, 14, r->label, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, 14);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? sqlite3_last_insert_rowid(db->db) : -1;
}

int results_run_finish(ResultsDb *db, int64_t run, const char *status, const char *error, double wall_s) {
    sqlite3_stmt *st;
    const char *sql = "UPDATE runs SET status=?, error=?, wall_s=?,"
                      " finished_at=strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id=?";
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_TRANSIENT);
    if (error) sqlite3_bind_text(st, 2, error, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, 2);
    sqlite3_bind_double(st, 3, wall_s);
    sqlite3_bind_int64(st, 4, run);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int results_metrics(ResultsDb *db, int64_t run, long step, const MetricValue *v, int n) {
    sqlite3_stmt *st;
    if (exec(db, "BEGIN IMMEDIATE")) return -1;
    if (sqlite3_prepare_v2(db->db, "INSERT INTO metrics(run_id, step, split, name, value) VALUES (?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK) { exec(db, "ROLLBACK"); return -1; }
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_int64(st, 2, step);
        sqlite3_bind_text(st, 3, v[i].split, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, v[i].name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 5, v[i].value);
        ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (!ok) { exec(db, "ROLLBACK"); return -1; }
    return exec(db, "COMMIT");
}

int results_activations(ResultsDb *db, int64_t run, long step, const char *split, const ActivationCount *rows, int n) {
    sqlite3_stmt *st;
    if (exec(db, "BEGIN IMMEDIATE")) return -1;
    if (sqlite3_prepare_v2(db->db, "INSERT INTO activations(run_id, step, split, layer, head, expert, count, total)"
                           " VALUES (?,?,?,?,?,?,?,?)", -1, &st, NULL) != SQLITE_OK) { exec(db, "ROLLBACK"); return -1; }
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_int64(st, 2, step);
        sqlite3_bind_text(st, 3, split, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 4, rows[i].layer);
        sqlite3_bind_int(st, 5, rows[i].head);
        sqlite3_bind_int(st, 6, rows[i].expert);
        sqlite3_bind_int64(st, 7, rows[i].count);
        sqlite3_bind_int64(st, 8, rows[i].total);
        ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (!ok) { exec(db, "ROLLBACK"); return -1; }
    return exec(db, "COMMIT");
}

int results_eval(ResultsDb *db, int64_t run, const char *benchmark, const char *metric, double value) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "INSERT INTO evals(run_id, benchmark, metric, value) VALUES (?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_text(st, 2, benchmark, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, metric, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 4, value);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int64_t results_plan_store(ResultsDb *db, const PlanHead *head, const PlanRow *rows, int n) {
    sqlite3_stmt *st;
    if (exec(db, "BEGIN IMMEDIATE")) return -1;
    if (sqlite3_prepare_v2(db->db, "INSERT INTO plans(made_at, by_key, selection, target, power, family)"
                           " VALUES (strftime('%Y-%m-%dT%H:%M:%SZ','now'),?,?,?,?,?)", -1, &st, NULL) != SQLITE_OK) {
        exec(db, "ROLLBACK");
        return -1;
    }
    sqlite3_bind_text(st, 1, head->by_key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, head->selection, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 3, head->target);
    sqlite3_bind_double(st, 4, head->power);
    sqlite3_bind_int(st, 5, head->family);
    int ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    int64_t id = sqlite3_last_insert_rowid(db->db);
    if (ok && sqlite3_prepare_v2(db->db, "INSERT INTO plan_rows(plan_id, task, metric, a, b, pilot_n, sd_diff, seeds_needed,"
                                 " core_hours, size_steps) VALUES (?,?,?,?,?,?,?,?,?,?)", -1, &st, NULL) == SQLITE_OK) {
        for (int i = 0; i < n && ok; i++) {
            const PlanRow *r = &rows[i];
            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_text(st, 2, r->task, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 3, r->metric, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 4, r->a, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 5, r->b, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 10, r->size_steps, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(st, 6, r->pilot_n);
            if (r->pilot_n > 1) sqlite3_bind_double(st, 7, r->sd_diff); else sqlite3_bind_null(st, 7);
            if (r->seeds_needed > 0) sqlite3_bind_int(st, 8, r->seeds_needed); else sqlite3_bind_null(st, 8);
            if (r->seeds_needed > 0) sqlite3_bind_double(st, 9, r->core_hours); else sqlite3_bind_null(st, 9);
            ok = sqlite3_step(st) == SQLITE_DONE;
            sqlite3_reset(st);
        }
        sqlite3_finalize(st);
    } else ok = 0;
    if (!ok) { exec(db, "ROLLBACK"); return -1; }
    return exec(db, "COMMIT") ? -1 : id;
}

int results_checkpoint(ResultsDb *db, int64_t run, long step, const char *path, const char *sha256) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "INSERT INTO checkpoints(run_id, step, path, sha256) VALUES (?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, step);
    sqlite3_bind_text(st, 3, path, -1, SQLITE_TRANSIENT);
    if (sha256) sqlite3_bind_text(st, 4, sha256, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, 4);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* a stored comparable configuration is the one in parameter P, both without their init */
#define SAME_COMPARABLE(P) "json_valid(comparable) AND json_remove(comparable, '$.init') = json_remove(" P ", '$.init')"

int64_t results_find_done_run(ResultsDb *db, long seed, const char *comparable, const char *config_json,
                              const char *const *keys, int nkeys) {
    char sql[8192];
    /* a key the sweep does not give is at its default in the run it would make: a stored run
     * with another value of it (parity=flops for a sweep without parity=) is another run */
    size_t used = snprintf(sql, sizeof sql,
                           "SELECT id FROM runs WHERE status = 'done' AND (?3 IS NULL OR comparable IS NULL OR ((?2 < 0 OR seed IS ?2) AND "
                           SAME_COMPARABLE("?3") "))");
    for (int i = 0; i < nkeys && used < sizeof sql; i++)
        used += snprintf(sql + used, sizeof sql - used,
                         " AND json_extract(CASE WHEN json_valid(config) THEN config END, '$.' || ?%d)"
                         " IS json_extract(?1, '$.' || ?%d)", i + 4, i + 4);
    snprintf(sql + used, sizeof sql - used, " ORDER BY id DESC LIMIT 1");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_text(st, 1, config_json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, seed);
    if (comparable) sqlite3_bind_text(st, 3, comparable, -1, SQLITE_TRANSIENT);
    for (int i = 0; i < nkeys; i++) sqlite3_bind_text(st, i + 4, keys[i], -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : rc == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return id;
}

int results_timed_runs(ResultsDb *db, const char *comparable, double *core_s) {
    static const char sql[] = "SELECT count(*), avg(" RESULTS_CORE_SECONDS("r") ") FROM runs r"
                              " WHERE status = 'done' AND wall_s > 0 AND " SAME_COMPARABLE("?1");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_text(st, 1, comparable, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st), n = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    *core_s = n > 0 ? sqlite3_column_double(st, 1) : 0;
    sqlite3_finalize(st);
    return n;
}

int results_planned_seeds(ResultsDb *db, int64_t run, int *seeds, int64_t *plan, char *label, size_t nlabel,
                          char *point, size_t npoint) {
    /* plan_rows name a configuration as compare shows it: task, label, and size and steps */
    static const char sql[] =
        "WITH c AS (SELECT task, label, json_extract(config, '$.size') || ' ' || json_extract(config, '$.steps') AS point"
        "  FROM runs WHERE id = ?1),"
        " rows AS (SELECT p.plan_id, p.seeds_needed FROM plan_rows p, c WHERE p.task = c.task AND p.size_steps = c.point"
        "  AND (p.a = c.label OR p.b = c.label))"
        " SELECT c.label, c.point, (SELECT max(plan_id) FROM rows),"
        "  (SELECT max(seeds_needed) FROM rows WHERE plan_id = (SELECT max(plan_id) FROM rows)) FROM c";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_int64(st, 1, run);
    int out = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(label, nlabel, "%s", sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
        snprintf(point, npoint, "%s", sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "");
        out = sqlite3_column_type(st, 2) == SQLITE_NULL;
        *plan = sqlite3_column_int64(st, 2);
        *seeds = sqlite3_column_int(st, 3);
    }
    sqlite3_finalize(st);
    return out;
}

int results_last_checkpoint(ResultsDb *db, int64_t run, char *path, size_t n, char sha256[65]) {
    sqlite3_stmt *st;
    int rc = -1;
    if (sqlite3_prepare_v2(db->db, "SELECT path, sha256 FROM checkpoints WHERE run_id=? ORDER BY step DESC, rowid DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_int64(st, 1, run);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
        snprintf(path, n, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(sha256, 65, "%s", sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "");
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

int results_checkpoint_recorded(ResultsDb *db, int64_t run, const char *sha256) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "SELECT count(*) FROM checkpoints WHERE run_id = ? AND sha256 = ?", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_text(st, 2, sha256, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) > 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

int64_t results_checkpoint_owner(ResultsDb *db, const char *path, long *step, char sha256[65]) {
    /* candidates share the file name; the same file is the same real path */
    char want[PATH_MAX], have[PATH_MAX];
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (!realpath(path, want)) return 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "SELECT run_id, step, sha256, path FROM checkpoints"
                           " WHERE path = ?1 OR path LIKE '%/' || ?1 ORDER BY step DESC, rowid DESC",
                           -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_text(st, 1, base, -1, SQLITE_TRANSIENT);
    int64_t run = 0;
    while (!run && sqlite3_step(st) == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_text(st, 3);
        if (!p || !realpath(p, have) || strcmp(have, want)) continue;
        run = sqlite3_column_int64(st, 0);
        *step = (long)sqlite3_column_int64(st, 1);
        snprintf(sha256, 65, "%s", sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2) : "");
    }
    sqlite3_finalize(st);
    return run;
}

int results_run_alive(ResultsDb *db, int64_t run, long pid, const char *host) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "UPDATE runs SET pid=?, host=?, heartbeat=strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id=?",
                           -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_int64(st, 1, pid);
    sqlite3_bind_text(st, 2, host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, run);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int results_run_reopen(ResultsDb *db, int64_t run, long step, long pid, const char *host) {
    static const char *const SQL[] = {
        /* and the step's own evaluation, which the resumed run does again (a signal may have
         * cut it short); at step 0 that is all of it (the data's description, the step-0
         * downstream scores) */
        "DELETE FROM metrics WHERE run_id = ?1 AND (step > ?2 OR (step = ?2 AND (?2 = 0 OR split <> 'train')))",
        "DELETE FROM activations WHERE run_id = ?1 AND (step > ?2 OR (step = ?2 AND (?2 = 0 OR split <> 'train')))",
        "DELETE FROM evals WHERE run_id = ?1 AND (?2 = 0 OR benchmark NOT LIKE '%\\_step0%' ESCAPE '\\')",
        /* rows of checkpoints after the one resumed (a crash between a row and its file's
         * rename leaves one whose file never took its name) */
        "DELETE FROM checkpoints WHERE run_id = ?1 AND step > ?2",
        "UPDATE runs SET status = 'running', error = NULL, finished_at = NULL WHERE id = ?1",
    };
    if (exec(db, "BEGIN IMMEDIATE")) return -1;
    int ok = 1;
    for (size_t i = 0; ok && i < sizeof SQL / sizeof SQL[0]; i++) {
        sqlite3_stmt *st;
        ok = sqlite3_prepare_v2(db->db, SQL[i], -1, &st, NULL) == SQLITE_OK;
        if (!ok) break;
        sqlite3_bind_int64(st, 1, run);
        if (sqlite3_bind_parameter_count(st) > 1) sqlite3_bind_int64(st, 2, step);
        ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_finalize(st);
    }
    if (!ok || results_run_alive(db, run, pid, host)) { exec(db, "ROLLBACK"); return -1; }
    return exec(db, "COMMIT");
}

int results_run_status(ResultsDb *db, int64_t run, char *status, size_t n, char **comparable) {
    sqlite3_stmt *st;
    int rc = -1;
    *comparable = NULL;
    if (sqlite3_prepare_v2(db->db, "SELECT run_state(status, host, pid, heartbeat),"
                           " comparable FROM runs WHERE id=?", -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_int64(st, 1, run);
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(status, n, "%s", (const char *)sqlite3_column_text(st, 0));
        if (sqlite3_column_text(st, 1)) *comparable = strdup((const char *)sqlite3_column_text(st, 1));
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

char *results_run_config(ResultsDb *db, int64_t run) {
    sqlite3_stmt *st;
    char *out = NULL;
    if (sqlite3_prepare_v2(db->db, "SELECT config FROM runs WHERE id=?", -1, &st, NULL) != SQLITE_OK) return NULL;
    sqlite3_bind_int64(st, 1, run);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        out = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

/* the statement of a user's or a figure's query, refused unless it only reads */
/* ATTACH and DETACH count as read-only to SQLite, yet ATTACH creates or writes another file */
static int deny_attach(void *ctx, int action, const char *a, const char *b, const char *c, const char *d) {
    (void)a; (void)b; (void)c; (void)d;
    if (action != SQLITE_ATTACH && action != SQLITE_DETACH) return SQLITE_OK;
    *(int *)ctx = 1;
    return SQLITE_DENY;
}

static sqlite3_stmt *prepare_readonly(ResultsDb *db, const char *sql, char *err, size_t errlen) {
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int attach = 0;
    sqlite3_set_authorizer(db->db, deny_attach, &attach);
    int rc = sqlite3_prepare_v2(db->db, sql, -1, &st, &tail);
    sqlite3_set_authorizer(db->db, NULL, NULL);
    if (rc != SQLITE_OK) {
        if (attach) snprintf(err, errlen, "ATTACH and DETACH are refused: a query reads this results database only");
        else snprintf(err, errlen, "%s", sqlite3_errmsg(db->db));
        return NULL;
    }
    if (!st) { snprintf(err, errlen, "the query is empty: expected one SQL statement"); return NULL; }
    while (tail && *tail && strchr(" \t\r\n;", *tail)) tail++;
    if (tail && *tail) {
        snprintf(err, errlen, "one statement at a time: the query goes on after its first statement at '%.40s'", tail);
        sqlite3_finalize(st);
        return NULL;
    }
    if (!sqlite3_stmt_readonly(st)) {
        snprintf(err, errlen, "only read-only statements are allowed here");
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

int results_query(ResultsDb *db, const char *sql, int (*row)(void *ctx, int ncol, const char *const *values),
                  void *ctx, char *err, size_t errlen) {
    sqlite3_stmt *st = prepare_readonly(db, sql, err, errlen);
    if (!st) return -1;
    int ncol = sqlite3_column_count(st), rc;
    const char *vals[64];
    if (ncol > 64) ncol = 64;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int c = 0; c < ncol; c++) {
            const char *t = (const char *)sqlite3_column_text(st, c);
            vals[c] = t ? t : "";
        }
        if (row(ctx, ncol, vals)) { rc = SQLITE_DONE; break; }
    }
    int ok = rc == SQLITE_DONE;
    if (!ok) snprintf(err, errlen, "%s", sqlite3_errmsg(db->db));
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}

static void print_csv_field(const char *s) {
    if (!strpbrk(s, ",\"\n")) { fputs(s, stdout); return; }
    putchar('"');
    for (; *s; s++) { if (*s == '"') putchar('"'); putchar(*s); }
    putchar('"');
}

#define QUERY_MAX_ROWS 4000000
#define QUERY_MAX_BYTES (512 << 20)
int results_print_query(ResultsDb *db, const char *sql, int csv, char *err, size_t errlen) {
    sqlite3_stmt *st = prepare_readonly(db, sql, err, errlen);
    if (!st) return -1;
    int ncol = sqlite3_column_count(st), nrow = 0, cap = 64, rc;
    size_t bytes = 0;
    char **cells = malloc(sizeof(char *) * cap * (ncol ? ncol : 1));
    /* rows are gathered first so the columns can be aligned to their widest cell; a query that
     * would not fit (a runaway recursive CTE) stops with a message instead of eating memory */
    while (cells && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (nrow + 1 >= cap) {
            char **grown = nrow < QUERY_MAX_ROWS ? realloc(cells, sizeof(char *) * cap * 2 * (ncol ? ncol : 1)) : NULL;
            if (!grown) {
                snprintf(err, errlen, "the result has more than %d rows or does not fit in memory: add a LIMIT", nrow);
                rc = SQLITE_NOMEM;
                break;
            }
            cells = grown;
            cap *= 2;
        }
        if (bytes > QUERY_MAX_BYTES) {
            snprintf(err, errlen, "the result passed %d MB at row %d: add a LIMIT", QUERY_MAX_BYTES >> 20, nrow);
            rc = SQLITE_NOMEM;
            break;
        }
        int short_row = 0; /* a strdup failed: the rest of the row stays NULL, the query stops */
        for (int c = 0; c < ncol; c++) {
            char buf[64];
            const char *text;
            if (sqlite3_column_type(st, c) == SQLITE_FLOAT) {
                snprintf(buf, sizeof buf, "%.6g", sqlite3_column_double(st, c));
                text = buf;
            } else {
                text = (const char *)sqlite3_column_text(st, c);
            }
            char *cell = short_row ? NULL : strdup(text ? text : "");
            if (cell) bytes += strlen(cell) + 1;
            else short_row = 1;
            cells[(size_t)nrow * ncol + c] = cell;
        }
        nrow++;
        if (short_row) {
            snprintf(err, errlen, "out of memory at row %d: add a LIMIT", nrow);
            rc = SQLITE_NOMEM;
            break;
        }
    }
    if (!cells) { snprintf(err, errlen, "out of memory"); sqlite3_finalize(st); return -1; }
    int ok = rc == SQLITE_DONE;
    if (!ok && rc != SQLITE_NOMEM) snprintf(err, errlen, "%s", sqlite3_errmsg(db->db));
    if (ok) {
        int *w = calloc(ncol ? ncol : 1, sizeof(int));
        for (int c = 0; c < ncol; c++) {
            w[c] = (int)strlen(sqlite3_column_name(st, c));
            for (int r = 0; r < nrow; r++) {
                int len = (int)strlen(cells[(size_t)r * ncol + c]);
                if (len > w[c]) w[c] = len;
            }
        }
        for (int r = -1; r < nrow; r++) {
            for (int c = 0; c < ncol; c++) {
                const char *s = r < 0 ? sqlite3_column_name(st, c) : cells[(size_t)r * ncol + c];
                if (csv) { if (c) putchar(','); print_csv_field(s); }
                else if (c + 1 < ncol) printf("%-*s  ", w[c], s);
                else fputs(s, stdout);
            }
            putchar('\n');
        }
        free(w);
    }
    for (size_t i = 0; i < (size_t)nrow * ncol; i++) free(cells[i]);
    free(cells);
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}
