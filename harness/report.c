/* harness report [db=results.db] [out=report]: one self-contained HTML page of a results
 * database -- where it was made (hosts, commits, BLAS kernels), the verdicts of every key with
 * Holm's adjustment, every figure the db can draw as inline SVG, and the runs -- with no
 * script and nothing fetched: it opens from a file, offline, in any browser. */
#include "report.h"
#include "compare.h"
#include "plots/plot.h"
#include "results/results.h"
#include "util/atomic_file.h"
#include "util/keys.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* text into f with &, <, >, " escaped */
static void put_text(FILE *f, const char *s) {
    for (; s && *s; s++) switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
}

/* a query's rows as an HTML table: the first call of a query writes the header */
typedef struct { FILE *f; const char *const *head; int ncol; long rows; } Table;

static int table_row(void *ctx, int ncol, const char *const *v) {
    Table *t = ctx;
    if (!t->rows++) {
        fputs("<table><thead><tr>", t->f);
        for (int c = 0; c < t->ncol; c++) { fputs("<th>", t->f); put_text(t->f, t->head[c]); fputs("</th>", t->f); }
        fputs("</tr></thead><tbody>\n", t->f);
    }
    fputs("<tr>", t->f);
    for (int c = 0; c < ncol && c < t->ncol; c++) { fputs("<td>", t->f); put_text(t->f, v[c]); fputs("</td>", t->f); }
    fputs("</tr>\n", t->f);
    return 0;
}

/* sql's rows as a table with these headings, or a line saying there are none; rows, or -1 */
static long put_table(FILE *f, ResultsDb *db, const char *sql, const char *const *head, int ncol, const char *none,
                      char *err, size_t errlen) {
    Table t = {f, head, ncol, 0};
    if (results_query(db, sql, table_row, &t, err, errlen)) return -1;
    if (t.rows) fputs("</tbody></table>\n", f);
    else { fputs("<p class=\"none\">", f); put_text(f, none); fputs("</p>\n", f); }
    return t.rows;
}

/* one column of values, joined by ", " */
static int join_row(void *ctx, int ncol, const char *const *v) {
    char *buf = ctx;
    size_t n = strlen(buf);
    if (ncol > 0 && v[0] && n + strlen(v[0]) + 3 < 1024) snprintf(buf + n, 1024 - n, "%s%s", n ? ", " : "", v[0]);
    return 0;
}

typedef struct { FILE *f; const char *dir; int drawn, missing; } Figures;

/* a drawn figure's SVG inline (its XML prolog and doctype left out), or why it is not drawn */
static void put_figure(void *ctx, const char *name, const char *help, int ok, const char *why, const char *caption) {
    Figures *g = ctx;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.svg", g->dir, name);
    char *svg = NULL;
    size_t n = 0;
    if (ok && file_read_whole(path, (void **)&svg, &n) == 0) {
        svg = realloc(svg, n + 1);
        svg[n] = 0;
        const char *at = strstr(svg, "<svg");
        fprintf(g->f, "<figure id=\"fig-%s\"><div class=\"svg\">%s</div><figcaption><b>", name, at ? at : "");
        put_text(g->f, name);
        fputs("</b>: ", g->f);
        put_text(g->f, help);
        if (caption && *caption) {
            fputs("<br><span class=\"caption\">", g->f);
            put_text(g->f, caption);
            fputs("</span>", g->f);
        }
        fputs("</figcaption></figure>\n", g->f);
        g->drawn++;
    } else {
        fputs("<p class=\"none\">Not drawn: <b>", g->f);
        put_text(g->f, name);
        fputs("</b> (", g->f);
        put_text(g->f, why ? why : "no SVG");
        fputs(")</p>\n", g->f);
        g->missing++;
    }
    free(svg);
}

static const char *const VERDICT_HEAD[] = {"task", "size / steps", "metric", "a", "b", "n", "b - a", "95% interval",
                                           "detectable", "p_holm (family)", "verdict after Holm"};
