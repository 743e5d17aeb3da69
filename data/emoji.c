#include "util/xalloc.h"
#include "emoji.h"
#include "formats.h"
#include "util/rng.h"
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#define EMOJI_SIZE 64
#define MAX_GROUPS 16

typedef struct { char name[128], file[4600]; int group; char subgroup[64]; } Emoji;

static char GROUPS[MAX_GROUPS][48];
static int n_groups;

static int group_id(const char *g) {
    for (int i = 0; i < n_groups; i++) if (!strcmp(GROUPS[i], g)) return i;
    if (n_groups == MAX_GROUPS) return -1;
    snprintf(GROUPS[n_groups], sizeof GROUPS[0], "%s", g);
    return n_groups++;
}

static void lower(char *s) { for (; *s; s++) *s = (char)tolower((unsigned char)*s); }

/* the PNG of a code point sequence: two regional indicators are a flag file ("AC.png"),
 * everything else emoji_u<hex>_<hex>.png without variation selectors (FE0F) */
static void file_for(const unsigned *cp, int n, char *out, size_t len) {
    if (n == 2 && cp[0] >= 0x1F1E6 && cp[0] <= 0x1F1FF && cp[1] >= 0x1F1E6 && cp[1] <= 0x1F1FF) {
        snprintf(out, len, "%c%c.png", 'A' + (cp[0] - 0x1F1E6), 'A' + (cp[1] - 0x1F1E6));
        return;
    }
    size_t used = snprintf(out, len, "emoji_u");
    int first = 1;
    for (int i = 0; i < n && used < len; i++) {
        if (cp[i] == 0xFE0F) continue;
        used += snprintf(out + used, len - used, "%s%x", first ? "" : "_", cp[i]);
        first = 0;
    }
    if (used < len) snprintf(out + used, len - used, ".png");
}

/* every fully-qualified emoji of emoji-test.txt without a skin-tone modifier (the toned
 * variants would put near-copies of one image in different splits) whose PNG is there */
static int read_emoji(const char *source, Emoji **out, int *n, char *err, size_t errlen) {
    char path[4400], line[1024], group[64] = "", subgroup[64] = "";
    snprintf(path, sizeof path, "%s/vendor/unicode/emoji-test.txt", source);
    FILE *f = fopen(path, "r");
    if (!f) { snprintf(err, errlen, "%s: cannot open: %s (install ruby-tanuki-emoji)", path, strerror(errno)); return -1; }
    int cap = 4096, count = 0, lineno = 0;
    Emoji *e = xmalloc(sizeof(Emoji) * cap);
    n_groups = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strncmp(line, "# group: ", 9)) { sscanf(line + 9, "%63[^\n]", group); lower(group); continue; }
        if (!strncmp(line, "# subgroup: ", 12)) { sscanf(line + 12, "%63[^\n]", subgroup); continue; }
        if (line[0] == '#' || !strstr(line, "; fully-qualified") || !strcmp(group, "component")) continue;
        unsigned cp[16];
        int k = 0, toned = 0, used;
        const char *p = line;
        while (k < 16 && sscanf(p, "%x%n", &cp[k], &used) == 1) {
            toned |= cp[k] >= 0x1F3FB && cp[k] <= 0x1F3FF;
            k++;
            p += used;
        }
        const char *hash = strchr(line, '#'), *name = hash ? strstr(hash, " E") : NULL;
        if (!k || !name) { snprintf(err, errlen, "%s:%d: expected CODE POINTS ; status # EMOJI E<version> name", path, lineno); fclose(f); free(e); return -1; }
        if (toned) continue;
        name = strchr(name + 2, ' ');
        if (!name) continue;
        Emoji *x = &e[count];
        snprintf(x->name, sizeof x->name, "%s", name + 1);
        x->name[strcspn(x->name, "\r\n")] = 0;
        lower(x->name);
        char file[200];
        file_for(cp, k, file, sizeof file);
        snprintf(x->file, sizeof x->file, "%s/app/assets/images/tanuki_emoji/%s", source, file);
        FILE *probe = fopen(x->file, "rb");
        if (!probe) continue;
        fclose(probe);
        x->group = group_id(group);
        snprintf(x->subgroup, sizeof x->subgroup, "%s", subgroup);
        for (char *s = x->subgroup; *s; s++) if (*s == '-') *s = ' ';
        if (x->group < 0) continue;
        if (++count == cap) { cap *= 2; e = xrealloc(e, sizeof(Emoji) * cap); }
    }
    fclose(f);
    *out = e;
    *n = count;
    if (!count) { snprintf(err, errlen, "%s: no emoji with an image found under %s/app/assets/images/tanuki_emoji", path, source); return -1; }
    return 0;
}

