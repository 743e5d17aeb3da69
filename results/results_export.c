/* harness export: the results database as files other tools read. Each table of EXPORT_TABLES
 * becomes OUT/NAME.csv (RFC 4180, a header line) and OUT/NAME.jsonl (one JSON object per row,
 * numbers as numbers); every run's metrics become a TensorBoard event file,
 * OUT/tensorboard/run-ID-LABEL/events.out.tfevents.0.harness (TFRecord framing with masked
 * CRC-32C; Event protobufs with one scalar each, tag SPLIT/NAME, wall time the run's start).
 * Every file is written whole or not at all (util/atomic_file). */
#include "results.h"
#include "results_db.h"
#include "util/atomic_file.h"
#include <cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* one declaration per exported table: its file name and the rows */
typedef struct { const char *name, *sql; } ExportTable;
static const ExportTable EXPORT_TABLES[] = {
    {"runs", "SELECT * FROM runs ORDER BY id"},
    /* the resolved configuration, one row per (run, key) */
    {"configs", "SELECT r.id AS run_id, j.key AS key, j.value AS value FROM runs r, json_each(r.config) j"
                " WHERE json_valid(r.config) ORDER BY r.id, j.key"},
    {"metrics", "SELECT run_id, step, split, name, value FROM metrics ORDER BY run_id, split, name, step"},
    {"evals", "SELECT run_id, benchmark, metric, value FROM evals ORDER BY run_id, benchmark, metric"},
};
#define N_EXPORT_TABLES ((int)(sizeof EXPORT_TABLES / sizeof EXPORT_TABLES[0]))

/* a CSV field: quoted when it holds a comma, quote or line break, quotes doubled */
static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* the column as JSON: numbers as numbers, text as strings, NULL (and blobs) as null */
static cJSON *json_column(sqlite3_stmt *st, int c) {
    switch (sqlite3_column_type(st, c)) {
    case SQLITE_INTEGER: return cJSON_CreateNumber((double)sqlite3_column_int64(st, c));
    case SQLITE_FLOAT: return cJSON_CreateNumber(sqlite3_column_double(st, c));
    case SQLITE_TEXT: return cJSON_CreateString((const char *)sqlite3_column_text(st, c));
    default: return cJSON_CreateNull();
    }
}

/* one table into OUT/NAME.csv and OUT/NAME.jsonl; rows counted into *rows */
static int export_table(ResultsDb *db, const ExportTable *t, const char *out, long *rows, char *err, size_t errlen) {
    char csv_path[4200], jsonl_path[4200];
    snprintf(csv_path, sizeof csv_path, "%s/%s.csv", out, t->name);
    snprintf(jsonl_path, sizeof jsonl_path, "%s/%s.jsonl", out, t->name);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, t->sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "table %s: %s", t->name, sqlite3_errmsg(db->db));
        return -1;
    }
    FILE *csv = atomic_open(csv_path, err, errlen);
    FILE *jsonl = csv ? atomic_open(jsonl_path, err, errlen) : NULL;
    if (!jsonl) {
        if (csv) atomic_close_then(csv, 0, csv_path, NULL, NULL, err, errlen);
        sqlite3_finalize(st);
        return -1;
    }
    int ncol = sqlite3_column_count(st), rc;
    for (int c = 0; c < ncol; c++) {
        if (c) fputc(',', csv);
        csv_field(csv, sqlite3_column_name(st, c));
    }
    fputs("\r\n", csv);
    int written = 1;
    *rows = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        for (int c = 0; c < ncol; c++) {
            if (c) fputc(',', csv);
            const unsigned char *text = sqlite3_column_text(st, c);
            if (text && sqlite3_column_type(st, c) != SQLITE_BLOB) csv_field(csv, (const char *)text);
            cJSON_AddItemToObject(o, sqlite3_column_name(st, c), json_column(st, c));
        }
        fputs("\r\n", csv);
        char *line = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!line) { written = 0; break; }
        fprintf(jsonl, "%s\n", line);
        free(line);
        (*rows)++;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        snprintf(err, errlen, "table %s: %s", t->name, sqlite3_errmsg(db->db));
        written = 0;
    }
    sqlite3_finalize(st);
    char cerr[512];
    int a = atomic_close_then(csv, written, csv_path, NULL, NULL, cerr, sizeof cerr);
    if (a && written) snprintf(err, errlen, "%s", cerr);
    int b = atomic_close_then(jsonl, written && !a, jsonl_path, NULL, NULL, cerr, sizeof cerr);
    if (b && written && !a) snprintf(err, errlen, "%s", cerr);
    return written && !a && !b ? 0 : -1;
}

/* ---- TensorBoard: TFRecord framing and the few protobuf fields of an Event ---- */

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bitwise: export is not hot */
uint32_t results_crc32c(const void *data, size_t n) {
    const unsigned char *p = data;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    }
    return ~crc;
}

