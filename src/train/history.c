/* log.jsonl and curves.svg of a training run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "error.h"
#include "io/atomic_file.h"
#include "train/history.h"

static void num(char *buf, size_t len, const char *key, double v)
{
    size_t used = strlen(buf);
    if (isnan(v)) snprintf(buf + used, len - used, ", \"%s\": null", key);
    else snprintf(buf + used, len - used, ", \"%s\": %.6g", key, v);
}

void agecl__record_json(const agecl__epoch_record *r, char *buf, size_t len)
{
    snprintf(buf, len, "{\"epoch\": %d", r->epoch);
    num(buf, len, "lr", r->lr);
    num(buf, len, "loss", r->loss);
    num(buf, len, "loss_age", r->loss_age);
    num(buf, len, "loss_gender", r->loss_gender);
    num(buf, len, "loss_pos", r->loss_pos);
    num(buf, len, "loss_dist", r->loss_dist);
    num(buf, len, "val_mae", r->val_mae);
    num(buf, len, "val_cs5", r->val_cs5);
    num(buf, len, "val_gender_acc", r->val_gender_acc);
    num(buf, len, "images_per_s", r->images_per_s);
    num(buf, len, "seconds", r->seconds);
    num(buf, len, "skipped", r->skipped);
    num(buf, len, "val_skipped", r->val_skipped);
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "}");
}

static double field(const char *line, const char *key)
{
    char pat[48];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(line, pat);
    if (!p) return NAN;
    p += strlen(pat);
    return strncmp(p, "null", 4) ? strtod(p, NULL) : NAN;
}

int agecl__record_parse(const char *line, agecl__epoch_record *r)
{
    double e = field(line, "epoch");
    if (!(e >= 0 && e <= 1e9)) return 0;
    r->epoch = (int)e;
    r->lr = field(line, "lr");
    r->loss = field(line, "loss");
    r->loss_age = field(line, "loss_age");
    r->loss_gender = field(line, "loss_gender");
    r->loss_pos = field(line, "loss_pos");
    r->loss_dist = field(line, "loss_dist");
    r->val_mae = field(line, "val_mae");
    r->val_cs5 = field(line, "val_cs5");
    r->val_gender_acc = field(line, "val_gender_acc");
    r->images_per_s = field(line, "images_per_s");
    r->seconds = field(line, "seconds");
    r->skipped = field(line, "skipped");
    r->val_skipped = field(line, "val_skipped");
    return 1;
}

/* Start replacing path (io/atomic_file.h), written through the stream *f. */
static agecl_status open_tmp(const char *path, agecl__atomic_file *af, FILE **f)
{
    AGECL_TRY(agecl__atomic_begin(af, path));
    if (!(*f = agecl__atomic_stream(af))) {
        agecl__atomic_abort(af);
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    return AGECL_OK;
}

/* The plot box of curves.svg, in pixels. */
enum { PLOT_X0 = 70, PLOT_X1 = 630, PLOT_Y0 = 50, PLOT_Y1 = 330 };

static double plot_x(int i, int n)
{
    return PLOT_X0 + (n > 1 ? (double)(PLOT_X1 - PLOT_X0) * i / (n - 1) : (PLOT_X1 - PLOT_X0) / 2.0);
}

static double plot_y(double v, double lo, double hi)
{
    return PLOT_Y1 - (PLOT_Y1 - PLOT_Y0) * (v - lo) / (hi - lo);
}

/* One series: 0 train age L1, 1 validation MAE, 2 validation gender accuracy,
 * 3 learning rate (relative to its largest). */
static double series(const agecl__epoch_record *r, int which)
{
    return which == 0 ? r->loss_age : which == 1 ? r->val_mae : which == 2 ? r->val_gender_acc
                                                                          : r->lr;
}

static void polyline(FILE *f, const agecl__epoch_record *r, int n, int which, double lo,
                     double hi, const char *colour, const char *dash)
{
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", colour,
            dash);
    for (int i = 0; i < n; i++) {
        double v = series(&r[i], which);
        if (!isnan(v)) fprintf(f, "%.1f,%.1f ", plot_x(i, n), plot_y(v, lo, hi));
    }
    fprintf(f, "\"/>\n");
}

/* Learning curves for people: the train L1 and validation MAE in years (left
 * axis), the validation gender accuracy in percent (right axis), the learning
 * rate as a grey band's height, a tick per epoch, the best epoch marked. */
