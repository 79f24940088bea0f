/* Double-precision references of the heads' operations; see ref_heads.h. */
#include <math.h>
#include <stdlib.h>
#include "ref_heads.h"

/* p = softmax(z) over n values, the max subtracted first. */
static void softmax(const double *z, int n, double *p)
{
    double m = z[0], s = 0;
    for (int j = 1; j < n; j++) m = fmax(m, z[j]);
    for (int j = 0; j < n; j++) s += p[j] = exp(z[j] - m);
    for (int j = 0; j < n; j++) p[j] /= s;
}

static double sign(double x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }

static double dex_row(const double *z, const double *labels, int n, double *p)
{
    softmax(z, n, p);
    double age = 0;
    for (int j = 0; j < n; j++) age += p[j] * labels[j];
    return age;
}

void ref_dex_forward(const double *logits, const double *labels, const double *ages, int B,
                     int n, double *pred, double *abs_err, double *loss)
{
    double *p = malloc((size_t)n * sizeof *p), sum = 0;
    for (int b = 0; b < B; b++) {
        pred[b] = dex_row(logits + (size_t)b * n, labels, n, p);
        double e = fabs(ages[b] - pred[b]);
        if (abs_err) abs_err[b] = e;
        sum += e;
    }
    if (loss) *loss = sum / B;
    free(p);
}

void ref_dex_backward(const double *logits, const double *labels, const double *ages, int B,
                      int n, double scale, double *dlogits)
{
    double *p = malloc((size_t)n * sizeof *p);
    for (int b = 0; b < B; b++) {
        double age = dex_row(logits + (size_t)b * n, labels, n, p);
        /* dL/dage = sign(age - a) / B; dage/dz_j = p_j (l_j - age). */
        double dage = scale * sign(age - ages[b]) / B;
        for (int j = 0; j < n; j++) dlogits[(size_t)b * n + j] = dage * p[j] * (labels[j] - age);
    }
    free(p);
}

/* q_j proportional to exp(-(l_j - age)^2 / (2 sigma^2)), normalised over the labels. */
static void gaussian_target(const double *labels, int n, double age, double sigma, double *q)
{
    double top = -INFINITY, sum = 0;
    for (int j = 0; j < n; j++) top = fmax(top, -(labels[j] - age) * (labels[j] - age));
    for (int j = 0; j < n; j++)
        sum += q[j] = exp((-(labels[j] - age) * (labels[j] - age) - top) / (2 * sigma * sigma));
    for (int j = 0; j < n; j++) q[j] /= sum;
}

double ref_label_dist_forward(const double *logits, const double *labels, const double *ages,
                              int B, int n, double sigma)
{
    double *p = malloc((size_t)n * sizeof *p), *q = malloc((size_t)n * sizeof *q), kl = 0;
    for (int b = 0; b < B; b++) {
        softmax(logits + (size_t)b * n, n, p);
        gaussian_target(labels, n, ages[b], sigma, q);
        for (int j = 0; j < n; j++)
            if (q[j] > 0) kl += q[j] * (log(q[j]) - log(p[j]));
    }
    free(p);
    free(q);
    return kl / B;
}

void ref_label_dist_backward(const double *logits, const double *labels, const double *ages,
                             int B, int n, double sigma, double scale, double *dlogits)
{
    double *p = malloc((size_t)n * sizeof *p), *q = malloc((size_t)n * sizeof *q);
    for (int b = 0; b < B; b++) {
        softmax(logits + (size_t)b * n, n, p);
        gaussian_target(labels, n, ages[b], sigma, q);
        for (int j = 0; j < n; j++) dlogits[(size_t)b * n + j] = scale * (p[j] - q[j]) / B;
    }
    free(p);
    free(q);
}

static int count_kept(const int *targets, int B)
{
    int count = 0;
    for (int b = 0; b < B; b++) count += targets[b] != -1;
    return count;
}

void ref_softmax_ce_forward(const double *logits, const int *targets, int B, int K,
                            double *loss, int *argmax)
{
    double *p = malloc((size_t)K * sizeof *p), sum = 0;
    for (int b = 0; b < B; b++) {
        const double *z = logits + (size_t)b * K;
        if (argmax) {
            argmax[b] = 0;
            for (int j = 1; j < K; j++)
                if (z[j] > z[argmax[b]]) argmax[b] = j;
        }
        if (targets[b] == -1) continue;
        softmax(z, K, p);
        sum -= log(p[targets[b]]);
    }
    int count = count_kept(targets, B);
    *loss = count ? sum / count : 0;
    free(p);
}

void ref_softmax_ce_backward(const double *logits, const int *targets, int B, int K,
                             double scale, double *dlogits)
{
    int count = count_kept(targets, B);
    for (int b = 0; b < B; b++) {
        double *d = dlogits + (size_t)b * K;
        if (targets[b] == -1) {
            for (int j = 0; j < K; j++) d[j] = 0;
            continue;
        }
        softmax(logits + (size_t)b * K, K, d);
        d[targets[b]] -= 1;
        for (int j = 0; j < K; j++) d[j] *= scale / count;
    }
}

