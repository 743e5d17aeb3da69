/* results.db: schema, run life cycle, metric transactions, the views on known rows, the
 * read-only query guard, and a clear error on a file that is not a database. */
#include "check.h"
#include "results/results.h"
#include "results/stats.h"
#include "plots/paper_numbers.h"
#include <cJSON.h>
#include <sqlite3.h>
#include "util/atomic_file.h"
#include <string.h>
#include <unistd.h>

static double scalar(const char *path, const char *sql) {
    sqlite3 *db;
    sqlite3_stmt *st;
    double v = NAN;
    sqlite3_open(path, &db);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_type(st, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 0);
    else fprintf(stderr, "query failed: %s: %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* the same through the harness's own connection (its SQL functions and TEMP views) */
static int take_first(void *ctx, int ncol, const char *const *values) {
    *(double *)ctx = ncol > 0 && *values[0] ? atof(values[0]) : NAN;
    return 1;
}
static double harness_scalar(const char *path, const char *sql) {
    char err[512];
    double v = NAN;
    ResultsDb *db = results_open_read(path, err, sizeof err);
    if (!db || results_query(db, sql, take_first, &v, err, sizeof err)) fprintf(stderr, "query failed: %s: %s\n", sql, err);
    results_close(db);
    return v;
}

static int64_t add_run(ResultsDb *db, const char *model, int seed, double ppl_mid, double ppl_final) {
    RunInfo info = {.name = "t", .task = "english", .model = model, .experts = 8, .seed = seed,
                    .config = "{\"seed\":1}", .params = 1000, .flops_per_token = 2000, .host = "h", .git_rev = "r"};
    int64_t id = results_run_begin(db, &info);
    MetricValue mid[2] = {{"valid", "ppl", ppl_mid}, {"train", "loss", 3.0}};
    MetricValue fin[1] = {{"valid", "ppl", ppl_final}};
    results_metrics(db, id, 100, mid, 2);
    results_metrics(db, id, 200, fin, 1);
    return id;
}

/* a finished run with a comparable configuration and its final valid ppl (and mc acc) */
static int64_t add_comparable(ResultsDb *db, const char *model, const char *comparable, int seed, double ppl, double acc) {
    RunInfo info = {.name = "v", .task = "english", .model = model, .seed = seed, .config = comparable,
                    .comparable = comparable, .label = model, .host = "h", .git_rev = "r"};
    int64_t id = results_run_begin(db, &info);
    MetricValue m[2] = {{"valid", "ppl", ppl}, {"train", "loss", ppl}};
    results_metrics(db, id, 100, m, 2);
    results_eval(db, id, "mc", "acc", acc);
    results_run_finish(db, id, "done", NULL, 1);
    return id;
}

/* the t test's p-values against closed forms: df 1 is the Cauchy law (P(|T| >= 1) = 1/2) and
 * df 2 has P(|T| >= t) = 1 - t / sqrt(2 + t^2); large df approaches the normal law */
static void test_student_p(void) {
    CHECK(fabs(student_t_p(1, 1) - 0.5) < 1e-12, "df 1, t 1: %.15g", student_t_p(1, 1));
    CHECK(fabs(student_t_p(-1, 1) - 0.5) < 1e-12, "the sign of t does not matter");
    double ts[] = {0.1, 0.5, 1.412, 4.303, 9, 40};
    for (int i = 0; i < 6; i++) {
        double t = ts[i], want = 1 - t / sqrt(2 + t * t);
        CHECK(fabs(student_t_p(t, 2) - want) < 1e-12 * (1 + 1 / want), "df 2, t %g: %.15g, want %.15g", t, student_t_p(t, 2), want);
    }
    CHECK(fabs(student_t_p(4.302653, 2) - 0.05) < 1e-6, "the table's t(0.975, 2) gives 0.05");
    CHECK(fabs(student_t_p(2.262157, 9) - 0.05) < 1e-6, "t(0.975, 9) gives 0.05: %.9g", student_t_p(2.262157, 9));
    CHECK(fabs(student_t_p(1.959964, 1e7) - 0.05) < 1e-5, "large df: the normal law's 1.96");
    CHECK(student_t_p(0, 5) == 1, "t 0: p 1");
    CHECK(fabs(incomplete_beta(2.5, 0.5, 0.3) + incomplete_beta(0.5, 2.5, 0.7) - 1) < 1e-12, "I_x(a, b) = 1 - I_(1-x)(b, a)");
}

/* the bytes per token B at which the paper's gap g bits per token, g / B bits per byte, lies in
 * our interval: worked by hand for each sign of g and each side of 0 the interval can take */
static void test_paper_gap_range(void) {
    double lo, hi;
    CHECK(paper_gap_bytes_range(0.2, -0.01, 0.05, &lo, &hi) && fabs(lo - 4) < 1e-12 && isinf(hi),
          "interval across 0: from 0.2 / 0.05 = 4 on: %g %g", lo, hi);
    CHECK(paper_gap_bytes_range(0.2, 0.02, 0.05, &lo, &hi) && fabs(lo - 4) < 1e-12 && fabs(hi - 10) < 1e-12,
          "interval above 0: 4 to 0.2 / 0.02 = 10: %g %g", lo, hi);
    CHECK(!paper_gap_bytes_range(0.2, -0.05, -0.02, &lo, &hi), "the paper's gap positive, ours below 0: no B");
    CHECK(paper_gap_bytes_range(-0.2, -0.05, 0.01, &lo, &hi) && fabs(lo - 4) < 1e-12 && isinf(hi),
          "negative gap: from -0.2 / -0.05 = 4 on: %g %g", lo, hi);
    CHECK(paper_gap_bytes_range(-0.2, -0.05, -0.02, &lo, &hi) && fabs(lo - 4) < 1e-12 && fabs(hi - 10) < 1e-12,
          "negative gap, interval below 0: 4 to 10: %g %g", lo, hi);
    CHECK(!paper_gap_bytes_range(-0.2, 0.01, 0.05, &lo, &hi), "the paper's gap negative, ours above 0: no B");
    CHECK(paper_gap_bytes_range(0, -0.01, 0.01, &lo, &hi) && lo == 0 && isinf(hi), "no gap, interval across 0: any B");
    CHECK(!paper_gap_bytes_range(0, 0.01, 0.02, &lo, &hi), "no gap, interval above 0: no B");
    const PaperAblation *n2 = paper_ablation("Table 7: layers", "mh_mlp", "2", 8);
    CHECK(n2 && fabs(paper_gap_bits_per_token(n2) - log2(12.66 / 12.72)) < 1e-15, "Table 7's n = 2 row, log2 of 12.66 / 12.72");
    CHECK(!paper_ablation("Table 7", "mh_mlp", "2", 32), "the paper's rows are at 8 experts only");
    CHECK(!paper_ablation("Table 6", "mh_mlp", "2", 8), "n = 2 is Table 7's row, not Table 6's");
}

/* quantiles against the student_t table's (3 decimals) and df 2's closed form; seeds_for is the
 * smallest n whose (t_{1-a/2} + t_power) sd / sqrt(n) reaches the target */
static void test_seeds_for(void) {
    /* chi-square quantiles: df 2 in closed form (-2 ln(1 - q)), and the table's 3.841 (df 1,
     * 0.95), 18.307 (df 10, 0.95), 0.831 (df 5, 0.025) */
    CHECK(fabs(chi2_quantile(0.2, 2) + 2 * log(0.8)) < 1e-9, "chi2(0.2, 2) %.12g", chi2_quantile(0.2, 2));
    CHECK(fabs(chi2_quantile(0.95, 1) - 3.841) < 5e-4 && fabs(chi2_quantile(0.95, 10) - 18.307) < 5e-4 &&
          fabs(chi2_quantile(0.025, 5) - 0.831) < 5e-4, "chi2 table: %.4f %.4f %.4f", chi2_quantile(0.95, 1),
          chi2_quantile(0.95, 10), chi2_quantile(0.025, 5));
    /* a 3-seed pilot's sd at the 80% upper bound: sqrt(2 / (-2 ln 0.8)) = 2.117 times it */
    CHECK(fabs(sd_upper_bound(0.01, 3, 0.8) - 0.01 * sqrt(2 / (-2 * log(0.8)))) < 1e-12, "sd bound %.6g", sd_upper_bound(0.01, 3, 0.8));
    CHECK(fabs(student_t_quantile(0.975, 10) - 2.228) < 5e-4, "t(0.975, 10) %.6f", student_t_quantile(0.975, 10));
    CHECK(fabs(student_t_quantile(0.8, 10) - 0.879) < 5e-4, "t(0.8, 10) %.6f", student_t_quantile(0.8, 10));
    CHECK(fabs(student_t_quantile(0.2, 10) + 0.879) < 5e-4, "t(0.2, 10) is -t(0.8, 10)");
    double q = 0.99, want = (2 * q - 1) * sqrt(2 / (1 - (2 * q - 1) * (2 * q - 1)));
    CHECK(fabs(student_t_quantile(q, 2) - want) < 1e-9, "df 2: %.12g, want %.12g", student_t_quantile(q, 2), want);
    double sd = 0.02, delta = 0.01;
    int n = seeds_for(sd, delta, 0.05, 0.8, 1000);
    double at = (student_t_quantile(0.975, n - 1) + student_t_quantile(0.8, n - 1)) * sd / sqrt(n);
    double before = (student_t_quantile(0.975, n - 2) + student_t_quantile(0.8, n - 2)) * sd / sqrt(n - 1);
    CHECK(n > 2 && at <= delta && before > delta, "n %d: detects %.5f, n - 1 only %.5f", n, at, before);
    CHECK(n >= 33 && n <= 36, "sd twice the target: about (1.96 + 0.84)^2 4 = 31 plus the t tails: %d", n);
    int holm = seeds_for(sd, delta, 0.05 / 10, 0.8, 1000);
    CHECK(holm > n, "a family of 10 needs more seeds per row: %d > %d", holm, n);
    CHECK(seeds_for(sd, delta / 100, 0.05, 0.8, 1000) == -1, "beyond `most`: -1");
    CHECK(seeds_for(0, delta, 0.05, 0.8, 1000) == 2, "no spread: the least a t test takes");
}

/* the verdicts view on hand-computed numbers */
static void test_verdicts(void) {
    const char *path = "test_verdicts.db";
    char err[512];
    unlink(path);
    ResultsDb *db = results_open(path, err, sizeof err);
    const char *dense = "{\"task\":\"english\",\"model\":\"dense\",\"steps\":100}";
    const char *xmoe = "{\"task\":\"english\",\"model\":\"xmoe\",\"steps\":100,\"experts\":8}";
    const char *mhmoe = "{\"task\":\"english\",\"model\":\"mhmoe\",\"steps\":100,\"experts\":8,\"heads\":4}";
    const char *xmoe_long = "{\"task\":\"english\",\"model\":\"xmoe\",\"steps\":200,\"experts\":8}";
    const char *mh_flops = "{\"task\":\"english\",\"model\":\"mhmoe\",\"steps\":100,\"experts\":8,\"heads\":4,\"parity\":\"flops\"}";
    const char *mh_params = "{\"task\":\"english\",\"model\":\"mhmoe\",\"steps\":100,\"experts\":8,\"heads\":4,\"parity\":\"params\"}";
    double dense_ppl[3] = {10, 11, 12}, xmoe_ppl[3] = {9, 10.5, 10}, mh_ppl[3] = {8, 9.5, 9.2};
    for (int s = 0; s < 3; s++) {
        add_comparable(db, "dense", dense, s + 1, dense_ppl[s], 0.30);
        add_comparable(db, "xmoe", xmoe, s + 1, xmoe_ppl[s], 0.30 + 0.01 * s);
        add_comparable(db, "mhmoe", mhmoe, s + 1, mh_ppl[s], 0.40 + 0.01 * s);
        add_comparable(db, "xmoe", xmoe_long, s + 1, 5, 0.5);
    }
    /* a failed run and an older repeat of a seed are not paired */
    int64_t f = add_comparable(db, "xmoe", xmoe, 4, 1, 0.9);
    results_run_finish(db, f, "failed", "x", 1);
    add_comparable(db, "mhmoe", mh_flops, 1, 7, 0.1);
    add_comparable(db, "mhmoe", mh_params, 1, 100, 0.1);
    add_comparable(db, "mhmoe", mh_params, 1, 8, 0.1);
    results_close(db);
    /* dense (a) vs xmoe (b): b - a = -1, -0.5, -2: mean -7/6, sd sqrt(7/12), t(0.975, 2) = 4.303 */
    const char *w = "FROM verdicts WHERE by_key='model' AND a='dense' AND b='xmoe' AND metric='valid/ppl'";
    char q[512];
    double sd = sqrt(7.0 / 12), half = 4.303 * sd / sqrt(3);
    snprintf(q, sizeof q, "SELECT n %s", w);
    CHECK(scalar(path, q) == 3, "three seeds paired: %g", scalar(path, q));
    snprintf(q, sizeof q, "SELECT diff %s", w);
    CHECK(fabs(scalar(path, q) + 7.0 / 6) < 1e-12, "mean paired difference %g", scalar(path, q));
    snprintf(q, sizeof q, "SELECT mean_a - 11 + mean_b - 29.5 / 3 %s", w);
    CHECK(fabs(scalar(path, q)) < 1e-12, "means of each side");
    snprintf(q, sizeof q, "SELECT ci_low %s", w);
    CHECK(fabs(scalar(path, q) - (-7.0 / 6 - half)) < 1e-9, "interval low %g, want %g", scalar(path, q), -7.0 / 6 - half);
    snprintf(q, sizeof q, "SELECT ci_high %s", w);
    CHECK(fabs(scalar(path, q) - (-7.0 / 6 + half)) < 1e-9, "interval high");
    snprintf(q, sizeof q, "SELECT min_detectable %s", w);
    CHECK(fabs(scalar(path, q) - (4.303 + 1.061) * sd / sqrt(3)) < 1e-9, "detectable difference");
    snprintf(q, sizeof q, "SELECT verdict = 'no difference detected' %s", w);
    CHECK(scalar(path, q) == 1, "an interval holding 0 claims nothing");
    /* mhmoe (a) vs xmoe (b): b - a = 1, 1, 0.8: interval [0.647, 1.220] above 0, lower ppl is better */
    w = "FROM verdicts WHERE by_key='model' AND a='mhmoe' AND b='xmoe' AND a_key NOT LIKE '%parity%' AND metric='valid/ppl'";
    snprintf(q, sizeof q, "SELECT ci_low %s", w);
    CHECK(fabs(scalar(path, q) - (2.8 / 3 - 4.303 * sqrt(0.04 / 3) / sqrt(3))) < 1e-9, "interval low %g", scalar(path, q));
    snprintf(q, sizeof q, "SELECT verdict = 'a better' %s", w);
    CHECK(scalar(path, q) == 1, "mhmoe lower on every seed: a better");
    /* accuracy is higher-better: mhmoe 0.40-0.42 against xmoe 0.30-0.32 */
    snprintf(q, sizeof q, "SELECT verdict = 'a better' FROM verdicts WHERE a='mhmoe' AND b='xmoe' AND a_key NOT LIKE '%%parity%%' AND metric='mc/acc'");
    CHECK(scalar(path, q) == 1, "higher accuracy is better");
    /* differences in exactly one shared key only: xmoe at 200 steps pairs with xmoe at 100 by
     * steps, with nothing by model; the last training loss gets no verdict */
    CHECK(scalar(path, "SELECT count(*) FROM verdicts WHERE by_key='steps' AND metric='valid/ppl'") == 1, "by steps");
    CHECK(scalar(path, "SELECT count(*) FROM verdicts WHERE b_key LIKE '%200%' AND by_key <> 'steps'") == 0, "two keys apart");
    CHECK(scalar(path, "SELECT count(*) FROM verdicts WHERE metric LIKE 'train/%'") == 0, "no training-loss verdicts");
    /* parity: the newer of the two params runs of seed 1 (ppl 8) is paired, n = 1, no interval */
    CHECK(scalar(path, "SELECT mean_b FROM verdicts WHERE by_key='parity' AND metric='valid/ppl'") == 8, "latest repeat");
    CHECK(scalar(path, "SELECT ci_low IS NULL AND verdict = 'no difference detected' FROM verdicts WHERE by_key='parity'"
                 " AND metric='valid/ppl'") == 1, "one seed: no interval, no claim");
    /* Holm over the family of by=model valid/ppl rows at 100 steps with 3 seeds (dense-xmoe,
     * dense-mhmoe, mhmoe-xmoe; the one-seed parity rows are no test): df 2 has p = 1 - |t| / sqrt(2 + t^2). mhmoe-xmoe (t 14.0) is the smallest p,
     * times 3; dense-mhmoe (b - a = -2, -1.5, -2.8) times 2, and its interval excludes 0, yet
     * p_holm 0.06: the family's correction withdraws that claim */
    const char *fam = "FROM verdicts_holm WHERE by_key='model' AND metric='valid/ppl' AND steps=100";
    double t_mx = (2.8 / 3) / (sqrt(0.04 / 3) / sqrt(3)), p_mx = 1 - t_mx / sqrt(2 + t_mx * t_mx);
    double d[3] = {-2, -1.5, -2.8}, mean = (d[0] + d[1] + d[2]) / 3, var = 0;
    for (int i = 0; i < 3; i++) var += (d[i] - mean) * (d[i] - mean) / 2;
    double t_dm = mean / (sqrt(var) / sqrt(3)), p_dm = 1 - fabs(t_dm) / sqrt(2 + t_dm * t_dm);
    snprintf(q, sizeof q, "SELECT count(*) %s AND family = 3 AND p_holm IS NOT NULL", fam);
    CHECK(harness_scalar(path, q) == 3, "a family of the three rows with seeds to test: %g", harness_scalar(path, q));
    snprintf(q, sizeof q, "SELECT count(*) %s AND n = 1 AND p_holm IS NULL", fam);
    CHECK(harness_scalar(path, q) == 4, "one-seed rows are no test: no p_holm (%g)", harness_scalar(path, q));
    snprintf(q, sizeof q, "SELECT p_holm %s AND a='mhmoe' AND b='xmoe' AND a_key NOT LIKE '%%parity%%'", fam);
    CHECK(fabs(harness_scalar(path, q) - 3 * p_mx) < 1e-9, "smallest p times 3: %g, want %g", harness_scalar(path, q), 3 * p_mx);
    snprintf(q, sizeof q, "SELECT p_holm %s AND a='dense' AND b='mhmoe' AND b_key NOT LIKE '%%parity%%'", fam);
    CHECK(fabs(harness_scalar(path, q) - 2 * p_dm) < 1e-9 && 2 * p_dm > 0.05, "next p times 2: %g, want %g",
          harness_scalar(path, q), 2 * p_dm);
    snprintf(q, sizeof q, "SELECT (verdict = 'b better') + 2 * (verdict_holm = 'no difference detected') %s AND a='dense'"
             " AND b='mhmoe' AND b_key NOT LIKE '%%parity%%'", fam);
    CHECK(harness_scalar(path, q) == 3, "dense-mhmoe: a difference alone, none after Holm (%g)", harness_scalar(path, q));
    snprintf(q, sizeof q, "SELECT verdict_holm = 'mhmoe better' %s AND a='mhmoe' AND b='xmoe' AND a_key NOT LIKE '%%parity%%'", fam);
    CHECK(harness_scalar(path, q) == 1, "mhmoe-xmoe keeps its verdict after Holm");
    CHECK(scalar(path, "SELECT count(*) FROM sqlite_master WHERE name = 'verdicts_holm'") == 0,
          "the file holds no view plain sqlite3 could not read");
    /* table1 keeps parity=params and parity=flops apart, and both apart from the plain mhmoe */
    CHECK(scalar(path, "SELECT count(*) FROM table1 WHERE model='mhmoe'") == 3, "mhmoe groups in table1");
    CHECK(scalar(path, "SELECT count(*) FROM table1 WHERE parity='flops'") == 1, "parity shown");
    CHECK(scalar(path, "SELECT n FROM table1 WHERE model='xmoe' AND steps=100") == 3, "the failed run is not counted");
    unlink(path);
}

/* ---- harness export, read back: CSV, JSONL, and the TensorBoard files through a reader of
 * their own here (TFRecord frames, masked CRC-32C, the Event protobuf's fields) ---- */
static uint64_t varint(const unsigned char **p, const unsigned char *end) {
    uint64_t v = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        unsigned char c = *(*p)++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) break;
    }
    return v;
}

