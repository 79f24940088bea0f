/* Model presets and sizes. */
#include <stdio.h>
#include <string.h>
#include "agecl/model.h"
#include "error.h"

typedef struct preset {
    const char *name;
    int units[3], channels[3], input;
} preset;

/* "cpu" keeps the family's shape (three stages, stride 2 at each) at a size that
 * trains an epoch of UTKFace's training split on 2 CPU cores in minutes: IR-18's
 * units, half the width, 64 x 64 inputs; about 1/50 of IR50's arithmetic. */
/* "cpu-large" is the longer main job's model (tools/main.sh, AGECL_PRESET=quality):
 * IR-18's units at 3/4 width on 80 x 80 inputs, about 3.5 times "cpu"'s arithmetic. */
static const preset presets[] = {
    {"ir50", {3, 4, 14}, {64, 128, 256}, 112},
    {"ir34", {3, 4, 6}, {64, 128, 256}, 112},
    {"ir18", {2, 2, 2}, {64, 128, 256}, 112},
    {"ir100", {3, 13, 30}, {64, 128, 256}, 112},
    {"ir152", {3, 8, 36}, {64, 128, 256}, 112},
    {"cpu", {2, 2, 2}, {32, 64, 128}, 64},
    {"cpu-large", {2, 2, 2}, {48, 96, 192}, 80},
    {"tiny", {1, 1, 1}, {8, 12, 16}, 16},
};

agecl_status agecl_model_preset(const char *name, agecl_model_config *cfg)
{
    if (!name || !cfg) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_model_preset: NULL argument");
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        const preset *p = &presets[i];
        if (strcmp(p->name, name)) continue;
        memset(cfg, 0, sizeof *cfg);
        snprintf(cfg->preset, sizeof cfg->preset, "%s", p->name);
        cfg->stages = 3;
        for (int s = 0; s < 3; s++) {
            cfg->units[s] = p->units[s];
            cfg->channels[s] = p->channels[s];
        }
        cfg->input_size = p->input;
        cfg->gender = 1;
        cfg->rapl = 1;
        return AGECL_OK;
    }
    return agecl__fail(AGECL_E_INVALID_ARG,
                       "no model preset '%s' (presets: ir50, ir34, ir18, ir100, ir152, cpu, "
                       "cpu-large, tiny)", name);
}

agecl_status agecl_model_config_set_ages(agecl_model_config *cfg, const int *ages, int n)
{
    if (!cfg || !ages) return agecl__fail(AGECL_E_INVALID_ARG, "set_ages: NULL argument");
    if (n < 2 || n > AGECL_MAX_AGES)
        return agecl__fail(AGECL_E_INVALID_ARG, "set_ages: %d age labels (2..%d allowed)", n,
                           AGECL_MAX_AGES);
    for (int i = 0; i < n; i++) {
        if (i && ages[i] <= ages[i - 1])
            return agecl__fail(AGECL_E_INVALID_ARG,
                               "set_ages: labels must be sorted and distinct (%d after %d)",
                               ages[i], ages[i - 1]);
        cfg->ages[i] = (float)ages[i];
    }
    cfg->n_ages = n;
    return AGECL_OK;
}

double agecl_model_config_macs(const agecl_model_config *cfg)
{
    double hw = cfg->input_size, macs = hw * hw * 3 * 9 * cfg->channels[0];
    int cin = cfg->channels[0];
    for (int s = 0; s < cfg->stages; s++) {
        int d = cfg->channels[s];
        for (int u = 0; u < cfg->units[s]; u++) {
            /* 3x3, pad 1, stride 2: (hw + 2 - 3) / 2 + 1 */
            double out = u == 0 ? (double)(((int)hw - 1) / 2 + 1) : hw;
            macs += hw * hw * 9.0 * cin * d;      /* conv1 at the input size */
            macs += out * out * 9.0 * d * d;      /* conv2, strided in the first unit */
            if (cin != d) macs += out * out * (double)cin * d;
            hw = out;
            cin = d;
        }
    }
    return macs;
}