static agecl_status write_svg(const char *path, const agecl__epoch_record *r, int n)
{
    agecl__atomic_file af;
    FILE *f;
    AGECL_TRY(open_tmp(path, &af, &f));
    double hi = 0, lr_max = 0, g_lo = 100;
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (r[i].loss_age > hi) hi = r[i].loss_age;
        if (r[i].val_mae > hi) hi = r[i].val_mae;
        if (r[i].lr > lr_max) lr_max = r[i].lr;
        if (!isnan(r[i].val_gender_acc) && r[i].val_gender_acc < g_lo) g_lo = r[i].val_gender_acc;
        if (!isnan(r[i].val_mae) && (best < 0 || r[i].val_mae < r[best].val_mae)) best = i;
    }
    hi = hi > 0 ? ceil(hi * 1.1) : 1;
    g_lo = floor(g_lo / 10) * 10;
    if (g_lo > 90) g_lo = 90;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"700\" height=\"390\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n"
               "<rect width=\"700\" height=\"390\" fill=\"white\"/>\n");
    /* The learning rate: bars from the bottom, the height its share of the largest. */
    for (int i = 0; i < n && lr_max > 0; i++) {
        double w = (PLOT_X1 - PLOT_X0) / (double)(n > 1 ? n - 1 : 1);
        double h = (PLOT_Y1 - PLOT_Y0) * 0.25 * r[i].lr / lr_max;
        double x0 = fmax(plot_x(i, n) - w / 2, PLOT_X0), x1 = fmin(plot_x(i, n) + w / 2, PLOT_X1);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#eeeeee\"/>\n",
                x0, PLOT_Y1 - h, x1 - x0, h);
    }
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", PLOT_X0,
            PLOT_Y1, PLOT_X1, PLOT_Y1);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", PLOT_X0,
            PLOT_Y0, PLOT_X0, PLOT_Y1);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#2ca02c\"/>\n", PLOT_X1,
            PLOT_Y0, PLOT_X1, PLOT_Y1);
    for (int t = 0; t <= 4; t++) {
        double y = PLOT_Y1 - (PLOT_Y1 - PLOT_Y0) * t / 4.0;
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#dddddd\"/>\n",
                PLOT_X0, y, PLOT_X1, y);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>\n", PLOT_X0 - 5,
                y + 4, hi * t / 4);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" fill=\"#2ca02c\">%.0f%%</text>\n", PLOT_X1 + 5,
                y + 4, g_lo + (100 - g_lo) * t / 4);
    }
    int every = n > 30 ? (n + 29) / 30 : 1; /* at most about 30 labels */
    for (int i = 0; i < n; i++) {
        double x = plot_x(i, n);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"black\"/>\n", x,
                PLOT_Y1, x, PLOT_Y1 + 4);
        if ((r[i].epoch - 1) % every == 0 || i == n - 1)
            fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", x,
                    PLOT_Y1 + 16, r[i].epoch);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">epoch</text>\n",
            (PLOT_X0 + PLOT_X1) / 2, PLOT_Y1 + 32);
    fprintf(f, "<text x=\"%d\" y=\"18\">years: train age L1 (blue), validation MAE (red); "
               "<tspan fill=\"#2ca02c\">validation gender accuracy (green, right)</tspan></text>\n"
               "<text x=\"%d\" y=\"34\" fill=\"#888888\">grey bars: learning rate (largest "
               "%.3g)</text>\n", PLOT_X0, PLOT_X0, lr_max);
    polyline(f, r, n, 0, 0, hi, "#1f77b4", "");
    polyline(f, r, n, 1, 0, hi, "#d62728", "");
    polyline(f, r, n, 2, g_lo, 100, "#2ca02c", " stroke-dasharray=\"5,3\"");
    if (best >= 0) {
        double x = plot_x(best, n), y = plot_y(r[best].val_mae, 0, hi);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"none\" stroke=\"black\" "
                   "stroke-width=\"2\"/>\n<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
                   "best: epoch %d, MAE %.2f</text>\n", x, y, x, y - 10, r[best].epoch,
                r[best].val_mae);
    }
    fprintf(f, "</svg>\n");
    return agecl__atomic_commit(&af);
}

agecl_status agecl__history_write(const char *dir, const agecl__epoch_record *r, int n)
{
    char path[1100], line[1024];
    snprintf(path, sizeof path, "%s/log.jsonl", dir);
    agecl__atomic_file af;
    FILE *f;
    AGECL_TRY(open_tmp(path, &af, &f));
    for (int i = 0; i < n; i++) {
        agecl__record_json(&r[i], line, sizeof line);
        fprintf(f, "%s\n", line);
    }
    AGECL_TRY(agecl__atomic_commit(&af));
    snprintf(path, sizeof path, "%s/curves.svg", dir);
    return write_svg(path, r, n);
}
