/* views.c — the monitor's tables and JSON documents; see views.h. Text tables fit 80 columns:
 * long names are cut. */
#include "monitor/views.h"

#include <math.h>
#include <string.h>

#include "base/clock.h"

static const char *const view_names[] = {"cluster", "node",   "service", "mesh",
                                         "alerts",  "report", "live"};

int monitor_view_parse(const char *name)
{
    for (size_t i = 0; i < sizeof view_names / sizeof view_names[0]; i++)
        if (strcmp(name, view_names[i]) == 0)
            return (int)i;
    return -1;
}

static const json_t *member(const json_t *j, const char *a, const char *b)
{
    const json_t *x = json_object_get(j, a);
    return b ? json_object_get(x, b) : x;
}

static double num(const json_t *j)
{
    return json_is_number(j) ? json_number_value(j) : NAN;
}

static const char *text(const json_t *j)
{
    const char *t = json_string_value(j);
    return t ? t : "-";
}

/* The fullest disk's used_pct. */
static double worst_disk(const json_t *report)
{
    double worst = NAN;
    size_t i;
    json_t *d;
    json_array_foreach(member(report, "system", "disks"), i, d)
    {
        double u = num(json_object_get(d, "used_pct"));
        if (isnan(worst) || u > worst)
            worst = u;
    }
    return worst;
}

static size_t alerts_of(const struct monitor_alerts *a, const char *node)
{
    size_t n = 0;
    for (size_t i = 0; i < a->count; i++)
        n += strcmp(a->items[i].node, node) == 0;
    return n;
}

/* A number for a sentence, with decimals places; "-" when the report lacks it. The text lives in
 * one of a ring of buffers, valid for the next few calls (one printf's arguments). */
static const char *numtext(double v, int decimals)
{
    static char ring[12][32];
    static unsigned next;
    if (isnan(v))
        return "-";
    char *buf = ring[next++ % 12];
    snprintf(buf, sizeof ring[0], "%.*f", decimals, v);
    return buf;
}

static void pct(FILE *out, double v)
{
    if (isnan(v))
        fprintf(out, " %5s", "-");
    else
        fprintf(out, " %5.1f", v);
}

/* ---- text --------------------------------------------------------------------------------- */

static void print_summary(FILE *out, const struct monitor_snapshot *s,
                          const struct monitor_alerts *a)
{
    size_t healthy = 0;
    for (size_t i = 0; i < s->count; i++)
        healthy += strcmp(monitor_node_status(&s->results[i], a), "healthy") == 0;
    fprintf(out,
            "%zu nodes: %zu healthy, %zu unreachable; %zu critical, %zu warning, %zu info alerts "
            "(%.1f s)\n",
            s->count, healthy, s->count - monitor_snapshot_reachable(s),
            monitor_alerts_count(a, MONITOR_CRITICAL), monitor_alerts_count(a, MONITOR_WARNING),
            monitor_alerts_count(a, MONITOR_INFO), (double)s->duration_ms / 1000);
}

static void print_cluster(FILE *out, const struct monitor_snapshot *s,
                          const struct monitor_alerts *a)
{
    print_summary(out, s, a);
    fprintf(out, "%-14s %-11s %-8s %-8s %5s %5s %5s %4s %3s %6s\n", "NODE", "STATUS", "ROLE",
            "VERSION", "LOAD", "MEM%", "DISK%", "FAIL", "WG", "ALERTS");
    for (size_t i = 0; i < s->count; i++) {
        const struct monitor_result *r = &s->results[i];
        const json_t *rep = r->report;
        fprintf(out, "%-14.14s %-11s %-8.8s %-8.8s", r->name, monitor_node_status(r, a),
                r->role ? r->role : "-", text(json_object_get(rep, "version")));
        double load = num(member(rep, "system", "load_avg_1"));
        if (isnan(load))
            fprintf(out, " %5s", "-");
        else
            fprintf(out, " %5.2f", load);
        pct(out, num(member(rep, "system", "mem_used_pct")));
        pct(out, worst_disk(rep));
        fprintf(out, " %4zu %3zu %6zu\n", json_array_size(member(rep, "services", "failed_units")),
                monitor_wg_peer_count(rep), alerts_of(a, r->name));
        if (!rep)
            fprintf(out, "  %.76s\n", r->error);
    }
}

