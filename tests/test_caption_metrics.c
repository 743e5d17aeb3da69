/* BLEU-4, CIDEr-D and ROUGE-L on examples worked by hand (the arithmetic is in the comments). */
#include "check.h"
#include "tasks/caption_metrics.h"

int main(void) {
    /* BLEU-4: "the cat sat on the mat today" against "the cat sat on the mat":
     * p1..p4 = 6/7, 5/6, 4/5, 3/4; candidate longer, no penalty: (3/7)^(1/4) = 0.80911 */
    const char *r1[] = {"The cat sat on the mat."};
    CaptionPair a = {"the cat sat on the mat today", r1, 1};
    CHECK(fabs(bleu4(&a, 1) - pow(3.0 / 7.0, 0.25)) < 1e-9, "bleu %g", bleu4(&a, 1));
    /* "the cat sat on": every precision 1, brevity exp(1 - 6/4) = 0.60653 */
    CaptionPair b = {"the cat sat on", r1, 1};
    CHECK(fabs(bleu4(&b, 1) - exp(-0.5)) < 1e-9, "bleu brevity %g", bleu4(&b, 1));
    /* no 4-gram in common: 0 (no smoothing) */
    const char *r2[] = {"the cat is on the mat"};
    CaptionPair c = {"the cat sat on the mat", r2, 1};
    CHECK(bleu4(&c, 1) == 0, "bleu without a 4-gram match");
    /* the closest of two references sets the length: no brevity penalty against "a b c d" */
    const char *r3[] = {"a b c d e f g h", "a b c d"};
    CaptionPair d = {"a b c d", r3, 2};
    CHECK(fabs(bleu4(&d, 1) - 1.0) < 1e-12, "closest reference length: %g", bleu4(&d, 1));

    /* ROUGE-L: LCS("the cat sat on the mat", "the cat is on the mat") = 5, P = R = 5/6 -> 5/6 */
    CHECK(fabs(rouge_l(&c, 1) - 5.0 / 6.0) < 1e-12, "rouge %g", rouge_l(&c, 1));
    /* "a b c" vs "a c d e": LCS 2, P = 2/3, R = 1/2, F = 2.44 * (1/3) / (1/2 + 1.44 * 2/3) = 0.557078 */
    const char *r4[] = {"a c d e"};
    CaptionPair e = {"a b c", r4, 1};
    CHECK(fabs(rouge_l(&e, 1) - 2.44 / 3.0 / (0.5 + 1.44 * 2.0 / 3.0)) < 1e-12, "rouge beta %g", rouge_l(&e, 1));

    /* CIDEr-D over two images: "a b" | "a b" and "c d" | "c d". Every n-gram is in one image
     * of two, idf = log 2; candidate and reference vectors equal, similarity 1 for n = 1, 2 and
     * no 3- or 4-grams: 10 * (1 + 1 + 0 + 0) / 4 = 5 per image */
    const char *ra[] = {"a b"}, *rb[] = {"c d"};
    CaptionPair two[2] = {{"a b", ra, 1}, {"c d", rb, 1}};
    CHECK(fabs(cider_d(two, 2) - 5.0) < 1e-9, "cider %g", cider_d(two, 2));
    /* the second image captioned with words of neither: 0 for it, mean 2.5 */
    CaptionPair wrong[2] = {{"a b", ra, 1}, {"x y", rb, 1}};
    CHECK(fabs(cider_d(wrong, 2) - 2.5) < 1e-9, "cider half %g", cider_d(wrong, 2));
    /* a word in every image's references has idf 0 and counts for nothing */
    const char *rc1[] = {"the a"}, *rc2[] = {"the c"};
    CaptionPair common[2] = {{"the", rc1, 1}, {"the", rc2, 1}};
    CHECK(cider_d(common, 2) == 0, "cider of a word every image has: %g", cider_d(common, 2));
    /* the length penalty: "a b" against "a b a b a b a b" is clipped and penalised below 5 */
    CHECK(cider_d(two, 2) > cider_d((CaptionPair[]){{"a b a b a b a b", ra, 1}, {"c d", rb, 1}}, 2), "repetition does not pay");
    CHECK_FINISH();
}