static double sigmoid(double x) { return 1 / (1 + exp(-x)); }

void ref_rapl_forward(const double *feat, const double *refs, const double *p,
                      const double *a, double bias, int B, int C, int n, double *gain,
                      double *out)
{
    for (int c = 0; c < C; c++) {
        double g = 0;
        for (int k = 0; k < n; k++) g += a[k] * sigmoid(refs[(size_t)k * C + c] * p[k]);
        if (gain) gain[c] = g;
        for (int b = 0; b < B; b++)
            out[(size_t)b * C + c] = feat[(size_t)b * C + c] * g + bias;
    }
}

void ref_rapl_forward_expanded(const double *feat, const double *refs, const double *p,
                               const double *a, double bias, int B, int C, int n, double *out)
{
    /* W[c,k] = sigmoid(R[k,c] P[k]); X[b,c,k] = F[b,c] W[c,k]; out = X a + bias. */
    double *X = malloc((size_t)B * C * n * sizeof *X);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int k = 0; k < n; k++)
                X[((size_t)b * C + c) * n + k] =
                    feat[(size_t)b * C + c] * sigmoid(refs[(size_t)k * C + c] * p[k]);
    for (size_t bc = 0; bc < (size_t)B * C; bc++) {
        double s = bias;
        for (int k = 0; k < n; k++) s += a[k] * X[bc * n + k];
        out[bc] = s;
    }
    free(X);
}

void ref_rapl_backward(const double *dout, const double *feat, const double *refs,
                       const double *p, const double *a, int B, int C, int n, double *dfeat,
                       double *dp, double *da, double *dbias)
{
    double *gain = malloc((size_t)C * sizeof *gain), *dgain = malloc((size_t)C * sizeof *dgain);
    for (int c = 0; c < C; c++) {
        gain[c] = 0;
        for (int k = 0; k < n; k++) gain[c] += a[k] * sigmoid(refs[(size_t)k * C + c] * p[k]);
    }
    *dbias = 0;
    for (int c = 0; c < C; c++) {
        dgain[c] = 0;
        for (int b = 0; b < B; b++) {
            size_t i = (size_t)b * C + c;
            dfeat[i] = dout[i] * gain[c];
            dgain[c] += dout[i] * feat[i];
            *dbias += dout[i];
        }
    }
    for (int k = 0; k < n; k++) {
        da[k] = dp[k] = 0;
        for (int c = 0; c < C; c++) {
            double r = refs[(size_t)k * C + c], s = sigmoid(r * p[k]);
            da[k] += dgain[c] * s;
            dp[k] += dgain[c] * a[k] * s * (1 - s) * r;
        }
    }
    free(gain);
    free(dgain);
}

void ref_adam_step(const ref_adam *cfg, int t, double *params, const double *grads, double *m,
                   double *v, size_t count)
{
    double bc1 = 1 - pow(cfg->beta1, t), bc2 = 1 - pow(cfg->beta2, t);
    for (size_t i = 0; i < count; i++) {
        if (cfg->decoupled) params[i] *= 1 - cfg->lr * cfg->weight_decay;
        double g = grads[i] + (cfg->decoupled ? 0 : cfg->weight_decay * params[i]);
        m[i] = cfg->beta1 * m[i] + (1 - cfg->beta1) * g;
        v[i] = cfg->beta2 * v[i] + (1 - cfg->beta2) * g * g;
        params[i] -= cfg->lr / bc1 * m[i] / (sqrt(v[i]) / sqrt(bc2) + cfg->eps);
    }
}

/* murmur3's 32-bit finaliser. */
static uint32_t mix(uint32_t h)
{
    h = (h ^ (h >> 16)) * 0x85ebca6bu;
    h = (h ^ (h >> 13)) * 0xc2b2ae35u;
    return h ^ (h >> 16);
}

uint32_t ref_reference_key(uint32_t seed, uint32_t i) { return mix(i ^ mix(seed ^ 0x9e3779b9u)); }

int ref_select_references(const double *err, const int *pos, const double *feat, int S, int C,
                          int n, uint32_t seed, int *sample, double *refs)
{
    int have = 0;
    for (int k = 0; k < n; k++) {
        sample[k] = -1;
        for (int i = 0; i < S; i++) {
            if (pos[i] != k || isnan(err[i])) continue;
            int j = sample[k];
            if (j < 0 || err[i] < err[j] ||
                (err[i] == err[j] && ref_reference_key(seed, (uint32_t)i) <
                                         ref_reference_key(seed, (uint32_t)j)))
                sample[k] = i;
        }
        have += sample[k] >= 0;
    }
    if (!have) return -1;
    for (int k = 0; k < n; k++) {
        int src = -1; /* the nearest label with a sample, the lower on a tie */
        for (int d = 0; src < 0; d++) {
            if (k - d >= 0 && sample[k - d] >= 0) src = k - d;
            else if (k + d < n && sample[k + d] >= 0) src = k + d;
        }
        for (int c = 0; c < C; c++)
            refs[(size_t)k * C + c] = feat[(size_t)sample[src] * C + c];
    }
    return n - have;
}

