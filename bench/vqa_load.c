/* Loading VQAv2 at its real size: writes a question file and an annotation file shaped and
 * sized like VQAv2 train2014 (443,757 questions on 82,783 images, ten answers each with the
 * official fields), then times vqa_load on them and reports the peak memory.
 *   bench_vqa_load [DIR] [QUESTIONS]     (default DIR /tmp/vqa_bench, 443757 questions)
 * Target (issue 13): under 20 s and under 2 GB on 2 cores. */
#include "tasks/vision_data.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp/vqa_bench";
    int nq = argc > 2 ? atoi(argv[2]) : 443757, images = nq * 82783LL / 443757 + 1;
    static const char *const ANSWERS[] = {"yes", "no", "2", "1", "white", "red", "blue", "3", "black", "dog", "frisbee",
                                          "tennis", "kitchen", "pizza", "0", "green", "brown", "right", "left", "4"};
    char qpath[512], apath[512];
    mkdir(dir, 0755);
    snprintf(qpath, sizeof qpath, "%s/v2_OpenEnded_mscoco_train2014_questions.json", dir);
    snprintf(apath, sizeof apath, "%s/v2_mscoco_train2014_annotations.json", dir);
    double t0 = now();
    FILE *q = fopen(qpath, "w"), *a = fopen(apath, "w");
    if (!q || !a) { fprintf(stderr, "error: cannot write into %s\n", dir); return 2; }
    fprintf(q, "{\"info\": {\"description\": \"generated\"}, \"task_type\": \"Open-Ended\", \"data_type\": \"mscoco\", \"questions\": [");
    fprintf(a, "{\"info\": {\"description\": \"generated\"}, \"annotations\": [");
    unsigned s = 12345;
    for (int i = 0; i < nq; i++) {
        /* COCO-style image ids (sparse, up to ~581,929) and VQAv2-style question ids */
        long long image = 9 + (long long)(i % images) * 7, qid = image * 1000 + i / images;
        fprintf(q, "%s{\"image_id\": %lld, \"question\": \"What is the man in picture %d holding in his hand?\", \"question_id\": %lld}",
                i ? ", " : "", image, i % 977, qid);
        fprintf(a, "%s{\"question_type\": \"what is the\", \"multiple_choice_answer\": \"%s\", \"answers\": [", i ? ", " : "",
                ANSWERS[i % 20]);
        for (int k = 0; k < 10; k++) {
            s = s * 1103515245u + 12345u;
            fprintf(a, "%s{\"answer\": \"%s\", \"answer_confidence\": \"yes\", \"answer_id\": %d}", k ? ", " : "",
                    ANSWERS[(s >> 16) % 4 ? i % 20 : (int)((s >> 8) % 20)], k + 1);
        }
        fprintf(a, "], \"image_id\": %lld, \"answer_type\": \"other\", \"question_id\": %lld}", image, qid);
    }
    fprintf(q, "], \"license\": {}}\n");
    fprintf(a, "], \"license\": {}}\n");
    fclose(q);
    fclose(a);
    struct stat sq, sa;
    stat(qpath, &sq);
    stat(apath, &sa);
    printf("wrote %d questions on %d images: %.0f MB questions, %.0f MB annotations (%.1f s)\n", nq, images,
           sq.st_size / 1e6, sa.st_size / 1e6, now() - t0);
    VqaItem *items;
    int n;
    char err[1024];
    t0 = now();
    if (vqa_load(qpath, apath, IMAGES_ALL, &items, &n, err, sizeof err)) { fprintf(stderr, "error: %s\n", err); return 1; }
    double took = now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("vqa_load: %d questions joined in %.2f s, peak RSS %.0f MB (target: < 20 s, < 2048 MB)\n", n, took,
           ru.ru_maxrss / 1024.0);
    free(items);
    return 0;
}
