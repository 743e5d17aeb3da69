#include "json_stream.h"
#include "data/text_corpus.h"
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *p, *end, *path;
    const char *counted; /* lines are counted up to here */
    int line;
} Scan;

static int line_at(Scan *s, const char *at) {
    for (; s->counted < at && s->counted < s->end; s->counted++) s->line += *s->counted == '\n';
    return s->line;
}

static void skip_space(Scan *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t')) s->p++;
}

static int fail(Scan *s, const char *at, const char *what, char *err, size_t errlen) {
    snprintf(err, errlen, "%s: line %d: %s", s->path, line_at(s, at), what);
    return -1;
}

/* parses one value at s->p with cJSON, leaving s->p after it */
static cJSON *parse_value(Scan *s, char *err, size_t errlen) {
    const char *stop = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(s->p, (size_t)(s->end - s->p), &stop, 0);
    if (!v) { fail(s, stop ? stop : s->p, "not valid JSON", err, errlen); return NULL; }
    s->p = stop;
    return v;
}

int json_stream_arrays(const char *path, const JsonArrayHandler *h, int nh, void *ctx, char *err, size_t errlen) {
    ByteBuf b = {0};
    if (read_whole_file(path, &b, err, errlen)) return -1;
    Scan s = {(const char *)b.data, (const char *)b.data + b.n, path, (const char *)b.data, 1};
    int rc = -1, seen[16] = {0};
    if (nh > 16) { snprintf(err, errlen, "%s: at most 16 arrays per file", path); goto done; }
    if (s.p + 3 <= s.end && !memcmp(s.p, "\xef\xbb\xbf", 3)) s.p += 3; /* a UTF-8 byte order mark */
    skip_space(&s);
    if (s.p == s.end || *s.p != '{') { fail(&s, s.p, "expected a JSON object", err, errlen); goto done; }
    s.p++;
    for (;;) {
        skip_space(&s);
        if (s.p < s.end && *s.p == '}') break;
        /* a key: parsed by cJSON too, so escapes are handled the same way as everywhere else */
        if (s.p == s.end || *s.p != '"') { fail(&s, s.p, "expected a key or }", err, errlen); goto done; }
        cJSON *key = parse_value(&s, err, errlen);
        if (!key) goto done;
        int k = -1;
        for (int i = 0; i < nh; i++) if (!strcmp(h[i].key, key->valuestring)) k = i;
        cJSON_Delete(key);
        skip_space(&s);
        if (s.p == s.end || *s.p != ':') { fail(&s, s.p, "expected : after a key", err, errlen); goto done; }
        s.p++;
        skip_space(&s);
        if (k < 0) { /* a value nobody asked for (info, licenses): parsed to skip it */
            cJSON *v = parse_value(&s, err, errlen);
            if (!v) goto done;
            cJSON_Delete(v);
        } else {
            if (s.p == s.end || *s.p != '[') {
                char what[128];
                snprintf(what, sizeof what, "expected \"%s\" to be an array", h[k].key);
                fail(&s, s.p, what, err, errlen);
                goto done;
            }
            s.p++;
            seen[k] = 1;
            for (int index = 0;; index++) {
                skip_space(&s);
                if (s.p < s.end && *s.p == ']' && index == 0) { s.p++; break; }
                const char *at = s.p;
                cJSON *e = parse_value(&s, err, errlen);
                if (!e) goto done;
                char why[768] = "";
                int bad = h[k].each(e, index, ctx, why, sizeof why);
                cJSON_Delete(e);
                if (bad) { fail(&s, at, why, err, errlen); goto done; }
                skip_space(&s);
                if (s.p < s.end && *s.p == ',') { s.p++; continue; }
                if (s.p < s.end && *s.p == ']') { s.p++; break; }
                fail(&s, s.p, "expected , or ] in an array", err, errlen);
                goto done;
            }
        }
        skip_space(&s);
        if (s.p < s.end && *s.p == ',') { s.p++; continue; }
        if (s.p < s.end && *s.p == '}') break;
        fail(&s, s.p, "expected , or } in the top-level object", err, errlen);
        goto done;
    }
    s.p++; /* the closing } */
    skip_space(&s);
    if (s.p != s.end) { /* a second document, or junk: what it holds would be silently ignored */
        fail(&s, s.p, "expected the end of the file after the top-level object", err, errlen);
        goto done;
    }
    for (int i = 0; i < nh; i++)
        if (!seen[i]) { snprintf(err, errlen, "%s: expected an object with an array \"%s\"", path, h[i].key); goto done; }
    rc = 0;
done:
    bytebuf_free(&b);
    return rc;
}
