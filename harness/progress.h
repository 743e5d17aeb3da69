/* Progress of a long run: one rewritten line on a terminal, plain lines otherwise. */
#ifndef MOEH_PROGRESS_H
#define MOEH_PROGRESS_H
#include <stdio.h>

typedef struct {
    int tty;
    long total_steps, every;
    double started;
} Progress;

double now_seconds(void); /* monotonic clock */
void progress_start(Progress *p, long total_steps, long every);
/* the time left is counted from now (after work that is not training steps) */
void progress_restart_clock(Progress *p);
void progress_step(Progress *p, long step, double loss, double tokens_per_s);
/* a line that must not be overwritten (evaluation results, warnings) */
void progress_note(Progress *p, const char *fmt, ...);
void progress_end(Progress *p);

#endif