static void print_node(FILE *out, const struct monitor_snapshot *s, const struct monitor_alerts *a)
{
    for (size_t i = 0; i < s->count; i++) {
        const struct monitor_result *r = &s->results[i];
        const json_t *rep = r->report;
        fprintf(out, "%s== %s (%s): %s, %lld ms\n", i ? "\n" : "", r->name, r->host,
                monitor_node_status(r, a), (long long)r->collection_ms);
        if (!rep) {
            fprintf(out, "  %s\n", r->error);
            continue;
        }
        fprintf(out, "  version %s, kernel %s, up %s s\n", text(json_object_get(rep, "version")),
                text(member(rep, "system", "kernel")),
                numtext(num(member(rep, "system", "uptime_s")), 0));
        fprintf(out, "  system: %s CPUs, load %s, memory %s%%, swap %s%%, OOM kills %s\n",
                numtext(num(member(rep, "system", "cpu_count")), 0),
                numtext(num(member(rep, "system", "load_avg_1")), 2),
                numtext(num(member(rep, "system", "mem_used_pct")), 1),
                numtext(num(member(rep, "system", "swap_used_pct")), 1),
                numtext(num(member(rep, "system", "oom_kills")), 0));
        size_t k;
        json_t *x;
        json_array_foreach(member(rep, "system", "disks"), k, x)
        {
            fprintf(out, "  disk %-20.20s %s%%\n", text(json_object_get(x, "mountpoint")),
                    numtext(num(json_object_get(x, "used_pct")), 1));
        }
        json_array_foreach(member(rep, "services", "units"), k, x)
        {
            fprintf(out, "  unit %-24.24s %s/%s, %s restarts%s\n", text(json_object_get(x, "name")),
                    text(json_object_get(x, "active_state")), text(json_object_get(x, "sub_state")),
                    numtext(num(json_object_get(x, "restarts")), 0),
                    json_is_true(json_object_get(x, "restart_loop")) ? ", restart loop" : "");
        }
        const json_t *inet = member(rep, "network", "internet_reachable");
        fprintf(out, "  network: internet %s, retransmits %s%%\n",
                json_is_true(inet)    ? "reachable"
                : json_is_false(inet) ? "unreachable"
                                      : "-",
                numtext(num(member(rep, "network", "tcp_retrans_pct")), 2));
        fprintf(out, "  processes: %s zombies, %s panics in logs\n",
                numtext(num(member(rep, "processes", "zombie_count")), 0),
                numtext(num(member(rep, "processes", "panic_count")), 0));
        json_array_foreach(member(rep, "tls", "endpoints"), k, x)
        {
            fprintf(out, "  tls %-30.30s %s days left\n", text(json_object_get(x, "endpoint")),
                    numtext(num(json_object_get(x, "days_left")), 0));
        }
        for (size_t j = 0; j < a->count; j++)
            if (strcmp(a->items[j].node, r->name) == 0)
                fprintf(out, "  %-8s %s: %s\n", monitor_severity_name(a->items[j].severity),
                        a->items[j].subsystem, a->items[j].message);
    }
}

static void print_service(FILE *out, const struct monitor_snapshot *s)
{
    fprintf(out, "%-24s %-16s %-10s %-10s %8s %s\n", "UNIT", "NODE", "ACTIVE", "SUB", "RESTARTS",
            "LOOP");
    for (size_t i = 0; i < s->count; i++) {
        size_t k;
        json_t *u;
        json_array_foreach(member(s->results[i].report, "services", "units"), k, u)
        {
            fprintf(out, "%-24.24s %-16.16s %-10.10s %-10.10s %8s %s\n",
                    text(json_object_get(u, "name")), s->results[i].name,
                    text(json_object_get(u, "active_state")), text(json_object_get(u, "sub_state")),
                    numtext(num(json_object_get(u, "restarts")), 0),
                    json_is_true(json_object_get(u, "restart_loop")) ? "yes" : "no");
        }
    }
}