/* TFRecord's masked CRC: rotate right by 15, add a constant */
static uint32_t masked_crc(const void *data, size_t n) {
    uint32_t c = results_crc32c(data, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

typedef struct { unsigned char b[512]; size_t n; int overflow; } Proto;

static void put_byte(Proto *p, unsigned char c) {
    if (p->n < sizeof p->b) p->b[p->n++] = c;
    else p->overflow = 1;
}
static void put_varint(Proto *p, uint64_t v) {
    do {
        put_byte(p, (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
        v >>= 7;
    } while (v);
}
static void put_fixed(Proto *p, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) put_byte(p, (unsigned char)(v >> (8 * i)));
}
/* field number f, wire type 2 (length-delimited) */
static void put_bytes(Proto *p, int f, const void *data, size_t n) {
    put_varint(p, (uint64_t)(f << 3 | 2));
    put_varint(p, n);
    for (size_t i = 0; i < n; i++) put_byte(p, ((const unsigned char *)data)[i]);
}

/* Event{wall_time = 1, step = 2, file_version = 3 | summary = 5 {value = 1 {tag = 1, simple_value = 2}}} */
static void event(Proto *e, double wall_time, long long step, const char *file_version, const char *tag, float value) {
    uint64_t bits;
    memcpy(&bits, &wall_time, sizeof bits);
    e->n = 0;
    e->overflow = 0;
    put_varint(e, 1 << 3 | 1);
    put_fixed(e, bits, 8);
    put_varint(e, 2 << 3 | 0);
    put_varint(e, (uint64_t)step);
    if (file_version) { put_bytes(e, 3, file_version, strlen(file_version)); return; }
    Proto v = {.n = 0}, s = {.n = 0};
    uint32_t fbits;
    memcpy(&fbits, &value, sizeof fbits);
    put_bytes(&v, 1, tag, strlen(tag));
    put_varint(&v, 2 << 3 | 5);
    put_fixed(&v, fbits, 4);
    put_bytes(&s, 1, v.b, v.n);
    put_bytes(e, 5, s.b, s.n);
    e->overflow |= v.overflow | s.overflow;
}

static int write_record(FILE *f, const Proto *e) {
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)e->n >> (8 * i));
    uint32_t lc = masked_crc(len, 8), dc = masked_crc(e->b, e->n);
    unsigned char lcb[4], dcb[4];
    for (int i = 0; i < 4; i++) { lcb[i] = (unsigned char)(lc >> (8 * i)); dcb[i] = (unsigned char)(dc >> (8 * i)); }
    return fwrite(len, 1, 8, f) == 8 && fwrite(lcb, 1, 4, f) == 4 && fwrite(e->b, 1, e->n, f) == e->n &&
           fwrite(dcb, 1, 4, f) == 4;
}

/* seconds since 1970 of "YYYY-MM-DD HH:MM:SS" (UTC, as the runs table stores it); 0 if not that */
static double utc_seconds(const char *text) {
    struct tm tm = {0};
    if (!text || sscanf(text, "%d-%d-%d%*[ T]%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                        &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm);
}

/* a folder name from a label: letters, digits, '.', '-' and '_' kept, the rest '_' */
static void safe_name(char *out, size_t n, const char *label) {
    size_t i = 0;
    for (; label && *label && i + 1 < n; label++, i++) {
        char c = *label;
        out[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' ? c : '_';
    }
    out[i] = 0;
}

static int export_run_events(ResultsDb *db, const char *dir, long long run, double wall, long *events, char *err, size_t errlen) {
    char path[4480];
    snprintf(path, sizeof path, "%s/events.out.tfevents.0.harness", dir);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "SELECT step, split || '/' || name, value FROM metrics WHERE run_id = ? AND value IS NOT NULL"
                           " ORDER BY step, split, name", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "metrics of run %lld: %s", run, sqlite3_errmsg(db->db));
        return -1;
    }
    sqlite3_bind_int64(st, 1, run);
    FILE *f = atomic_open(path, err, errlen);
    if (!f) { sqlite3_finalize(st); return -1; }
    Proto e;
    event(&e, wall, 0, "brain.Event:2", NULL, 0);
    int ok = write_record(f, &e), rc;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        event(&e, wall, sqlite3_column_int64(st, 0), NULL, (const char *)sqlite3_column_text(st, 1),
              (float)sqlite3_column_double(st, 2));
        if (e.overflow) { snprintf(err, errlen, "run %lld: a metric name too long for an event", run); ok = 0; break; }
        ok = write_record(f, &e);
        (*events)++;
    }
    sqlite3_finalize(st);
    if (!ok && !err[0]) snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
    return atomic_close_then(f, ok, path, NULL, NULL, err, errlen) || !ok ? -1 : 0;
}

static int export_tensorboard(ResultsDb *db, const char *out, long *runs, long *events, char *err, size_t errlen) {
    char top[4200];
    snprintf(top, sizeof top, "%s/tensorboard", out);
    if (file_make_dir(top, err, errlen)) return -1;
    sqlite3_stmt *st;
    /* label is a later column: a file without it names the folders by model */
    const char *sql = "SELECT id, coalesce(label, model), started_at FROM runs ORDER BY id";
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK &&
        sqlite3_prepare_v2(db->db, "SELECT id, model, started_at FROM runs ORDER BY id", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "runs: %s", sqlite3_errmsg(db->db));
        return -1;
    }
    int rc = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        char name[128], dir[4400];
        long long id = sqlite3_column_int64(st, 0);
        safe_name(name, sizeof name, (const char *)sqlite3_column_text(st, 1));
        snprintf(dir, sizeof dir, "%s/run-%lld-%s", top, id, name);
        rc = file_make_dir(dir, err, errlen) ||
             export_run_events(db, dir, id, utc_seconds((const char *)sqlite3_column_text(st, 2)), events, err, errlen);
        (*runs)++;
    }
    sqlite3_finalize(st);
    return rc ? -1 : 0;
}

int results_export(ResultsDb *db, const char *out, unsigned formats, ExportCount *count, char *err, size_t errlen) {
    err[0] = 0;
    *count = (ExportCount){0};
    if (file_make_dir(out, err, errlen)) return -1;
    if (formats & EXPORT_TABLES_CSV_JSONL)
        for (int t = 0; t < N_EXPORT_TABLES; t++) {
            long rows;
            if (export_table(db, &EXPORT_TABLES[t], out, &rows, err, errlen)) return -1;
            count->tables++;
            count->rows += rows;
        }
    if (formats & EXPORT_TENSORBOARD) return export_tensorboard(db, out, &count->runs, &count->events, err, errlen);
    return 0;
}
