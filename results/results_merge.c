/* harness merge: the runs of another results.db brought into this one. Every statement runs in
 * one transaction on this db with the other attached, so a merge lands whole or not at all. */
#include "results.h"
#include "results_db.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the tables whose rows belong to a run (by run_id) */
static const char *const RUN_TABLES[] = {"metrics", "activations", "evals", "checkpoints"};
#define N_RUN_TABLES ((int)(sizeof RUN_TABLES / sizeof RUN_TABLES[0]))

static int run_sql(sqlite3 *db, const char *sql, char *err, size_t errlen) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
    snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
}

/* the columns of table in both files but id, joined by ", " into buf */
static int shared_columns(sqlite3 *db, const char *table, char *buf, size_t n) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT m.name FROM pragma_table_info('%s', 'main') m JOIN pragma_table_info('%s', 'other') o"
             " ON o.name = m.name WHERE m.name != 'id' ORDER BY m.cid", table, table);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    size_t used = 0;
    buf[0] = 0;
    int rc = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int w = snprintf(buf + used, n - used, "%s%s", used ? ", " : "", (const char *)sqlite3_column_text(st, 0));
        if (w < 0 || (size_t)w >= n - used) { rc = -1; break; }
        used += (size_t)w;
    }
    sqlite3_finalize(st);
    return rc;
}

/* The SQL expression of a configuration column with the id keys removed (what identifies a run
 * across files: the remapped ids differ) */
static void config_without_ids(char *buf, size_t n, const char *column, const char *const *id_keys, int n_keys) {
    size_t used = (size_t)snprintf(buf, n, "json_remove(%s", column);
    for (int k = 0; k < n_keys && used < n; k++) used += snprintf(buf + used, n - used, ", '$.%s'", id_keys[k]);
    if (used < n) snprintf(buf + used, n - used, ")");
}

