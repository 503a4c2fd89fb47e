/* main.c — faultline's entry point: finds the subcommand in a table and hands it argv. Each
 * subcommand lives in its own part of the tree and returns the process exit status
 * (0 ok, 1 failure found, 2 usage or configuration error). It also tells the config module
 * every module's settings table (settings_tables.c), so that every command accepts (and checks)
 * every setting. */
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "alert/cli.h"
#include "alert/telegram.h"
#include "analyze/analyze.h"
#include "base/config.h"
#include "cfg/cfg.h"
#include "monitor/monitor.h"
#include "probe/cli.h"
#include "report/report.h"
#include "server/server.h"
#include "settings_tables.h"
#include "silence/cli.h"

struct subcommand {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
};

static const struct subcommand subcommands[] = {
    {"server", server_main, "central server: ingest, state, alerts, API, dashboards"},
    {"agent", agent_main, "on every machine: heartbeats to the server"},
    {"telegram", telegram_main, "Telegram helpers (chat-id)"},
    {"alert", alert_main, "alert helpers (test CHANNEL)"},
    {"analyze", analyze_main, "offline root-cause analysis of an agent's logs"},
    {"probe", probe_main, "one network probe: ping, trace, tcp, dns, gateway"},
    {"report", report_main, "this machine's health in one document (--json)"},
    {"monitor", monitor_main, "the fleet over ssh (or from a server): tables, alerts, TUI"},
    {"silence", silence_main, "silences and maintenance windows on a server: add, list, expire"},
    {"cfg", cfg_main, "check files: validate, export from a server, sync to a server"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: faultline <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(out, "\n'faultline <command> --help' describes a command. --version prints the "
                 "version.\n");
}

int main(int argc, char **argv)
{
    config_register_tables(settings_tables, settings_table_count);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("faultline %s\n", FAULTLINE_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (!strcmp(argv[1], subcommands[i].name))
            return subcommands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "faultline: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