/* the RGBA image on grey, area-averaged down to EMOJI_SIZE, as an RGB PNG */
static int convert_image(const char *src, const char *dst, char *err, size_t errlen) {
    int w, h, ch;
    unsigned char *img = stbi_load(src, &w, &h, &ch, 4);
    if (!img) { snprintf(err, errlen, "%s: cannot decode image: %s", src, stbi_failure_reason()); return -1; }
    unsigned char out[EMOJI_SIZE * EMOJI_SIZE * 3];
    for (int y = 0; y < EMOJI_SIZE; y++)
        for (int x = 0; x < EMOJI_SIZE; x++) {
            int y0 = y * h / EMOJI_SIZE, y1 = (y + 1) * h / EMOJI_SIZE, x0 = x * w / EMOJI_SIZE, x1 = (x + 1) * w / EMOJI_SIZE;
            if (y1 <= y0) y1 = y0 + 1;
            if (x1 <= x0) x1 = x0 + 1;
            double acc[3] = {0, 0, 0};
            int cnt = 0;
            for (int yy = y0; yy < y1; yy++)
                for (int xx = x0; xx < x1; xx++, cnt++) {
                    const unsigned char *p = img + ((size_t)yy * w + xx) * 4;
                    double a = p[3] / 255.0;
                    for (int c = 0; c < 3; c++) acc[c] += a * p[c] + (1 - a) * 128;
                }
            for (int c = 0; c < 3; c++) out[(y * EMOJI_SIZE + x) * 3 + c] = (unsigned char)(acc[c] / cnt + 0.5);
        }
    stbi_image_free(img);
    if (!stbi_write_png(dst, EMOJI_SIZE, EMOJI_SIZE, 3, out, EMOJI_SIZE * 3)) {
        snprintf(err, errlen, "%s: cannot write PNG", dst);
        return -1;
    }
    return 0;
}

static uint32_t fnv1a(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int split_of(const Emoji *e) {
    uint32_t b = fnv1a(e->name) % 10;
    return b == 0 ? 2 : b == 1 ? 1 : 0;
}

int emoji_prepare(const char *data_dir, const char *source, char *err, size_t errlen) {
    static const char *const SPLITS[3] = {"train", "valid", "test"};
    Emoji *all;
    int n;
    if (read_emoji(source ? source : EMOJI_GEM_DIR, &all, &n, err, errlen)) return -1;
    char root[4200], dir[4300], path[4500], text[512];
    snprintf(root, sizeof root, "%s/emoji", data_dir);
    if (make_folder(data_dir) || make_folder(root)) { snprintf(err, errlen, "%s: cannot create folder: %s", root, strerror(errno)); free(all); return -1; }
    int sizes[3] = {0, 0, 0}, group_train[MAX_GROUPS] = {0}, major = 0, hit_major = 0;
    for (int s = 0; s < 3; s++) {
        snprintf(dir, sizeof dir, "%s/%s", root, SPLITS[s]);
        snprintf(path, sizeof path, "%s/images", dir);
        if (make_folder(dir) || make_folder(path)) { snprintf(err, errlen, "%s: cannot create folder: %s", path, strerror(errno)); free(all); return -1; }
        SplitWriter w;
        split_writer_init(&w);
        int *ids = xmalloc(sizeof(int) * n), m = 0;
        Rng r;
        rng_seed(&r, 77 + s);
        for (int i = 0; i < n; i++) {
            if (split_of(&all[i]) != s) continue;
            const Emoji *e = &all[i];
            snprintf(path, sizeof path, "%s/images/%d.png", dir, m);
            if (convert_image(e->file, path, err, errlen)) { free(ids); free(all); split_writer_finish(&w, dir, err, errlen); return -1; }
            snprintf(path, sizeof path, "images/%d.png", m);
            split_add_image(&w, m, path, EMOJI_SIZE, EMOJI_SIZE);
            split_add_caption(&w, m * 3, m, e->name);
            snprintf(text, sizeof text, "a %s emoji: %s", e->subgroup, e->name);
            split_add_caption(&w, m * 3 + 1, m, text);
            snprintf(text, sizeof text, "%s, from the %s group", e->name, GROUPS[e->group]);
            split_add_caption(&w, m * 3 + 2, m, text);
            split_add_question(&w, m * 10, m, "what group is this emoji from?", "group", "other", GROUPS[e->group]);
            /* a yes/no question about a group drawn so that yes and no are equally likely */
            int g = rng_below(&r, 2) ? e->group : (int)rng_below(&r, n_groups);
            snprintf(text, sizeof text, "is this emoji from the %s group?", GROUPS[g]);
            split_add_question(&w, m * 10 + 1, m, text, "group yes/no", "yes/no", g == e->group ? "yes" : "no");
            if (s == 0) group_train[e->group]++;
            ids[m++] = i;
        }
        if (s == 0) for (int g = 1; g < n_groups; g++) if (group_train[g] > group_train[major]) major = g;
        if (s == 1) for (int j = 0; j < m; j++) hit_major += all[ids[j]].group == major;
        /* NLVR2: statements about two emoji, labels alternating */
        for (int j = 0; j < 2 * m && m > 1; j++) {
            int want = j % 2, label = -1, L = 0, R = 0, same = (int)rng_below(&r, 2), g = (int)rng_below(&r, n_groups);
            for (int tries = 0; tries < 500 && label != want; tries++) {
                L = (int)rng_below(&r, m);
                R = (int)rng_below(&r, m);
                label = same ? all[ids[L]].group == all[ids[R]].group : all[ids[L]].group == g;
            }
            if (label != want) continue;
            char id[32], left[32], right[32];
            if (same) snprintf(text, sizeof text, "both emoji are from the same group");
            else snprintf(text, sizeof text, "the left emoji is from the %s group", GROUPS[g]);
            snprintf(id, sizeof id, "emoji-%d", j);
            snprintf(left, sizeof left, "images/%d.png", L);
            snprintf(right, sizeof right, "images/%d.png", R);
            split_add_statement(&w, id, text, label, left, right);
        }
        sizes[s] = m;
        free(ids);
        if (split_writer_finish(&w, dir, err, errlen)) { free(all); return -1; }
    }
    free(all);
    printf("data prepare emoji: %d / %d / %d images in %d groups -> %s; \"what group\" question-only "
           "(majority group) baseline on valid %.3f\n", sizes[0], sizes[1], sizes[2], n_groups, root,
           sizes[1] ? (double)hit_major / sizes[1] : 0);
    return 0;
}
