/* cli.h — what every long-running subcommand does first: --help, --config FILE, setting flags
 * (--fail-timeout 5), positional arguments, then settings from the environment and .env, with
 * errors printed as "faultline <cmd>: NAME: expected ..., got ..." and exit status 2. */
#ifndef FAULTLINE_CLI_H
#define FAULTLINE_CLI_H

#include "base/config.h"

struct cli_spec {
    const char *command;        /* "server" */
    const char *usage;          /* first help line after "usage: faultline " */
    const char *description;    /* a paragraph for --help */
    const char *const *options; /* setting names shown in --help */
    int option_count;
    int max_positional;
};

enum cli_result { CLI_RUN = 0, CLI_EXIT_OK = 1, CLI_EXIT_USAGE = 2 };

/* Parses argv (argv[0] is the command), fills cfg (config_init + sources, .env from the working
 * directory) and positional[] (pointers into argv). On CLI_EXIT_OK the help text was printed;
 * on CLI_EXIT_USAGE an error was printed to stderr. Also applies LOG_LEVEL. */
enum cli_result cli_parse(const struct cli_spec *spec, int argc, char **argv, struct config *cfg,
                          char **positional, int *positional_count);

/* Prints "faultline <cmd>: <msg>" to stderr and returns 2, for config_require failures etc. */
int cli_fail(const struct cli_spec *spec, const char *msg);

#endif
