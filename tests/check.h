/* Minimal test support: CHECK records a failure with its location and goes on, so one run
 * reports every broken check; test_main's exit code is what ctest reads. */
#ifndef MOEH_TEST_CHECK_H
#define MOEH_TEST_CHECK_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_failures = 0, check_count = 0;

#define CHECK(cond, ...) do { check_count++; if (!(cond)) { check_failures++; \
    fprintf(stderr, "%s:%d: FAILED %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

#define CHECK_FINISH() do { printf("%d checks, %d failed\n", check_count, check_failures); \
    return check_failures ? 1 : 0; } while (0)

#endif
