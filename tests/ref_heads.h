/* tests/ref_heads.h - plain double-precision references of the heads'
 * operations (include/agecl/losses.h, optim.h and the RAPL part of layers.h),
 * written for clarity, reusable by other tests.
 * Matrices are row-major: logits[b * n + j], feat[b * C + c], refs[k * C + c]. */
#ifndef AGECL_TESTS_REF_HEADS_H
#define AGECL_TESTS_REF_HEADS_H

#include <stddef.h>
#include <stdint.h>

/* DEX: pred[b] = sum_j softmax(logits[b])_j labels[j]; abs_err[b] = |ages[b] - pred[b]|;
 * *loss = mean abs_err. abs_err and loss may be NULL. */
void ref_dex_forward(const double *logits, const double *labels, const double *ages, int B,
                     int n, double *pred, double *abs_err, double *loss);
/* dlogits of scale * loss (sign(0) = 0). */
void ref_dex_backward(const double *logits, const double *labels, const double *ages, int B,
                      int n, double scale, double *dlogits);

/* Cross-entropy averaged over samples whose target is not -1; 0 when all are
 * ignored. argmax (may be NULL) gets the first largest logit of each row. */
void ref_softmax_ce_forward(const double *logits, const int *targets, int B, int K,
                            double *loss, int *argmax);
/* dlogits of scale * loss; ignored rows get 0. */
void ref_softmax_ce_backward(const double *logits, const int *targets, int B, int K,
                             double scale, double *dlogits);

/* RAPL, cheap form: gain[c] = sum_k a[k] sigmoid(refs[k,c] p[k]);
 * out[b,c] = feat[b,c] gain[c] + bias. gain may be NULL. */
void ref_rapl_forward(const double *feat, const double *refs, const double *p,
                      const double *a, double bias, int B, int C, int n, double *gain,
                      double *out);
/* Label distribution: mean over rows of KL(q || softmax(logits)), q the Gaussian
 * of sigma around the row's age over the labels; and its gradient times scale. */
double ref_label_dist_forward(const double *logits, const double *labels, const double *ages,
                              int B, int n, double sigma);
void ref_label_dist_backward(const double *logits, const double *labels, const double *ages,
                             int B, int n, double sigma, double scale, double *dlogits);
/* RAPL, the paper's expanded form: X[b,c,k] = feat[b,c] sigmoid(refs[k,c] p[k]),
 * out[b,c] = sum_k a[k] X[b,c,k] + bias (builds the B x C x n tensor). */
void ref_rapl_forward_expanded(const double *feat, const double *refs, const double *p,
                               const double *a, double bias, int B, int C, int n, double *out);
/* Gradients of sum(out * dout) to feat, p, a and bias. */
void ref_rapl_backward(const double *dout, const double *feat, const double *refs,
                       const double *p, const double *a, int B, int C, int n, double *dfeat,
                       double *dp, double *da, double *dbias);

/* One step t >= 1 of PyTorch's Adam with L2 weight decay, or of AdamW
 * (decoupled: params *= 1 - lr * weight_decay first), in place. */
typedef struct ref_adam {
    double lr, beta1, beta2, eps, weight_decay;
    int decoupled;
} ref_adam;
void ref_adam_step(const ref_adam *cfg, int t, double *params, const double *grads, double *m,
                   double *v, size_t count);

/* The tie-breaking key of sample i under seed (layers.h spells out the rule). */
uint32_t ref_reference_key(uint32_t seed, uint32_t i);
/* Reference selection: sample[k] = the sample of position k with the smallest
 * err (ties: smallest key), -1 when none; refs[k] = feat[source] where the source
 * label is k or the nearest label with a sample (the lower on a tie).
 * Returns the number of labels filled from another, or -1 when no label has a
 * sample (refs is then untouched). */
int ref_select_references(const double *err, const int *pos, const double *feat, int S, int C,
                          int n, uint32_t seed, int *sample, double *refs);

#endif
