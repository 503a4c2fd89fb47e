/* cli.h — what every subcommand does first: --help, --config FILE, setting flags
 * (--fail-timeout 5), --json where the command offers it, positional arguments, then settings
 * from the environment and .env, with errors printed as "faultline <cmd>: NAME: expected ...,
 * got ..." and exit status 2. */
#ifndef FAULTLINE_CLI_H
#define FAULTLINE_CLI_H

#include <stdbool.h>

#include "base/config.h"

struct cli_spec {
    const char *command;        /* "server" */
    const char *usage;          /* first help line after "usage: faultline " */
    const char *description;    /* a paragraph for --help */
    const char *const *options; /* setting names shown in --help */
    int option_count;
    int max_positional;
    bool json; /* the command prints JSON with --json (anywhere after the command) */
};

/* What cli_parse found besides settings. */
struct cli_args {
    char **positional; /* the caller's array of spec->max_positional; pointers into argv */
    int positional_count;
    bool json; /* --json was given (spec->json only; elsewhere it is an unknown option) */
};

enum cli_result { CLI_RUN = 0, CLI_EXIT_OK = 1, CLI_EXIT_USAGE = 2 };

/* Parses argv (argv[0] is the command) into cfg, which the caller has made with config_init and
 * to which it has attached the tables of the modules it uses (config_attach): the sources are
 * the --config file, .env of the working directory, the environment and the flags. Fills args.
 * On CLI_EXIT_OK the help text was printed; on CLI_EXIT_USAGE an error was printed to stderr.
 * Also applies LOG_LEVEL. */
enum cli_result cli_parse(const struct cli_spec *spec, int argc, char **argv, struct config *cfg,
                          struct cli_args *args);

/* Prints "faultline <cmd>: <msg>" to stderr and returns 2, for config_require failures etc. */
int cli_fail(const struct cli_spec *spec, const char *msg);

#endif
