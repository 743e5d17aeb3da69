/* Configuration keys: presets, explicit overrides, errors that name the key and the nearest
 * known key, and the JSON form stored with every run. */
#include "check.h"
#include "harness/config.h"
#include <string.h>

int main(void) {
    char err[512];
    Config *c = config_new();
    CHECK(config_set(c, "size=tiny", err, sizeof err) == 0, "%s", err);
    CHECK(config_set(c, "steps=7", err, sizeof err) == 0, "%s", err);
    config_resolve(c);
    CHECK(config_int(c, "d_model") == 64, "tiny preset d_model: %ld", config_int(c, "d_model"));
    CHECK(config_int(c, "steps") == 7, "explicit steps kept over the preset: %ld", config_int(c, "steps"));
    CHECK(config_float(c, "beta2") == 0.95, "default beta2");
    CHECK(!strcmp(config_str(c, "task"), "english"), "default task");

    CHECK(config_set(c, "stpes=5", err, sizeof err) != 0 && strstr(err, "'stpes'") && strstr(err, "'steps'"),
          "unknown key message: %s", err);
    CHECK(config_set(c, "steps=abc", err, sizeof err) != 0 && strstr(err, "steps=abc") && strstr(err, "whole number"),
          "bad int message: %s", err);
    CHECK(config_set(c, "lr=-1", err, sizeof err) != 0 && strstr(err, "lr=-1"), "negative lr: %s", err);
    CHECK(config_set(c, "schedule=exp", err, sizeof err) != 0 && strstr(err, "cosine|linear"), "enum message: %s", err);
    CHECK(config_set(c, "noequals", err, sizeof err) != 0 && strstr(err, "key=value"), "missing '=': %s", err);
    CHECK(config_int(c, "steps") == 7, "a refused value leaves the old one");

    /* JSON round trip: a run repeated from its stored config resolves to the same values */
    char *json = config_to_json(c);
    Config *d = config_new();
    CHECK(config_merge_json(d, json, err, sizeof err) == 0, "merge: %s", err);
    config_resolve(d);
    char *json2 = config_to_json(d);
    CHECK(!strcmp(json, json2), "round trip\n%s\n%s", json, json2);
    /* explicit words win over the stored config */
    Config *e = config_new();
    config_set(e, "steps=99", err, sizeof err);
    config_merge_json(e, json, err, sizeof err);
    config_resolve(e);
    CHECK(config_int(e, "steps") == 99, "explicit override of a stored run");
    CHECK(config_merge_json(e, "{\"bogus\":1}", err, sizeof err) != 0 && strstr(err, "bogus"), "unknown stored key: %s", err);
    CHECK(config_merge_json(e, "[1,2]", err, sizeof err) != 0, "non-object JSON accepted");
    free(json); free(json2);
    config_free(c); config_free(d); config_free(e);
    CHECK_FINISH();
}