/* the held-out verdicts of one key, labelled as compare labels them: compare's default metrics,
 * less the untrained model's multiple choice (mc_step0) and the length-normalised accuracy
 * beside acc; the key goes between the two halves */
#define VERDICT_SQL_HEAD                                                                                         \
    "SELECT task, size || ' / ' || steps, metric, " COMPARE_SHOWN_LABEL("a_label", "a") ", "                       \
    COMPARE_SHOWN_LABEL("b_label", "b") ", n, printf('%+.4f', diff), CASE WHEN ci_low IS NULL THEN 'n<2' "          \
    "ELSE printf('[%+.4f, %+.4f]', ci_low, ci_high) END, coalesce(printf('%.4f', min_detectable), ''), "           \
    "coalesce(printf('%.3g (%d)', p_holm, family), ''), verdict_holm FROM verdicts_holm WHERE by_key = "
#define VERDICT_SQL_TAIL                                                                                         \
    " AND " COMPARE_DEFAULT_METRICS " AND metric NOT LIKE 'mc_step0/%' AND metric NOT LIKE '%/acc_norm' "        \
    "ORDER BY task, size, steps, metric, a_label, b_label"

static const char *const RUN_HEAD[] = {"id", "label", "task", "seed", "size / steps", "status", "valid bpb", "valid ppl",
                                       "valid acc", "wall s", "host"};
#define RUN_SQL                                                                                                       \
    "SELECT r.id, coalesce(r.label, r.model), r.task, r.seed, json_extract(r.config, '$.size') || ' / ' || "           \
    "json_extract(r.config, '$.steps'), r.status, "                                                                    \
    "(SELECT printf('%.4f', value) FROM final_metrics f WHERE f.run_id = r.id AND f.split = 'valid' AND f.name = 'bpb'), " \
    "(SELECT printf('%.3f', value) FROM final_metrics f WHERE f.run_id = r.id AND f.split = 'valid' AND f.name = 'ppl'), " \
    "(SELECT printf('%.4f', value) FROM final_metrics f WHERE f.run_id = r.id AND f.split = 'valid' AND f.name = 'acc'), " \
    "printf('%.0f', r.wall_s), r.host FROM runs r ORDER BY r.id"

/* the distinct keys the verdicts compare by */
typedef struct { char keys[32][64]; int n; } KeyList;
static int key_row(void *ctx, int ncol, const char *const *v) {
    KeyList *k = ctx;
    if (ncol > 0 && v[0] && k->n < 32) snprintf(k->keys[k->n++], sizeof k->keys[0], "%s", v[0]);
    return 0;
}