/* the fields of one protobuf message: calls got(ctx, field, wire, payload, n) for each (a varint's
 * value in *value); 0, or -1 if it does not parse */
typedef void (*GotField)(void *ctx, int field, const unsigned char *payload, size_t n, uint64_t value);
static int read_message(const unsigned char *p, const unsigned char *end, GotField got, void *ctx) {
    while (p < end) {
        uint64_t key = varint(&p, end), n;
        int field = (int)(key >> 3);
        switch (key & 7) {
        case 0: got(ctx, field, NULL, 0, varint(&p, end)); break;
        case 1: if (p + 8 > end) return -1; got(ctx, field, p, 8, 0); p += 8; break;
        case 5: if (p + 4 > end) return -1; got(ctx, field, p, 4, 0); p += 4; break;
        case 2:
            n = varint(&p, end);
            if (p + n > end) return -1;
            got(ctx, field, p, n, 0);
            p += n;
            break;
        default: return -1;
        }
    }
    return 0;
}

typedef struct { long long step; char tag[64]; float value; int has_version, bad; } ReadEvent;

/* Value: tag (1), simple_value (2, fixed32) */
static void got_value(void *ctx, int field, const unsigned char *p, size_t n, uint64_t v) {
    ReadEvent *e = ctx;
    if (field == 1 && n < sizeof e->tag) memcpy(e->tag, p, n);
    else if (field == 2 && n == 4) memcpy(&e->value, p, 4);
    else e->bad = 1;
}
/* Summary: value (1) */
static void got_summary(void *ctx, int field, const unsigned char *p, size_t n, uint64_t v) {
    if (field != 1 || read_message(p, p + n, got_value, ctx)) ((ReadEvent *)ctx)->bad = 1;
}
/* Event: wall_time (1), step (2), file_version (3), summary (5) */
static void got_event(void *ctx, int field, const unsigned char *p, size_t n, uint64_t v) {
    ReadEvent *e = ctx;
    if (field == 2) e->step = (long long)v;
    else if (field == 3) e->has_version = n == 13 && !memcmp(p, "brain.Event:2", 13);
    else if (field == 5) { if (read_message(p, p + n, got_summary, ctx)) e->bad = 1; }
    else if (field != 1) e->bad = 1;
}
static int read_event(const unsigned char *p, const unsigned char *end, ReadEvent *e) {
    memset(e, 0, sizeof *e);
    return read_message(p, end, got_event, e) || e->bad ? -1 : 0;
}

