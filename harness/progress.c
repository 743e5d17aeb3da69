#include "progress.h"
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void progress_start(Progress *p, long total_steps, long every) {
    p->tty = isatty(fileno(stderr));
    p->total_steps = total_steps;
    p->every = every;
    p->started = now_seconds();
}

void progress_restart_clock(Progress *p) { p->started = now_seconds(); }

static void fmt_duration(char *buf, size_t n, double s) {
    if (s < 0) s = 0;
    if (s < 60) snprintf(buf, n, "%.0fs", s);
    else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, n, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

void progress_step(Progress *p, long step, double loss, double tokens_per_s) {
    if (!p->tty && step % p->every && step != p->total_steps) return;
    double el = now_seconds() - p->started;
    char eta[32], elapsed[32];
    fmt_duration(eta, sizeof eta, step ? el / step * (p->total_steps - step) : 0);
    fmt_duration(elapsed, sizeof elapsed, el);
    FILE *f = p->tty ? stderr : stdout;
    fprintf(f, "%sstep %ld/%ld  loss %.4f  %.0f tok/s  elapsed %s  eta %s%s", p->tty ? "\r\033[K" : "",
            step, p->total_steps, loss, tokens_per_s, elapsed, eta, p->tty ? "" : "\n");
    fflush(f);
}

void progress_note(Progress *p, const char *fmt, ...) {
    if (p->tty) fputs("\r\033[K", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

void progress_end(Progress *p) {
    if (p->tty) fputc('\n', stderr);
}
