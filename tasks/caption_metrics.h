/* Caption metrics as COCO's evaluation computes them, on lowercased text with punctuation
 * removed and split at spaces:
 *  BLEU-4: corpus-level clipped n-gram precisions (n = 1..4, geometric mean) times the
 *    brevity penalty exp(1 - r/c) when c < r, r the summed closest reference lengths;
 *  CIDEr-D: per image, for n = 1..4, cosine-like similarity of tf-idf n-gram vectors (idf from
 *    the references: log(#images) - log(max(1, df))), candidate counts clipped to the
 *    reference's, times exp(-(len_c - len_r)^2 / (2 sigma^2)), sigma = 6, averaged over the
 *    references and n, times 10; the corpus score is the mean over images;
 *  ROUGE-L: per image F-measure (beta = 1.2) of the longest common subsequence, precision
 *    and recall each the best over the references; the corpus score is the mean. */
#ifndef MOEH_CAPTION_METRICS_H
#define MOEH_CAPTION_METRICS_H

typedef struct {
    const char *candidate;
    const char *const *refs;
    int n_refs;
} CaptionPair;

double bleu4(const CaptionPair *pairs, int n);
double cider_d(const CaptionPair *pairs, int n);
double rouge_l(const CaptionPair *pairs, int n);

#endif