static int write_report(FILE *f, ResultsDb *db, const char *dbpath, const char *figdir, char *err, size_t errlen) {
    char hosts[1024] = "", revs[1024] = "", kernels[1024] = "", stamp[64];
    time_t now = time(NULL);
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    if (results_query(db, "SELECT DISTINCT host FROM runs WHERE host IS NOT NULL ORDER BY 1", join_row, hosts, err, errlen) ||
        results_query(db, "SELECT DISTINCT git_rev FROM runs WHERE git_rev IS NOT NULL ORDER BY 1", join_row, revs, err, errlen) ||
        results_query(db, "SELECT DISTINCT json_extract(config, '$.blas_core') FROM runs WHERE json_valid(config) AND "
                          "json_extract(config, '$.blas_core') IS NOT NULL ORDER BY 1", join_row, kernels, err, errlen))
        return -1;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Results: ", f);
    put_text(f, dbpath);
    fputs("</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:1300px}table{border-collapse:collapse;"
          "margin:1em 0;font-size:13px}th,td{border:1px solid #bbb;padding:3px 7px;text-align:left}th{background:#eee}"
          "figure{margin:1.5em 0}.svg svg{max-width:100%;height:auto}figcaption{font-size:13px;color:#333}.caption{white-space:pre-line}"
          ".none{color:#777}nav a{margin-right:1em}</style></head><body>\n<h1>Results: ", f);
    put_text(f, dbpath);
    fputs("</h1>\n<p>Made ", f);
    put_text(f, stamp);
    fputs(" by <code>harness report</code>. Runs made on: ", f);
    put_text(f, hosts[0] ? hosts : "(no host recorded)");
    fputs("; commits: ", f);
    put_text(f, revs[0] ? revs : "(none recorded)");
    fputs("; OpenBLAS kernels: ", f);
    put_text(f, kernels[0] ? kernels : "(none recorded)");
    fputs(". Seeds of one comparison should come from one kernel (a seed's run on another kernel is another run).</p>\n"
          "<nav><a href=\"#verdicts\">Verdicts</a><a href=\"#figures\">Figures</a><a href=\"#runs\">Runs</a></nav>\n", f);
    /* verdicts, one table per key */
    KeyList keys = {.n = 0};
    if (results_query(db, "SELECT DISTINCT by_key FROM verdicts ORDER BY 1", key_row, &keys, err, errlen)) return -1;
    fputs("<h2 id=\"verdicts\">Verdicts</h2>\n<p>Runs paired by seed that differ in one key: b - a with its 95% interval "
          "(Student t), the smallest difference the seeds detect with 80% power, Holm's adjusted p over the family (one "
          "key's comparisons on one metric at one size and step count; its size in brackets) and the verdict after it. "
          "Lower is better for loss, ppl and bpb, higher for accuracies and caption scores.</p>\n", f);
    if (!keys.n) fputs("<p class=\"none\">No runs pair by seed yet.</p>\n", f);
    for (int k = 0; k < keys.n; k++) {
        char sql[2048];
        if (strchr(keys.keys[k], '\'')) continue; /* a key is a word; never a quote in SQL */
        snprintf(sql, sizeof sql, "%s'%s'%s", VERDICT_SQL_HEAD, keys.keys[k], VERDICT_SQL_TAIL);
        fputs("<h3>by ", f);
        put_text(f, keys.keys[k]);
        fputs("</h3>\n", f);
        if (put_table(f, db, sql, VERDICT_HEAD, 11, "no held-out metric", err, errlen) < 0) return -1;
    }
    fputs("<h2 id=\"figures\">Figures</h2>\n", f);
    Figures g = {f, figdir, 0, 0};
    if (plot_each(dbpath, figdir, put_figure, &g, err, errlen)) return -1;
    fputs("<h2 id=\"runs\">Runs</h2>\n", f);
    if (put_table(f, db, RUN_SQL, RUN_HEAD, 11, "no runs", err, errlen) < 0) return -1;
    fputs("</body></html>\n", f);
    return 0;
}

int harness_report(int argc, char **argv) {
    static const char *const names[] = {"db", "out"};
    const char *v[] = {"results.db", "report"};
    if (key_take_words(argc, argv, names, v, 2)) return 2;
    const char *dbpath = v[0], *out = v[1];
    char err[8192], figdir[4200], page[4200];
    ResultsDb *db = results_open_read(dbpath, err, sizeof err);
    if (!db) { fprintf(stderr, "error: db=%s\n", err); return 2; }
    /* the figures are drawn into out/figures (kept: their PNG, data and scripts beside) */
    snprintf(figdir, sizeof figdir, "%s/figures", out);
    snprintf(page, sizeof page, "%s/index.html", out);
    FILE *f = NULL;
    int rc = -1;
    if (file_make_dir(out, err, sizeof err) == 0 && (f = atomic_open(page, err, sizeof err))) {
        rc = write_report(f, db, dbpath, figdir, err, sizeof err);
        char cerr[512];
        if (atomic_close_then(f, rc == 0, page, NULL, NULL, cerr, sizeof cerr) && rc == 0) {
            snprintf(err, sizeof err, "%s", cerr);
            rc = -1;
        }
    }
    results_close(db);
    if (rc) { fprintf(stderr, "error: report: %s\n", err); return 1; }
    printf("report: %s (open it in a browser; figures in %s)\n", page, figdir);
    return 0;
}