static void test_export(void) {
    const char *path = "test_export.db";
    char err[512];
    unlink(path);
    results_set_key_defaults(NULL);
    ResultsDb *db = results_open(path, err, sizeof err);
    RunInfo info = {.name = "e", .task = "english", .model = "xmoe", .experts = 8, .seed = 1,
                    .config = "{\"seed\":1,\"model\":\"xmoe\"}", .label = "xmoe-8", .host = "h", .git_rev = "r"};
    int64_t id = results_run_begin(db, &info);
    MetricValue m[3] = {{"valid", "bpb", 3.25}, {"train", "loss", 2.5}, {"valid", "odd, \"name\"", 1.0}};
    results_metrics(db, id, 10, m, 3);
    results_metrics(db, id, 20, m, 1);
    results_eval(db, id, "mc", "acc", 0.375);
    results_run_finish(db, id, "done", NULL, 1);
    results_close(db);
    CHECK(results_crc32c("123456789", 9) == 0xE3069283u, "CRC-32C check value (Castagnoli)");
    db = results_open_read(path, err, sizeof err);
    ExportCount n;
    int rc = results_export(db, "test_export_out", EXPORT_TABLES_CSV_JSONL | EXPORT_TENSORBOARD, &n, err, sizeof err);
    results_close(db);
    CHECK(rc == 0 && n.tables == 4 && n.runs == 1 && n.events == 4, "export: rc %d, %ld tables, %ld runs, %ld events (%s)", rc,
          n.tables, n.runs, n.events, err);
    /* CSV: the header, a field with a comma and quotes quoted */
    char *text;
    size_t len;
    CHECK(file_read_whole("test_export_out/metrics.csv", (void **)&text, &len) == 0, "metrics.csv read");
    text = realloc(text, len + 1);
    text[len] = 0;
    CHECK(!strncmp(text, "run_id,step,split,name,value\r\n", 30) && strstr(text, "1,10,valid,\"odd, \"\"name\"\"\",1.0\r\n") &&
          strstr(text, "1,20,valid,bpb,3.25\r\n"), "metrics.csv: header and quoting");
    free(text);
    /* JSONL: numbers as numbers, the config's rows one per key */
    CHECK(file_read_whole("test_export_out/configs.jsonl", (void **)&text, &len) == 0, "configs.jsonl read");
    text = realloc(text, len + 1);
    text[len] = 0;
    char *nl = strchr(text, '\n');
    if (nl) *nl = 0;
    cJSON *row = cJSON_Parse(text);
    CHECK(row && !strcmp(cJSON_GetObjectItem(row, "key")->valuestring, "model") && cJSON_IsString(cJSON_GetObjectItem(row, "value")),
          "configs.jsonl: first row the key 'model' with a text value: %s", text);
    cJSON_Delete(row);
    row = nl ? cJSON_Parse(nl + 1) : NULL;
    CHECK(row && cJSON_IsNumber(cJSON_GetObjectItem(row, "value")) && cJSON_GetObjectItem(row, "value")->valuedouble == 1 &&
          cJSON_IsNumber(cJSON_GetObjectItem(row, "run_id")), "configs.jsonl: seed 1 a number");
    cJSON_Delete(row);
    free(text);
    /* TensorBoard: every frame's two masked CRCs hold; the version record, then the scalars */
    CHECK(file_read_whole("test_export_out/tensorboard/run-1-xmoe-8/events.out.tfevents.0.harness", (void **)&text, &len) == 0,
          "the run's event file");
    const unsigned char *p = (const unsigned char *)text, *end = p + len;
    int records = 0, crcs = 1, version = 0, found_bpb20 = 0, found_odd = 0;
    while (p + 12 <= end) {
        uint64_t n = 0;
        for (int i = 0; i < 8; i++) n |= (uint64_t)p[i] << (8 * i);
        uint32_t lc, dc, c = results_crc32c(p, 8);
        memcpy(&lc, p + 8, 4);
        crcs &= lc == ((c >> 15) | (c << 17)) + 0xa282ead8u;
        if (p + 12 + n + 4 > end) { crcs = 0; break; }
        c = results_crc32c(p + 12, n);
        memcpy(&dc, p + 12 + n, 4);
        crcs &= dc == ((c >> 15) | (c << 17)) + 0xa282ead8u;
        ReadEvent e;
        CHECK(read_event(p + 12, p + 12 + n, &e) == 0, "record %d parses as an Event", records);
        version += e.has_version && records == 0;
        found_bpb20 += e.step == 20 && !strcmp(e.tag, "valid/bpb") && e.value == 3.25f;
        found_odd += e.step == 10 && !strcmp(e.tag, "valid/odd, \"name\"") && e.value == 1.0f;
        records++;
        p += 12 + n + 4;
    }
    CHECK(p == end && records == 5 && crcs, "5 whole records (%d) with their CRCs (%d)", records, crcs);
    CHECK(version == 1 && found_bpb20 == 1 && found_odd == 1, "the version first, then the scalars read back: %d %d %d", version,
          found_bpb20, found_odd);
    free(text);
    unlink(path);
}

