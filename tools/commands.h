/* The subcommands of the agecl executable: each takes argc/argv from its own
 * name on and returns the process exit status. */
#ifndef AGECL_TOOLS_COMMANDS_H
#define AGECL_TOOLS_COMMANDS_H

int cmd_devices(int argc, char **argv);
int cmd_selfcheck(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_tune(int argc, char **argv);

/* Print "agecl: <what>: <status>: <detail>" to stderr and return 1. */
int cli_fail(const char *what, int status);

/* The value of option opt of command cmd, parsed strictly (src/io/number.h: all
 * of s, in [lo, hi], finite): 1, or 0 after saying why on stderr. */
int cli_int(const char *cmd, const char *opt, const char *s, int lo, int hi, int *out);
int cli_number(const char *cmd, const char *opt, const char *s, double lo, double hi,
               double *out);

#endif
