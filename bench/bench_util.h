/* bench/bench_util.h - what the parts of agecl-bench share: the options, the
 * device being measured, timing, random tensors and the output of one
 * measurement (a table row for people, or a JSON line for programs).
 *
 * The sections (one file each) measure one device:
 *   bench_peak   the device's FMA and copy ceilings       (bench_peak.c)
 *   bench_convs  every distinct convolution of the preset  (bench_conv_shapes.c)
 *   bench_ops    the other layers at the activation shapes (bench_ops.c)
 *   bench_step, bench_infer   the whole model              (bench_model.c) */
#ifndef AGECL_BENCH_UTIL_H
#define AGECL_BENCH_UTIL_H

#include "agecl.h"
#include "error.h" /* AGECL_PRINTF, AGECL_TRY, agecl__fail */

enum {
    SECTION_PEAK = 1 << 0,
    SECTION_LAYERS = 1 << 1,
    SECTION_OPS = 1 << 2,
    SECTION_STEP = 1 << 3,
    SECTION_INFER = 1 << 4,
    SECTION_ALL = (1 << 5) - 1
};

typedef struct bench_opts {
    const char *device;   /* selector; NULL: every device */
    const char *preset;
    int batch, runs, warmup;
    unsigned sections;    /* SECTION_* mask */
    int json, profile;
    unsigned algos;       /* convolution algorithms the layers section times: bit
                             agecl_conv2d_algo (bit AGECL_CONV_AUTO: the measured choice) */
} bench_opts;

/* The benchmark model's age labels: 1, 2, ..., BENCH_AGES. */
#define BENCH_AGES 100

/* One device under measurement. */
typedef struct bench_dev {
    const bench_opts *opt;
    int index;                    /* in `agecl devices` */
    agecl_ctx *ctx;
    char name[128];               /* the device's name */
    char platform[128];
    agecl_model_config cfg;       /* the preset, with the benchmark's age labels */
    double peak_gflops, peak_gbps; /* the ceilings; 0 until measured */
    int header_done;              /* the table header was printed */
} bench_dev;

/* One measurement; a field below 0 does not apply (and is not printed). */
typedef struct bench_result {
    const char *section;   /* "peak" "layers" "ops" "step" "infer" "profile" */
    const char *name;      /* what ran: "conv_forward", "batchnorm_backward", "train_step" */
    const char *shape;     /* the shape it ran at (free text) */
    const char *layer;     /* the first layer of the model with that shape; may be NULL */
    const char *algo;      /* the convolution algorithm that ran; may be NULL */
    int batch;             /* 0: not applicable */
    int uses;              /* times one pass of the model runs it; 0: not applicable */
    double ms;             /* median of the timed runs */
    double gflops, gbps;   /* rates; the share of the matching ceiling follows from them */
    double images_per_s;
    double time_pct;       /* profile entries: share of the step's kernel time */
    int calls;             /* profile entries: kernel calls per pass */
} bench_result;

/* A result with every optional field marked "not applicable". */
bench_result bench_result_init(const char *section, const char *name, const char *shape,
                               int batch);

/* Print r as a table row (with the header first, once per device) or a JSON line. */
void bench_emit(bench_dev *d, const bench_result *r);

/* Progress for people, on stderr: "agecl-bench: <message>". */
void bench_progress(const char *fmt, ...) AGECL_PRINTF(1, 2);

/* A failed call: print the status and the library's detail; returns s. */
agecl_status bench_report(const char *what, agecl_status s);

typedef agecl_status (*bench_fn)(void *arg);

/* Run fn opt->warmup times, then opt->runs times, each timed from the call to
 * the end of agecl_ctx_finish on a monotonic clock; *ms gets the median. */
agecl_status bench_time(bench_dev *d, bench_fn fn, void *arg, double *ms);

/* Milliseconds on a monotonic clock. */
double bench_now_ms(void);

/* A tensor of uniform random values in [lo, hi), from *seed. */
agecl_status bench_random_tensor(agecl_ctx *ctx, agecl_tensor *t, int n, int c, int h, int w,
                                 float lo, float hi, unsigned *seed);

/* A uniform random float in [0, 1) from a 32-bit LCG. */
float bench_uniform(unsigned *seed);

/* The sections. Each emits its results; the peak one also sets d->peak_*. */
agecl_status bench_peak(bench_dev *d);
agecl_status bench_convs(bench_dev *d, int batch);
agecl_status bench_ops(bench_dev *d, int batch);
agecl_status bench_step(bench_dev *d);
agecl_status bench_infer(bench_dev *d);

#endif
