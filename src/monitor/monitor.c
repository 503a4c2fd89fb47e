/* monitor.c — `faultline monitor`: reads the nodes file, picks the nodes (--env, --node), runs
 * one collection on a libuv loop (or hands the loop to the TUI), derives the alerts and prints
 * the view; see monitor.h. */
#include "monitor/monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "base/cli.h"
#include "monitor/alerts.h"
#include "monitor/settings.h"
#include "monitor/source.h"
#include "monitor/tui.h"
#include "monitor/views.h"

#define MONITOR_DEFAULT_CONFIG ".config/faultline/nodes.yaml" /* under $HOME */

static const char *const monitor_cli_options[] = {"MONITOR_TIMEOUT", "MONITOR_REFRESH",
                                                  "LOG_LEVEL"};

static const struct cli_spec monitor_cli = {
    .command = "monitor",
    .usage = "monitor [live|cluster|node|service|mesh|alerts|report] [--env NAME] [--node HOST]\n"
             "                 [--config FILE] [--server URL] [--json]",
    .description =
        "The fleet from a laptop: runs `faultline report --json` on every node of the nodes\n"
        "file (--config, default ~/.config/faultline/nodes.yaml) over the system ssh, all in\n"
        "parallel, with BatchMode and connection sharing, and derives alerts per node and\n"
        "across nodes (clock skew, version mismatch, WireGuard symmetry).\n\n"
        "  cluster  one line per node (the default)\n"
        "  node     every section of each node (--node HOST for one)\n"
        "  service  systemd units across nodes\n"
        "  mesh     WireGuard interfaces and peers\n"
        "  alerts   the alerts, most severe first\n"
        "  report   one JSON document for a person or an LLM (meta, summary, alerts, nodes)\n"
        "  live     the full-screen view, refreshed every MONITOR_REFRESH\n\n"
        "  --env NAME    only the nodes whose env: is NAME\n"
        "  --node HOST   only the node with that host or name\n"
        "  --server URL  the reports agents pushed to a faultline server instead of ssh\n"
        "                (user:password in the URL, or FAULTLINE_ADMIN_USER and\n"
        "                FAULTLINE_ADMIN_PASSWORD)\n"
        "  --json        the view as JSON\n\n"
        "Exit status: 0 no critical alert, 1 critical alerts (an unreachable node is one),\n"
        "2 usage or configuration error.",
    .options = monitor_cli_options,
    .option_count = 3,
    .max_positional = 1,
    .json = true,
};

/* The flags only monitor has, taken out of argv before cli_parse sees it. */
struct monitor_flags {
    const char *env, *node, *server;
    bool has_config;
};

static int take_flags(int argc, char **argv, char **kept, struct monitor_flags *f)
{
    static const char *const names[] = {"--env", "--node", "--server"};
    int n = 0;
    for (int i = 0; i < argc; i++) {
        const char **slot[] = {&f->env, &f->node, &f->server};
        bool taken = false;
        for (int k = 0; i > 0 && k < 3 && !taken; k++) {
            size_t len = strlen(names[k]);
            if (strcmp(argv[i], names[k]) == 0) {
                if (i + 1 >= argc)
                    return -k - 1;
                *slot[k] = argv[++i];
                taken = true;
            } else if (strncmp(argv[i], names[k], len) == 0 && argv[i][len] == '=') {
                *slot[k] = argv[i] + len + 1;
                taken = true;
            }
        }
        if (!taken) {
            if (i > 0 &&
                (strcmp(argv[i], "--config") == 0 || strncmp(argv[i], "--config=", 9) == 0))
                f->has_config = true;
            kept[n++] = argv[i];
        }
    }
    return n;
}

static bool node_selected(const struct monitor_node *n, const struct monitor_flags *f)
{
    if (f->env && (!n->env || strcmp(n->env, f->env) != 0))
        return false;
    if (f->node && strcmp(n->host, f->node) != 0 && (!n->name || strcmp(n->name, f->node) != 0))
        return false;
    return true;
}

struct one_shot {
    struct monitor_snapshot snap;
    bool done;
};

static void on_collected(struct monitor_snapshot *snap, void *ctx)
{
    struct one_shot *o = ctx;
    o->snap = *snap;
    o->done = true;
}

