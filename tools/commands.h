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

#endif
