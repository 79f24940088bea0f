/* What a training run says on its progress stream (see report.h). */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>
#include "train/report.h"

void agecl__say(FILE *out, const char *fmt, ...)
{
    if (!out) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fflush(out);
}

static int is_tty(FILE *out) { return out && isatty(fileno(out)); }

void agecl__say_step(FILE *out, int epoch, int epochs, int step, int steps, double loss,
                     double img_s, double eta)
{
    int tty = is_tty(out);
    agecl__say(out, "%sepoch %d/%d  step %d/%d  loss %.3f  %.1f img/s  ETA %dm%02ds%s",
               tty ? "\r" : "", epoch, epochs, step, steps, loss, img_s, (int)eta / 60,
               (int)eta % 60, tty ? "   " : "\n");
}

double agecl__say_every(FILE *out) { return is_tty(out) ? 2.0 : 30.0; }

void agecl__say_step_done(FILE *out)
{
    if (is_tty(out)) agecl__say(out, "\n");
}

void agecl__say_issues(FILE *out, const agecl_loader *l, int before)
{
    int kept = agecl_loader_issue_count(l);
    for (int i = before; i < kept; i++) agecl__say(out, "skipped %s\n", agecl_loader_issue(l, i));
}

void agecl__say_profile(FILE *out, agecl_ctx *ctx)
{
    const agecl_profile_entry *e;
    int n = 0;
    if (!out || agecl_ctx_profile(ctx, &e, &n) != AGECL_OK || !n) return;
    double total = 0;
    for (int i = 0; i < n; i++) total += e[i].ms;
    int *order = malloc((size_t)n * sizeof *order);
    if (!order) return;
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 1; i < n; i++) /* insertion sort by time, descending */
        for (int j = i; j > 0 && e[order[j]].ms > e[order[j - 1]].ms; j--) {
            int x = order[j];
            order[j] = order[j - 1];
            order[j - 1] = x;
        }
    agecl__say(out, "device time by kernel (%.1f s in all):\n", total / 1000);
    for (int i = 0; i < n; i++)
        agecl__say(out, "  %-34s %7d calls %10.1f ms %5.1f%%\n", e[order[i]].name,
                   e[order[i]].calls, e[order[i]].ms, 100 * e[order[i]].ms / total);
    free(order);
    agecl_ctx_profile_reset(ctx);
}