static void print_mesh(FILE *out, const struct monitor_snapshot *s, const struct monitor_alerts *a)
{
    fprintf(out, "%-16s %-8s %-14s %-22s %s\n", "NODE", "IFACE", "PEER", "ENDPOINT", "HANDSHAKE");
    for (size_t i = 0; i < s->count; i++) {
        size_t k, p;
        json_t *itf, *peer;
        json_array_foreach(
            member(member(s->results[i].report, "network", "wireguard"), "interfaces", NULL), k,
            itf)
        {
            json_array_foreach(json_object_get(itf, "peers"), p, peer)
            {
                double age = num(json_object_get(peer, "latest_handshake_age_s"));
                char key[16];
                snprintf(key, sizeof key, "%.11s...", text(json_object_get(peer, "public_key")));
                fprintf(out, "%-16.16s %-8.8s %-14s %-22.22s ", s->results[i].name,
                        text(json_object_get(itf, "name")), key,
                        text(json_object_get(peer, "endpoint")));
                if (isnan(age))
                    fprintf(out, "never\n");
                else
                    fprintf(out, "%.0f s ago\n", age);
            }
        }
    }
    for (size_t j = 0; j < a->count; j++)
        if (strcmp(a->items[j].subsystem, "wireguard") == 0)
            fprintf(out, "%-8s %s: %s\n", monitor_severity_name(a->items[j].severity),
                    a->items[j].node, a->items[j].message);
}

static void print_alerts(FILE *out, const struct monitor_alerts *a)
{
    if (a->count == 0) {
        fprintf(out, "no alerts\n");
        return;
    }
    fprintf(out, "%-8s %-16s %-9s %s\n", "SEVERITY", "NODE", "SUBSYSTEM", "MESSAGE");
    for (size_t i = 0; i < a->count; i++)
        fprintf(out, "%-8s %-16.16s %-9s %s\n", monitor_severity_name(a->items[i].severity),
                a->items[i].node, a->items[i].subsystem, a->items[i].message);
}

void monitor_view_print(FILE *out, enum monitor_view view, const struct monitor_snapshot *snap,
                        const struct monitor_alerts *alerts)
{
    switch (view) {
    case MONITOR_VIEW_NODE:
        print_node(out, snap, alerts);
        break;
    case MONITOR_VIEW_SERVICE:
        print_service(out, snap);
        break;
    case MONITOR_VIEW_MESH:
        print_mesh(out, snap, alerts);
        break;
    case MONITOR_VIEW_ALERTS:
        print_alerts(out, alerts);
        break;
    case MONITOR_VIEW_REPORT: {
        json_t *doc = monitor_view_json(view, snap, alerts);
        json_dumpf(doc, out, JSON_INDENT(2));
        fputc('\n', out);
        json_decref(doc);
        break;
    }
    default:
        print_cluster(out, snap, alerts);
    }
}

/* ---- JSON --------------------------------------------------------------------------------- */

static json_t *node_json(const struct monitor_result *r, const struct monitor_alerts *a,
                         bool with_report)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "host", r->host, "name", r->name, "status",
                          monitor_node_status(r, a), "collection_ms", (json_int_t)r->collection_ms);
    if (!o)
        return NULL;
    json_object_set_new(o, "error", r->report ? json_null() : json_string(r->error));
    if (with_report)
        json_object_set(o, "report", r->report ? r->report : json_null());
    return o;
}

static json_t *cluster_row(const struct monitor_result *r, const struct monitor_alerts *a)
{
    json_t *o = node_json(r, a, false);
    const json_t *rep = r->report;
    json_object_set_new(o, "role", r->role ? json_string(r->role) : json_null());
    json_object_set(o, "version",
                    json_object_get(rep, "version") ? json_object_get(rep, "version")
                                                    : json_null());
    double v[3] = {num(member(rep, "system", "load_avg_1")),
                   num(member(rep, "system", "mem_used_pct")), worst_disk(rep)};
    const char *k[3] = {"load_avg_1", "mem_used_pct", "disk_used_pct"};
    for (int i = 0; i < 3; i++)
        json_object_set_new(o, k[i], isnan(v[i]) ? json_null() : json_real(v[i]));
    json_object_set_new(
        o, "failed_units",
        json_integer((json_int_t)json_array_size(member(rep, "services", "failed_units"))));
    json_object_set_new(o, "wg_peers", json_integer((json_int_t)monitor_wg_peer_count(rep)));
    json_object_set_new(o, "alerts", json_integer((json_int_t)alerts_of(a, r->name)));
    return o;
}

static json_t *units_json(const struct monitor_snapshot *s)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < s->count; i++) {
        size_t k;
        json_t *u;
        json_array_foreach(member(s->results[i].report, "services", "units"), k, u)
        {
            json_t *row = json_deep_copy(u);
            json_object_set_new(row, "node", json_string(s->results[i].name));
            json_array_append_new(arr, row);
        }
    }
    return arr;
}