static int merge_runs(sqlite3 *db, const char *const *id_keys, int n_keys, MergeCount *count, char *err, size_t errlen) {
    char cols[2048], sql[8192], mine[1024], theirs[1024];
    if (shared_columns(db, "runs", cols, sizeof cols)) { snprintf(err, errlen, "cannot read the runs columns"); return -1; }
    config_without_ids(mine, sizeof mine, "r.config", id_keys, n_keys);
    config_without_ids(theirs, sizeof theirs, "o.config", id_keys, n_keys);
    /* copy: the run's rows come from the other file (0: this db's copy is kept; its id is mapped
     * for the references only) */
    if (run_sql(db, "CREATE TEMP TABLE merge_map (old INTEGER PRIMARY KEY, new INTEGER, copy INTEGER)", err, errlen)) return -1;
    /* a run merged before (same host, start and configuration) is replaced, under its id here */
    snprintf(sql, sizeof sql,
             "SELECT o.id, (SELECT r.id FROM main.runs r WHERE r.host IS o.host AND r.started_at = o.started_at"
             " AND %s = %s), o.status = 'running' FROM other.runs o ORDER BY o.id", mine, theirs);
    sqlite3_stmt *st, *ins_new, *ins_at, *map, *newer;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) { snprintf(err, errlen, "%s", sqlite3_errmsg(db)); return -1; }
    char ins[4400];
    snprintf(ins, sizeof ins, "INSERT INTO main.runs (%s) SELECT %s FROM other.runs WHERE id = ?1", cols, cols);
    int rc = sqlite3_prepare_v2(db, ins, -1, &ins_new, NULL);
    snprintf(ins, sizeof ins, "INSERT INTO main.runs (id, %s) SELECT ?2, %s FROM other.runs WHERE id = ?1", cols, cols);
    if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, ins, -1, &ins_at, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, "INSERT INTO merge_map VALUES (?1, ?2, ?3)", -1, &map, NULL);
    /* of two copies of one run, the other file's unless this db's is newer: finished where the
     * other is not, or as finished and further on (an equal copy is replaced, as before) */
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "SELECT NOT ((SELECT status = 'done' FROM main.runs WHERE id = ?2) >"
                                " (SELECT status = 'done' FROM other.runs WHERE id = ?1) OR"
                                " ((SELECT status = 'done' FROM other.runs WHERE id = ?1) ="
                                "  (SELECT status = 'done' FROM main.runs WHERE id = ?2) AND"
                                "  coalesce((SELECT max(step) FROM main.metrics WHERE run_id = ?2), -1) >"
                                "  coalesce((SELECT max(step) FROM other.metrics WHERE run_id = ?1), -1)))", -1, &newer, NULL);
    if (rc != SQLITE_OK) { snprintf(err, errlen, "%s", sqlite3_errmsg(db)); sqlite3_finalize(st); return -1; }
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        sqlite3_int64 old = sqlite3_column_int64(st, 0), here = sqlite3_column_int64(st, 1), id;
        if (sqlite3_column_int(st, 2)) { count->running++; continue; } /* still being written there */
        int copy = 1;
        if (here) {
            sqlite3_bind_int64(newer, 1, old);
            sqlite3_bind_int64(newer, 2, here);
            if (sqlite3_step(newer) != SQLITE_ROW) rc = SQLITE_ERROR;
            else copy = sqlite3_column_int(newer, 0);
            sqlite3_reset(newer);
        }
        if (here && !copy) { /* an older copy of a run this db holds further on: kept as it is here */
            id = here;
            count->kept++;
        } else if (here) {
            char del[512];
            for (int c = 0; c <= N_RUN_TABLES && rc == SQLITE_OK; c++) { /* its rows, then the run */
                if (c < N_RUN_TABLES) snprintf(del, sizeof del, "DELETE FROM main.%s WHERE run_id = %lld", RUN_TABLES[c], (long long)here);
                else snprintf(del, sizeof del, "DELETE FROM main.runs WHERE id = %lld", (long long)here);
                rc = run_sql(db, del, err, errlen) ? SQLITE_ERROR : SQLITE_OK;
            }
            sqlite3_bind_int64(ins_at, 1, old);
            sqlite3_bind_int64(ins_at, 2, here);
            if (rc == SQLITE_OK && sqlite3_step(ins_at) != SQLITE_DONE) rc = SQLITE_ERROR;
            sqlite3_reset(ins_at);
            id = here;
            count->replaced++;
        } else {
            sqlite3_bind_int64(ins_new, 1, old);
            if (sqlite3_step(ins_new) != SQLITE_DONE) rc = SQLITE_ERROR;
            sqlite3_reset(ins_new);
            id = sqlite3_last_insert_rowid(db);
            count->merged++;
            if (!count->first) count->first = id;
            count->last = id;
        }
        sqlite3_bind_int64(map, 1, old);
        sqlite3_bind_int64(map, 2, id);
        sqlite3_bind_int(map, 3, copy);
        if (rc == SQLITE_OK && sqlite3_step(map) != SQLITE_DONE) rc = SQLITE_ERROR;
        sqlite3_reset(map);
    }
    if (rc != SQLITE_OK && !*err) snprintf(err, errlen, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_finalize(ins_new);
    sqlite3_finalize(ins_at);
    sqlite3_finalize(map);
    sqlite3_finalize(newer);
    return rc == SQLITE_OK ? 0 : -1;
}

/* the rows that belong to a run, under its id here */
static int merge_children(sqlite3 *db, char *err, size_t errlen) {
    for (int t = 0; t < N_RUN_TABLES; t++) {
        char cols[1024], pick[1200], sql[4096];
        if (shared_columns(db, RUN_TABLES[t], cols, sizeof cols)) { snprintf(err, errlen, "cannot read the %s columns", RUN_TABLES[t]); return -1; }
        /* the same columns, run_id read through the map */
        size_t used = 0;
        for (const char *c = cols; *c && used < sizeof pick;) {
            size_t len = strcspn(c, ",");
            int is_run = len == 6 && !strncmp(c, "run_id", 6);
            used += snprintf(pick + used, sizeof pick - used, "%s%s%.*s", used ? ", " : "", is_run ? "m.new" : "o.", is_run ? 0 : (int)len, c);
            c += len;
            while (*c == ',' || *c == ' ') c++;
        }
        snprintf(sql, sizeof sql, "INSERT INTO main.%s (%s) SELECT %s FROM other.%s o JOIN merge_map m ON m.old = o.run_id AND m.copy",
                 RUN_TABLES[t], cols, pick, RUN_TABLES[t]);
        if (run_sql(db, sql, err, errlen)) return -1;
    }
    return 0;
}

