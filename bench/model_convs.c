/* bench/model_convs.c - see model_convs.h. */
#include "model_convs.h"

#include <stdio.h>

/* Record one convolution of the model, merging it into an equal shape. */
static void add_shape(bench_conv_shape *s, int *n, int c_in, int hw, int c_out, int kernel,
                      int stride, int needs_dx, const char *layer)
{
    for (int i = 0; i < *n; i++) {
        bench_conv_shape *o = &s[i];
        if (o->c_in == c_in && o->hw == hw && o->c_out == c_out && o->kernel == kernel &&
            o->stride == stride) {
            o->uses++;
            return;
        }
    }
    if (*n == BENCH_MAX_CONVS) return;
    s[*n] = (bench_conv_shape){c_in, hw, c_out, kernel, stride, 1, needs_dx, ""};
    snprintf(s[*n].layer, sizeof s[*n].layer, "%s", layer);
    (*n)++;
}

int bench_model_convs(const agecl_model_config *cfg, bench_conv_shape *s)
{
    int n = 0, hw = cfg->input_size, cin = cfg->channels[0];
    add_shape(s, &n, 3, hw, cin, 3, 1, 0, "stem.conv");
    for (int st = 0; st < cfg->stages; st++) {
        int d = cfg->channels[st];
        for (int u = 0; u < cfg->units[st]; u++) {
            int stride = u == 0 ? 2 : 1;
            char name[48];
            snprintf(name, sizeof name, "stage%d.%d.conv1", st + 1, u);
            add_shape(s, &n, cin, hw, d, 3, 1, 1, name);
            snprintf(name, sizeof name, "stage%d.%d.conv2", st + 1, u);
            add_shape(s, &n, d, hw, d, 3, stride, 1, name);
            if (cin != d) {
                snprintf(name, sizeof name, "stage%d.%d.shortcut.conv", st + 1, u);
                add_shape(s, &n, cin, hw, d, 1, stride, 1, name);
            }
            hw = (hw - 1) / stride + 1;
            cin = d;
        }
    }
    return n;
}