static int show_once(uv_loop_t *loop, const struct monitor_plan *plan,
                     const struct monitor_settings *s, enum monitor_view view, bool json)
{
    struct one_shot o = {0};
    char err[512];
    if (!monitor_plan_start(loop, plan, on_collected, &o, err, sizeof err))
        return cli_fail(&monitor_cli, err);
    uv_run(loop, UV_RUN_DEFAULT);
    struct monitor_alerts alerts = {0};
    monitor_alerts_derive(&o.snap, &s->thresholds, &alerts);
    if (json || view == MONITOR_VIEW_REPORT) {
        json_t *doc = monitor_view_json(view, &o.snap, &alerts);
        json_dumpf(doc, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(doc);
    } else {
        monitor_view_print(stdout, view, &o.snap, &alerts);
    }
    int rc = monitor_alerts_count(&alerts, MONITOR_CRITICAL) ? 1 : 0;
    monitor_alerts_free(&alerts);
    monitor_snapshot_clear(&o.snap);
    return rc;
}

/* Picks the nodes; returns how many, or -1 with a message printed. */
static int select_nodes(const struct monitor_settings *s, const struct monitor_flags *f,
                        const char *config, const struct monitor_node **out)
{
    size_t n = 0;
    for (size_t i = 0; i < s->node_count; i++)
        if (node_selected(&s->nodes[i], f))
            out[n++] = &s->nodes[i];
    if (n > 0)
        return (int)n;
    char msg[700];
    if (f->node)
        snprintf(msg, sizeof msg,
                 "--node: no node with host or name \"%.100s\"%s%.100s%s in %.300s", f->node,
                 f->env ? " (env " : "", f->env ? f->env : "", f->env ? ")" : "", config);
    else
        snprintf(msg, sizeof msg,
                 "%.300s: no nodes%s%.100s (expected a nodes: list with host: entries)", config,
                 f->env ? " with env " : "", f->env ? f->env : "");
    cli_fail(&monitor_cli, msg);
    return -1;
}

static int monitor_run(int argc, char **argv, const struct monitor_flags *f, char *default_config)
{
    struct config cfg;
    struct monitor_settings s;
    config_init(&cfg);
    monitor_settings_init(&s);
    config_attach(&cfg, &monitor_settings_table, &s);
    char *positional[1];
    struct cli_args args = {.positional = positional};
    enum cli_result r = cli_parse(&monitor_cli, argc, argv, &cfg, &args);
    int rc = r == CLI_EXIT_OK ? 0 : 2;
    int view = args.positional_count ? monitor_view_parse(positional[0]) : MONITOR_VIEW_CLUSTER;
    const struct monitor_node **nodes = calloc(s.node_count + 1, sizeof *nodes);
    int count = 0;
    if (r != CLI_RUN || !nodes)
        goto out;
    if (view < 0) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "unknown view \"%.60s\" (expected live, cluster, node, service, "
                 "mesh, alerts or report)",
                 positional[0]);
        rc = cli_fail(&monitor_cli, msg);
        goto out;
    }
    if (!f->server && (count = select_nodes(&s, f, default_config, nodes)) < 0)
        goto out;
    struct monitor_plan plan = {.nodes = nodes,
                                .node_count = (size_t)count,
                                .server = f->server,
                                .only_node = f->node,
                                .environment = f->env,
                                .timeout_ms = s.timeout_ms};
    uv_loop_t loop;
    uv_loop_init(&loop);
    rc = view == MONITOR_VIEW_LIVE
             ? monitor_tui_run(&loop, &plan, &s)
             : show_once(&loop, &plan, &s, (enum monitor_view)view, args.json);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
out:
    free(nodes);
    monitor_settings_free(&s);
    config_free(&cfg);
    return rc;
}

int monitor_main(int argc, char **argv)
{
    char **kept = calloc((size_t)argc + 3, sizeof *kept);
    if (!kept)
        return cli_fail(&monitor_cli, "out of memory");
    struct monitor_flags f = {0};
    int n = take_flags(argc, argv, kept, &f);
    if (n < 0) {
        free(kept);
        static const char *const names[] = {"--env", "--node", "--server"};
        char msg[128];
        snprintf(msg, sizeof msg, "%s: expected a value", names[-n - 1]);
        return cli_fail(&monitor_cli, msg);
    }
    /* Without --config, the default nodes file (when there is one: --server needs none). */
    char config[1024]; /* the nodes file, for messages */
    const char *home = getenv("HOME");
    snprintf(config, sizeof config, "%s/%s", home ? home : "", MONITOR_DEFAULT_CONFIG);
    bool help = false;
    for (int i = 1; i < n; i++)
        help = help || strcmp(kept[i], "--help") == 0 || strcmp(kept[i], "-h") == 0;
    if (!f.has_config && !help && (!f.server || access(config, R_OK) == 0)) {
        if (!f.server && access(config, R_OK) != 0) {
            free(kept);
            char msg[1200];
            snprintf(msg, sizeof msg,
                     "%.1000s: no nodes file (give --config FILE, or --server URL)", config);
            return cli_fail(&monitor_cli, msg);
        }
        kept[n++] = "--config";
        kept[n++] = config;
    }
    for (int i = 1; i < n; i++)
        if (f.has_config &&
            (strcmp(kept[i], "--config") == 0 || strncmp(kept[i], "--config=", 9) == 0))
            snprintf(config, sizeof config, "%s",
                     kept[i][8] == '=' ? kept[i] + 9
                     : i + 1 < n       ? kept[i + 1]
                                       : "");
    int rc = monitor_run(n, kept, &f, config);
    free(kept);
    return rc;
}