/* the configurations' references to other runs (init=RUN_ID, pretrain_run), to the new ids */
static int remap_ids(sqlite3 *db, const char *const *id_keys, int n_keys, char *err, size_t errlen) {
    static const char *const COLUMNS[] = {"config", "comparable"};
    for (int k = 0; k < n_keys; k++)
        for (int c = 0; c < 2; c++) {
            char sql[2048], path[128];
            snprintf(path, sizeof path, "'$.%s'", id_keys[k]);
            const char *col = COLUMNS[c];
            /* an id is a whole number, stored as a number or as text of digits (init=) */
            snprintf(sql, sizeof sql,
                     "UPDATE main.runs SET %s = json_set(%s, %s, (SELECT CASE json_type(%s, %s) WHEN 'text' THEN"
                     " CAST(m.new AS TEXT) ELSE m.new END FROM merge_map m WHERE m.old = CAST(json_extract(%s, %s) AS INTEGER)))"
                     " WHERE id IN (SELECT new FROM merge_map WHERE copy) AND json_type(%s, %s) IN ('integer', 'text')"
                     " AND json_extract(%s, %s) != '' AND CAST(json_extract(%s, %s) AS TEXT) NOT GLOB '*[^0-9]*'"
                     " AND CAST(json_extract(%s, %s) AS INTEGER) IN (SELECT old FROM merge_map)",
                     col, col, path, col, path, col, path, col, path, col, path, col, path, col, path);
            if (run_sql(db, sql, err, errlen)) return -1;
        }
    return 0;
}

int results_snapshot(ResultsDb *rdb, const char *path, char *err, size_t errlen) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(rdb->db, "VACUUM INTO ?1", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(rdb->db));
        return -1;
    }
    sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    if (rc) snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(rdb->db));
    sqlite3_finalize(st);
    return rc;
}

int results_merge(ResultsDb *rdb, const char *other_path, const char *const *id_keys, int n_keys, MergeCount *count,
                  char *err, size_t errlen) {
    sqlite3 *db = rdb->db;
    memset(count, 0, sizeof *count);
    if (access(other_path, R_OK)) { snprintf(err, errlen, "%s: no such file", other_path); return -1; }
    char a[PATH_MAX], b[PATH_MAX];
    const char *main_file = sqlite3_db_filename(db, "main");
    if (main_file && realpath(other_path, a) && realpath(main_file, b) && !strcmp(a, b)) {
        snprintf(err, errlen, "%s: is db= itself", other_path);
        return -1;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "ATTACH DATABASE ?1 AS other", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", other_path, sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, other_path, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    if (rc) { snprintf(err, errlen, "%s: cannot open: %s", other_path, sqlite3_errmsg(db)); return -1; }
    char why[1024] = "";
    int has_runs = 0;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM other.sqlite_master WHERE type = 'table' AND name IN ('runs', 'metrics')",
                           -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) has_runs = sqlite3_column_int(st, 0) == 2;
        sqlite3_finalize(st);
    } else
        snprintf(why, sizeof why, "%s", sqlite3_errmsg(db));
    if (!has_runs) {
        snprintf(err, errlen, "%s: not a results database (%s)", other_path, *why ? why : "no runs and metrics tables");
        run_sql(db, "DETACH DATABASE other", why, sizeof why);
        return -1;
    }
    rc = run_sql(db, "BEGIN IMMEDIATE", why, sizeof why);
    if (!rc) rc = merge_runs(db, id_keys, n_keys, count, why, sizeof why);
    if (!rc) rc = merge_children(db, why, sizeof why);
    if (!rc) rc = remap_ids(db, id_keys, n_keys, why, sizeof why);
    if (!rc) rc = run_sql(db, "DROP TABLE temp.merge_map", why, sizeof why);
    if (!rc) rc = run_sql(db, "COMMIT", why, sizeof why);
    if (rc) {
        snprintf(err, errlen, "%s: nothing merged: %s", other_path, why);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        memset(count, 0, sizeof *count);
    }
    run_sql(db, "DETACH DATABASE other", why, sizeof why);
    return rc;
}