static json_t *mesh_json(const struct monitor_snapshot *s)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < s->count; i++) {
        size_t k;
        json_t *itf;
        json_array_foreach(
            member(member(s->results[i].report, "network", "wireguard"), "interfaces", NULL), k,
            itf)
        {
            json_t *row = json_deep_copy(itf);
            json_object_set_new(row, "node", json_string(s->results[i].name));
            json_array_append_new(arr, row);
        }
    }
    return arr;
}

static const char *mesh_health(const struct monitor_alerts *a)
{
    for (size_t i = 0; i < a->count; i++)
        if (strcmp(a->items[i].subsystem, "wireguard") == 0)
            return "degraded: see the wireguard alerts";
    return "all connected (or no mesh)";
}

static const char *service_health(const struct monitor_alerts *a)
{
    for (size_t i = 0; i < a->count; i++)
        if (strcmp(a->items[i].subsystem, "services") == 0)
            return "degraded: see the services alerts";
    return "all nominal";
}

static json_t *report_json(const struct monitor_snapshot *s, const struct monitor_alerts *a)
{
    char at[CLOCK_ISO_LEN];
    clock_format_iso(s->started_ms, at, sizeof at);
    size_t healthy = 0;
    json_t *nodes = json_array();
    for (size_t i = 0; i < s->count; i++) {
        healthy += strcmp(monitor_node_status(&s->results[i], a), "healthy") == 0;
        json_array_append_new(nodes, node_json(&s->results[i], a, true));
    }
    json_t *meta =
        json_pack("{s:s, s:s, s:f, s:I, s:I}", "environment", s->environment ? s->environment : "",
                  "collected_at", at, "duration_seconds", (double)s->duration_ms / 1000,
                  "node_count", (json_int_t)s->count, "healthy_count", (json_int_t)healthy);
    json_t *summary =
        json_pack("{s:I, s:I, s:I, s:I, s:s, s:s}", "critical_alerts",
                  (json_int_t)monitor_alerts_count(a, MONITOR_CRITICAL), "warning_alerts",
                  (json_int_t)monitor_alerts_count(a, MONITOR_WARNING), "info_alerts",
                  (json_int_t)monitor_alerts_count(a, MONITOR_INFO), "unreachable_nodes",
                  (json_int_t)(s->count - monitor_snapshot_reachable(s)), "wg_mesh_status",
                  mesh_health(a), "service_health", service_health(a));
    return json_pack("{s:o, s:o, s:o, s:o}", "meta", meta, "summary", summary, "alerts",
                     monitor_alerts_json(a), "nodes", nodes);
}

json_t *monitor_view_json(enum monitor_view view, const struct monitor_snapshot *snap,
                          const struct monitor_alerts *alerts)
{
    json_t *arr;
    switch (view) {
    case MONITOR_VIEW_REPORT:
        return report_json(snap, alerts);
    case MONITOR_VIEW_NODE:
        arr = json_array();
        for (size_t i = 0; i < snap->count; i++)
            json_array_append_new(arr, node_json(&snap->results[i], alerts, true));
        return json_pack("{s:o}", "nodes", arr);
    case MONITOR_VIEW_SERVICE:
        return json_pack("{s:o}", "units", units_json(snap));
    case MONITOR_VIEW_MESH:
        arr = json_array();
        for (size_t i = 0; i < alerts->count; i++)
            if (strcmp(alerts->items[i].subsystem, "wireguard") == 0)
                json_array_append_new(
                    arr, json_pack("{s:s, s:s, s:s}", "severity",
                                   monitor_severity_name(alerts->items[i].severity), "node",
                                   alerts->items[i].node, "message", alerts->items[i].message));
        return json_pack("{s:o, s:o}", "interfaces", mesh_json(snap), "alerts", arr);
    case MONITOR_VIEW_ALERTS:
        return json_pack("{s:o}", "alerts", monitor_alerts_json(alerts));
    default:
        arr = json_array();
        for (size_t i = 0; i < snap->count; i++)
            json_array_append_new(arr, cluster_row(&snap->results[i], alerts));
        return json_pack("{s:s, s:o}", "environment", snap->environment ? snap->environment : "",
                         "nodes", arr);
    }
}
