/* Reads the arrays of a large JSON file one element at a time: each element is parsed by
 * cJSON, handed to a callback and freed, so a VQAv2-train-sized annotation file (hundreds of
 * MB) never exists as one cJSON tree (measured: several GB). Only the top level is scanned
 * here; every element and every other top-level value goes through cJSON. */
#ifndef MOEH_JSON_STREAM_H
#define MOEH_JSON_STREAM_H
#include <cJSON.h>
#include <stddef.h>

/* called for element `index` of the array; 0, or -1 with err saying what was expected (the
 * stream adds the file and line) */
typedef int (*JsonElementFn)(const cJSON *element, int index, void *ctx, char *err, size_t errlen);

typedef struct {
    const char *key; /* a top-level key whose value is an array */
    JsonElementFn each;
} JsonArrayHandler;

/* Streams path's top-level object: for each handler, its array's elements in order, in file
 * order of the keys. 0, or -1 with err naming the file and line: not JSON, not an object, a
 * handler's key missing or not an array, or a callback's error. */
int json_stream_arrays(const char *path, const JsonArrayHandler *handlers, int n_handlers, void *ctx,
                       char *err, size_t errlen);

#endif
