/* agecl: the command-line front end. `agecl --help` lists the subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agecl.h"
#include "commands.h"
#include "io/number.h" /* the library's one strict number parser */

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"devices", cmd_devices, "list the OpenCL platforms and devices"},
    {"selfcheck", cmd_selfcheck, "run a small kernel on each device and check its result"},
    {"train", cmd_train, "train the model on a face data set (the paper's schedule)"},
    {"eval", cmd_eval, "evaluate a trained model: MAE, CS5, gender accuracy, confidence"},
    {"predict", cmd_predict, "age and gender of face images"},
    {"tune", cmd_tune, "tune CLBlast's matrix product for a device"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: agecl [--version] [--help] <command> [<args>]\n\n"
                 "Face-based age estimation (IR50 + relative age position learning) on OpenCL.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`agecl <command> --help` describes a command.\n"
                 "Environment: AGECL_DEVICE selects the device (index, name or gpu/cpu/any);\n"
                 "AGECL_CACHE_DIR holds compiled programs (default ~/.cache/agecl).\n");
}

int cli_fail(const char *what, int status)
{
    fprintf(stderr, "agecl: %s: %s", what, agecl_strerror((agecl_status)status));
    if (*agecl_last_error()) fprintf(stderr, ": %s", agecl_last_error());
    fputc('\n', stderr);
    return 1;
}

int cli_int(const char *cmd, const char *opt, const char *s, int lo, int hi, int *out)
{
    long long v;
    if (agecl__parse_int(AGECL_E_INVALID_ARG, opt, s, lo, hi, &v) != AGECL_OK) {
        fprintf(stderr, "agecl %s: %s\n", cmd, agecl_last_error());
        return 0;
    }
    *out = (int)v;
    return 1;
}

int cli_number(const char *cmd, const char *opt, const char *s, double lo, double hi,
               double *out)
{
    if (agecl__parse_double(AGECL_E_INVALID_ARG, opt, s, lo, hi, out) != AGECL_OK) {
        fprintf(stderr, "agecl %s: %s\n", cmd, agecl_last_error());
        return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("agecl %s\n", agecl_version());
        return 0;
    }
    /* PoCL prints the OpenCL compiler's "N warnings generated." on stderr for
     * kernels it builds, clFFT's among them (ours build warning-free: the tests
     * use AGECL_WERROR); a build that fails still says why in agecl's error. A
     * user's own setting wins. */
    setenv("POCL_EXTRA_BUILD_FLAGS", "-w", 0);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "agecl: '%s' is not a command; see `agecl --help`\n", argv[1]);
    return 2;
}
