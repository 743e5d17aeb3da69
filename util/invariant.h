/* Internal invariants that stay checked in release builds (assert() is compiled out under
 * NDEBUG): a broken one is a bug in the harness, not bad input, so it names the condition,
 * file and line and aborts. Only for cheap conditions outside the inner loops. */
#ifndef MOEH_INVARIANT_H
#define MOEH_INVARIANT_H

_Noreturn void invariant_failed(const char *cond, const char *file, int line);

#define INVARIANT(cond) ((cond) ? (void)0 : invariant_failed(#cond, __FILE__, __LINE__))

#endif