/* a key stored only away from its default (mh_layers here) pairs the run that leaves it out,
 * read at the default, with the runs that set it; without the default it could not */
/* PRAGMA data_version of a connection: it changes when another connection commits */
static double watched_version(sqlite3 *c) {
    sqlite3_stmt *st;
    double v = -1;
    if (sqlite3_prepare_v2(c, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void test_key_defaults(void) {
    const char *path = "test_key_defaults.db";
    char err[512];
    unlink(path);
    results_set_key_defaults("{\"mh_layers\":\"both\",\"micro_batches\":1}");
    ResultsDb *db = results_open(path, err, sizeof err);
    const char *both = "{\"task\":\"english\",\"model\":\"mhmoe\",\"steps\":100}";
    const char *head = "{\"task\":\"english\",\"model\":\"mhmoe\",\"steps\":100,\"mh_layers\":\"head\"}";
    const char *none = "{\"task\":\"english\",\"model\":\"mhmoe\",\"steps\":100,\"mh_layers\":\"none\"}";
    const char *head_mb2 = "{\"task\":\"english\",\"model\":\"mhmoe\",\"steps\":100,\"mh_layers\":\"head\",\"micro_batches\":2}";
    for (int s = 1; s <= 2; s++) {
        add_comparable(db, "mhmoe", both, s, 10 + s, 0.3);
        add_comparable(db, "mhmoe", head, s, 10 + 2 * s, 0.3);
        add_comparable(db, "mhmoe", none, s, 9, 0.3);
        add_comparable(db, "mhmoe", head_mb2, s, 10 + 2 * s, 0.3);
    }
    results_close(db);
    /* a writing open that finds the same defaults writes nothing (another connection's
     * data_version moves only on a commit), and one with a changed default does */
    sqlite3 *watch;
    CHECK(sqlite3_open(path, &watch) == SQLITE_OK, "open a watching connection");
    double before = watched_version(watch);
    results_close(results_open(path, err, sizeof err));
    CHECK(watched_version(watch) == before, "an open with the stored defaults commits nothing");
    results_set_key_defaults("{\"mh_layers\":\"both\",\"micro_batches\":1,\"new_key\":0}");
    results_close(results_open(path, err, sizeof err));
    CHECK(watched_version(watch) != before, "a new default is stored (the check above could fail)");
    sqlite3_close(watch);
    results_set_key_defaults("{\"mh_layers\":\"both\",\"micro_batches\":1}");
    CHECK(scalar(path, "SELECT count(*) FROM verdicts WHERE metric = 'valid/ppl' AND by_key = 'mh_layers'") == 3,
          "both-head, both-none, head-none paired by mh_layers");
    CHECK(scalar(path, "SELECT diff FROM verdicts WHERE metric = 'valid/ppl' AND a = 'both' AND b = 'head'") == 1.5,
          "the default side read as 'both', the differences its own (12-11, 14-12)");
    CHECK(scalar(path, "SELECT count(*) FROM verdicts WHERE metric = 'valid/ppl' AND by_key = 'micro_batches' AND a = 1 AND b = 2") == 1,
          "a number key's default (1) orders as a number against 2");
    CHECK(scalar(path, "SELECT count(*) FROM verdicts WHERE metric = 'valid/ppl' AND a_key = '" "{\"task\":\"english\",\"model\":\"mhmoe\",\"steps\":100}" "' AND b_key LIKE '%micro%'") == 0,
          "two keys apart (mh_layers and micro_batches) is no pair");
    /* an older file read-only: the defaults in a TEMP table of the connection, the file untouched */
    sqlite3 *raw;
    sqlite3_open(path, &raw);
    sqlite3_exec(raw, "DROP TABLE key_defaults; PRAGMA user_version = 6;", NULL, NULL, NULL);
    sqlite3_close(raw);
    CHECK(harness_scalar(path, "SELECT count(*) FROM verdicts WHERE metric = 'valid/ppl' AND by_key = 'mh_layers'") == 3,
          "read-only on a file without the table: still paired");
    CHECK(scalar(path, "SELECT count(*) FROM sqlite_master WHERE name = 'key_defaults'") == 0, "the file stays as it was");
    results_set_key_defaults(NULL);
    db = results_open(path, err, sizeof err); /* upgraded, with no defaults to store */
    results_close(db);
    CHECK(scalar(path, "SELECT count(*) FROM verdicts WHERE metric = 'valid/ppl' AND by_key = 'mh_layers'") == 2,
          "without the defaults only head-none pairs (and head with micro_batches=2 against none: a key only one "
          "has does not count then): the test above could fail");
    unlink(path);
}

/* a file made before the comparable column and the verdict views gets both when opened */
static void test_upgrade(void) {
    const char *path = "test_upgrade.db";
    unlink(path);
    sqlite3 *raw;
    sqlite3_open(path, &raw);
    sqlite3_exec(raw, "CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT, task TEXT NOT NULL, model TEXT NOT NULL,"
                 " experts INTEGER NOT NULL DEFAULT 0, topk INTEGER NOT NULL DEFAULT 0, heads INTEGER NOT NULL DEFAULT 0,"
                 " seed INTEGER, config TEXT NOT NULL, params INTEGER, flops_per_token REAL, status TEXT NOT NULL,"
                 " error TEXT, started_at TEXT NOT NULL, finished_at TEXT, wall_s REAL, host TEXT, git_rev TEXT);"
                 "INSERT INTO runs(task, model, config, status, started_at) VALUES ('english', 'dense', '{}', 'done', 'x');"
                 "CREATE VIEW table1 AS SELECT 'old' AS ppl_std;", NULL, NULL, NULL);
    sqlite3_close(raw);
    char err[512];
    ResultsDb *db = results_open(path, err, sizeof err);
    CHECK(db != NULL, "old file opens: %s", err);
    results_close(db);
    CHECK(scalar(path, "SELECT count(*) FROM pragma_table_info('runs') WHERE name IN ('comparable', 'label')") == 2,
          "the added columns");
    CHECK(scalar(path, "SELECT count(*) FROM sqlite_master WHERE type = 'view' AND name = 'verdicts'") == 1, "verdicts view");
    CHECK(scalar(path, "SELECT count(*) FROM pragma_table_info('table1') WHERE name = 'ppl_ci95'") == 1,
          "the old table1 view replaced");
    CHECK(scalar(path, "SELECT count(*) FROM runs") == 1, "the stored run kept");
    unlink(path);
}

int main(void) {
    test_upgrade();
    test_student_p();
    test_paper_gap_range();
    test_seeds_for();
    test_verdicts();
    test_key_defaults();
    test_export();
    const char *path = "test_results.db";
    char err[512];
    unlink(path);
    ResultsDb *db = results_open(path, err, sizeof err);
    CHECK(db != NULL, "open: %s", err);
    int64_t a = add_run(db, "xmoe", 1, 20, 10), b = add_run(db, "xmoe", 2, 30, 14), c = add_run(db, "dense", 1, 40, 12);
    CHECK(a > 0 && b > a && c > b, "run ids %lld %lld %lld", (long long)a, (long long)b, (long long)c);
    CHECK(scalar(path, "SELECT count(*) FROM runs WHERE status='running'") == 3, "new runs are 'running'");
    results_run_finish(db, a, "done", NULL, 1.5);
    results_run_finish(db, b, "done", NULL, 2.5);
    results_run_finish(db, c, "failed", "boom", 0.5);
    CHECK(scalar(path, "SELECT wall_s FROM runs WHERE id=2") == 2.5, "wall_s stored");
    CHECK(scalar(path, "SELECT count(*) FROM runs WHERE error='boom' AND status='failed'") == 1, "error text stored");
    /* final_metrics takes each metric at its own last step */
    CHECK(scalar(path, "SELECT value FROM final_metrics WHERE run_id=1 AND metric='ppl'") == 10, "final ppl of run 1");
    CHECK(scalar(path, "SELECT step FROM final_metrics WHERE run_id=1 AND metric='loss'") == 100, "loss last logged at 100");
    /* table1: done runs only, mean, sample standard deviation and 95% interval over seeds */
    CHECK(scalar(path, "SELECT ppl_mean FROM table1 WHERE model='xmoe'") == 12, "xmoe mean of 10 and 14");
    CHECK(fabs(scalar(path, "SELECT ppl_sd FROM table1 WHERE model='xmoe'") - sqrt(8)) < 1e-9, "xmoe sd of 10 and 14");
    CHECK(fabs(scalar(path, "SELECT ppl_ci95 FROM table1 WHERE model='xmoe'") - 12.706 * 2) < 1e-9,
          "interval half-width t(0.975, 1) * sd / sqrt(2)");
    CHECK(scalar(path, "SELECT n FROM table1 WHERE model='xmoe'") == 2, "n");
    CHECK(scalar(path, "SELECT count(*) FROM table1 WHERE model='dense'") == 0, "failed runs are not in table1");
    CHECK(results_eval(db, a, "mc", "acc", 0.5) == 0, "eval row");
    CHECK(results_eval(db, b, "mc", "acc", 0.7) == 0 && results_eval(db, c, "mc", "acc", 0.9) == 0, "eval rows");
    /* downstream view: xmoe runs 1 and 2 averaged (0.5, 0.7), the failed run left out */
    CHECK(fabs(scalar(path, "SELECT mean FROM downstream WHERE model='xmoe' AND metric='acc'") - 0.6) < 1e-12, "downstream mean");
    CHECK(fabs(scalar(path, "SELECT sd FROM downstream WHERE model='xmoe' AND metric='acc'") - sqrt(0.02)) < 1e-9, "downstream sd");
    CHECK(scalar(path, "SELECT count(*) FROM downstream WHERE model='dense'") == 0, "failed runs are not in downstream");
    CHECK(results_checkpoint(db, a, 200, "runs/run-1.ckpt", NULL) == 0, "checkpoint row");
    char *cfg = results_run_config(db, a);
    CHECK(cfg && !strcmp(cfg, "{\"seed\":1}"), "config round trip: %s", cfg ? cfg : "(null)");
    free(cfg);
    CHECK(results_run_config(db, 99) == NULL, "no config for a missing run");
    /* a status outside the allowed set is refused by the schema */
    CHECK(results_run_finish(db, a, "exploded", NULL, 0) != 0, "bad status accepted");
    /* queries through the harness are read-only */
    CHECK(results_print_query(db, "DELETE FROM runs", 0, err, sizeof err) != 0 && strstr(err, "read-only"),
          "a write got through the query command: %s", err);
    CHECK(scalar(path, "SELECT count(*) FROM runs") == 3, "rows survived");
    CHECK(results_print_query(db, "SELECT nosuchcolumn FROM runs", 0, err, sizeof err) != 0 && strstr(err, "nosuchcolumn"),
          "bad query message: %s", err);
    /* activation views on a known histogram: 4 experts, layer 1, heads 0 and 1 with 100
     * assignments each; expert loads 90+50, 5+30, 5+20, 0+0 of 200 */
    RunInfo moe = {.name = "m", .task = "english", .model = "mhmoe", .experts = 4, .topk = 1, .heads = 2,
                   .config = "{}", .host = "h", .git_rev = "r"};
    int64_t mr = results_run_begin(db, &moe);
    ActivationCount hist[8] = {{1, 0, 0, 90, 100}, {1, 0, 1, 5, 100}, {1, 0, 2, 5, 100}, {1, 0, 3, 0, 100},
                               {1, 1, 0, 50, 100}, {1, 1, 1, 30, 100}, {1, 1, 2, 20, 100}, {1, 1, 3, 0, 100}};
    CHECK(results_activations(db, mr, 50, "valid", hist, 8) == 0, "activations written");
    char q[256];
    snprintf(q, sizeof q, "SELECT share FROM activation_share WHERE run_id=%lld AND expert=0", (long long)mr);
    CHECK(fabs(scalar(path, q) - 0.7) < 1e-12, "expert 0 share: %g", scalar(path, q));
    /* threshold t = 0.25: activated when share >= 0.25 / 4; experts 0, 1, 2 are, 3 is not */
    snprintf(q, sizeof q, "SELECT ratio FROM activation_ratio WHERE run_id=%lld", (long long)mr);
    CHECK(fabs(scalar(path, q) - 0.75) < 1e-12, "activation ratio %g, want 0.75", scalar(path, q));
    /* entropy of (0.7, 0.175, 0.125, 0) over ln 4 */
    double want = -(0.7 * log(0.7) + 0.175 * log(0.175) + 0.125 * log(0.125)) / log(4);
    snprintf(q, sizeof q, "SELECT entropy FROM activation_entropy WHERE run_id=%lld", (long long)mr);
    CHECK(fabs(scalar(path, q) - want) < 1e-9, "load entropy %g, want %g", scalar(path, q), want);
    /* the threshold lives in one place: raising it to 1.0 (share >= 1/4) leaves only expert 0 */
    results_close(db);
    sqlite3 *s2;
    sqlite3_open(path, &s2);
    sqlite3_exec(s2, "UPDATE settings SET value = 1.0 WHERE name = 'activation_threshold'", NULL, NULL, NULL);
    sqlite3_close(s2);
    snprintf(q, sizeof q, "SELECT ratio FROM activation_ratio WHERE run_id=%lld", (long long)mr);
    CHECK(fabs(scalar(path, q) - 0.25) < 1e-12, "ratio at t = 1: %g", scalar(path, q));
    /* the paper's definition: selections per token (2 heads x 100 sub-tokens = 100 tokens):
     * 1.4, 0.35, 0.25, 0; above 1/128 three experts, above 0.3 two */
    snprintf(q, sizeof q, "SELECT per_token FROM activation_share WHERE run_id=%lld AND expert=1", (long long)mr);
    CHECK(fabs(scalar(path, q) - 0.35) < 1e-12, "expert 1 selections per token: %g", scalar(path, q));
    snprintf(q, sizeof q, "SELECT ratio_paper FROM activation_ratio WHERE run_id=%lld", (long long)mr);
    CHECK(fabs(scalar(path, q) - 0.75) < 1e-12, "paper ratio %g, want 0.75", scalar(path, q));
    /* an expert that got nothing is never active, even at threshold 0 */
    sqlite3_open(path, &s2);
    sqlite3_exec(s2, "UPDATE settings SET value = 0.3 WHERE name = 'paper_activation_threshold';"
                     "UPDATE settings SET value = 0 WHERE name = 'activation_threshold'", NULL, NULL, NULL);
    sqlite3_close(s2);
    CHECK(fabs(scalar(path, q) - 0.5) < 1e-12, "paper ratio at 0.3: %g, want 0.5", scalar(path, q));
    snprintf(q, sizeof q, "SELECT ratio FROM activation_ratio WHERE run_id=%lld", (long long)mr);
    CHECK(fabs(scalar(path, q) - 0.75) < 1e-12, "ratio at t = 0: %g, want 0.75 (the idle expert stays inactive)", scalar(path, q));
    sqlite3 *raw;
    sqlite3_open(path, &raw);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, NULL);
    sqlite3_step(st);
    CHECK(!strcmp((const char *)sqlite3_column_text(st, 0), "wal"), "journal mode %s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(raw);

    /* a file that is not a database: a clear error naming it, and the file left as it was */
    const char *junk = "test_results_junk.db";
    FILE *f = fopen(junk, "w");
    fputs("this is not a database, it is a text file of some length to be safe.\n", f);
    for (int i = 0; i < 100; i++) fputs("more text to exceed one page of sqlite header checks\n", f);
    fclose(f);
    ResultsDb *bad = results_open(junk, err, sizeof err);
    CHECK(bad == NULL && strstr(err, junk), "junk file: %s", err);
    f = fopen(junk, "r");
    char line[64];
    CHECK(fgets(line, sizeof line, f) && !strncmp(line, "this is not a database", 22), "junk file was changed");
    fclose(f);
    unlink(junk);
    unlink(path);
    CHECK_FINISH();
}
