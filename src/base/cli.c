/* cli.c — shared argument and settings handling for subcommands; see cli.h. */
#include "base/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

extern char **environ;

static void print_help(const struct cli_spec *spec, const struct config *cfg)
{
    printf("usage: faultline %s\n\n%s\n\nsettings (environment, .env, --config YAML, or flag):\n",
           spec->usage, spec->description);
    config_print_help(cfg, spec->options, spec->option_count);
    printf("\n  --config FILE  read settings from a YAML file\n  --help         this text\n"
           "\nPrecedence: flags > environment > .env > --config file > defaults.\n");
}

int cli_fail(const struct cli_spec *spec, const char *msg)
{
    fprintf(stderr, "faultline %s: %s\n", spec->command, msg);
    return CLI_EXIT_USAGE;
}

/* Takes --json out of argv before anything else reads it, so that it never counts as the value
 * of the flag before it. Returns the new argc. */
static int take_json(const struct cli_spec *spec, int argc, char **argv, char **kept, bool *json)
{
    int n = 0;
    *json = false;
    for (int i = 0; i < argc; i++) {
        if (spec->json && i > 0 && strcmp(argv[i], "--json") == 0)
            *json = true;
        else
            kept[n++] = argv[i];
    }
    return n;
}

enum cli_result cli_parse(const struct cli_spec *spec, int argc, char **argv, struct config *cfg,
                          struct cli_args *args)
{
    const char *yaml = NULL;
    char **flags = calloc((size_t)argc + 1, sizeof *flags);
    char **kept = calloc((size_t)argc + 1, sizeof *kept);
    int nflags = 0;
    args->positional_count = 0;
    if (!flags || !kept) {
        free(flags);
        free(kept);
        return (enum cli_result)cli_fail(spec, "out of memory");
    }
    argc = take_json(spec, argc, argv, kept, &args->json);
    argv = kept;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_help(spec, cfg);
            free(flags);
            free(kept);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--config") || !strncmp(a, "--config=", 9)) {
            yaml = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : "");
        } else if (!strncmp(a, "--", 2)) {
            flags[nflags++] = argv[i];
            if (!strchr(a, '=') && i + 1 < argc)
                flags[nflags++] = argv[++i];
        } else if (args->positional_count < spec->max_positional) {
            args->positional[args->positional_count++] = argv[i];
        } else {
            char msg[256];
            snprintf(msg, sizeof msg, "unexpected argument \"%.100s\" (see --help)", a);
            free(flags);
            free(kept);
            return (enum cli_result)cli_fail(spec, msg);
        }
    }
    free(kept);
    if (yaml && !*yaml) {
        free(flags);
        return (enum cli_result)cli_fail(spec, "--config: expected a file name");
    }
    struct config_sources src = {.yaml_path = yaml,
                                 .env_file = ".env",
                                 .environ = environ,
                                 .flag_count = nflags,
                                 .flags = flags};
    char err[512];
    int rc = config_load(cfg, &src, err, sizeof err);
    free(flags);
    if (rc != 0)
        return (enum cli_result)cli_fail(spec, err);
    enum log_level level;
    if (cfg->log_level && log_level_parse(cfg->log_level, &level) == 0)
        log_set_level(level);
    return CLI_RUN;
}
