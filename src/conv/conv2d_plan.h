/* src/conv/conv2d_plan.h - the insides of a convolution plan (not installed). */
#ifndef AGECL_CONV_CONV2D_PLAN_H
#define AGECL_CONV_CONV2D_PLAN_H

#include <stddef.h>
#include <stdint.h>
#include "conv/conv2d_algo.h"

struct agecl_conv2d_plan {
    agecl_ctx *ctx;
    agecl_conv2d_desc d;
    int out_h, out_w;
    const agecl__conv2d_algo *pass[AGECL_CONV_PASS_COUNT]; /* what each pass runs */
    void *state[AGECL_CONV_ALGO_COUNT];                     /* by algorithm id; NULL: unused */
    size_t workspace;                                       /* elements: the largest pass's */
};

/* The algorithms AUTO gives the passes of d: for each, the one remembered for this
 * device and shape, else the fastest measured now (and remembered). conv2d_find.c. */
/* One line of conv_algos.txt (conv2d_find.c), parsed strictly: 1, or 0 when any
 * field is missing, out of range or followed by anything. The reader that
 * tests/fuzz/ exercises. */
typedef struct agecl__conv2d_choice {
    uint64_t device;
    agecl_conv2d_desc d;
    char pass[32], algo[32];
    double ms;
} agecl__conv2d_choice;
int agecl__conv2d_choice_parse(const char *line, agecl__conv2d_choice *c);

agecl_status agecl__conv2d_find(agecl_ctx *ctx, const agecl_conv2d_desc *d,
                                agecl_conv2d_algo out[AGECL_CONV_PASS_COUNT]);

#endif
