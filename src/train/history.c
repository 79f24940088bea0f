/* log.jsonl and curves.svg of a training run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "error.h"
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
    if (isnan(e)) return 0;
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
    return 1;
}

static FILE *open_tmp(const char *path, char *tmp, size_t len)
{
    snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
    return fopen(tmp, "w");
}

static agecl_status close_tmp(FILE *f, const char *tmp, const char *path)
{
    int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return agecl__fail(AGECL_E_IO, "%s: cannot write", path);
    }
    return AGECL_OK;
}

/* A polyline of one series scaled into the plot box. */
static void polyline(FILE *f, const agecl__epoch_record *r, int n, int which, double lo,
                     double hi, const char *colour)
{
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colour);
    for (int i = 0; i < n; i++) {
        double v = which == 0 ? r[i].loss_age : which == 1 ? r[i].val_mae : r[i].loss;
        if (isnan(v)) continue;
        double x = 60 + (n > 1 ? 500.0 * i / (n - 1) : 250);
        double y = 320 - 280 * (v - lo) / (hi - lo);
        fprintf(f, "%.1f,%.1f ", x, y);
    }
    fprintf(f, "\"/>\n");
}

static agecl_status write_svg(const char *path, const agecl__epoch_record *r, int n)
{
    char tmp[1200];
    FILE *f = open_tmp(path, tmp, sizeof tmp);
    if (!f) return agecl__fail(AGECL_E_IO, "%s: cannot create", path);
    double hi = 0;
    for (int i = 0; i < n; i++) {
        if (r[i].loss_age > hi) hi = r[i].loss_age;
        if (r[i].val_mae > hi) hi = r[i].val_mae;
    }
    hi = hi > 0 ? hi * 1.1 : 1;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"360\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n"
               "<rect width=\"600\" height=\"360\" fill=\"white\"/>\n"
               "<line x1=\"60\" y1=\"320\" x2=\"560\" y2=\"320\" stroke=\"black\"/>\n"
               "<line x1=\"60\" y1=\"40\" x2=\"60\" y2=\"320\" stroke=\"black\"/>\n");
    for (int t = 0; t <= 4; t++)
        fprintf(f, "<text x=\"55\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>\n",
                320 - 70.0 * t + 4, hi * t / 4);
    fprintf(f, "<text x=\"310\" y=\"350\" text-anchor=\"middle\">epoch (1..%d)</text>\n", n);
    fprintf(f, "<text x=\"60\" y=\"25\">years: train L1 age loss (blue), validation MAE "
               "(red)</text>\n");
    polyline(f, r, n, 0, 0, hi, "#1f77b4");
    polyline(f, r, n, 1, 0, hi, "#d62728");
    fprintf(f, "</svg>\n");
    return close_tmp(f, tmp, path);
}

agecl_status agecl__history_write(const char *dir, const agecl__epoch_record *r, int n)
{
    char path[1100], tmp[1200], line[1024];
    snprintf(path, sizeof path, "%s/log.jsonl", dir);
    FILE *f = open_tmp(path, tmp, sizeof tmp);
    if (!f) return agecl__fail(AGECL_E_IO, "%s: cannot create", path);
    for (int i = 0; i < n; i++) {
        agecl__record_json(&r[i], line, sizeof line);
        fprintf(f, "%s\n", line);
    }
    AGECL_TRY(close_tmp(f, tmp, path));
    snprintf(path, sizeof path, "%s/curves.svg", dir);
    return write_svg(path, r, n);
}
