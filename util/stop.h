/* A request to stop, set from a signal handler and read by any long loop: the training loop
 * between steps, and every evaluation loop between batches, so a signal is acted on within one
 * batch's forward pass rather than at the end of an evaluation that may take minutes. A loop
 * that sees it returns early; whatever such a cut-short pass computed is partial, and the
 * harness discards it. */
#ifndef MOEH_STOP_H
#define MOEH_STOP_H

/* async-signal-safe: only sets a flag */
void stop_request(void);
int stop_requested(void);

#endif
