/* network.c — the report's "network" section, but for reachability (netcheck.c): the TCP
 * retransmission rate and listening sockets (proc_net.c's parsers), whether a firewall is active
 * (`nft list ruleset`, else `iptables -S`, 4 s each) and WireGuard (wireguard.c). */
#include "report/report_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "collect/collect.h"

#define REPORT_COMMAND_CAP (1024 * 1024)

static void report_listening(struct report_job *job, json_t *net)
{
    static const char *const protos[] = {"tcp", "tcp6", "udp", "udp6"};
    json_t *ports = json_array();
    for (size_t i = 0; i < 4; i++) {
        char path[32];
        snprintf(path, sizeof path, "/proc/net/%s", protos[i]);
        char *text = report_read_file(job->root, path, 4 * 1024 * 1024);
        if (text)
            report_listen_parse(text, protos[i], ports);
        else if (errno != ENOENT) /* no IPv6 is normal */
            report_fail(job, "%s: %s", path, strerror(errno));
        free(text);
    }
    json_object_set_new(net, "listening_ports", ports);
}

/* Runs argv with the report's command limit. Returns 0 with *out (malloc'd), 1 when the command
 * is not installed, -1 with err. */
static int report_command(char *const argv[], char **out, char *err, size_t errlen)
{
    size_t len;
    return collect_run(argv, REPORT_COMMAND_TIMEOUT_MS, NULL, REPORT_COMMAND_CAP, out, &len, err,
                       errlen);
}

/* nftables with any rule, or iptables with a rule beyond its default policies ("-P"). null when
 * neither could be asked (not installed, or not allowed: both need CAP_NET_ADMIN). */
static json_t *report_firewall(struct report_job *job)
{
    char *nft[] = {"nft", "list", "ruleset", NULL};
    char *ipt[] = {"iptables", "-S", NULL};
    char *out = NULL, err[256] = "";
    int rc = report_command(nft, &out, err, sizeof err);
    if (rc == 0) {
        bool rules = strstr(out, "table ") != NULL;
        free(out);
        return json_boolean(rules);
    }
    free(out);
    out = NULL;
    char err2[256] = "";
    int rc2 = report_command(ipt, &out, err2, sizeof err2);
    if (rc2 == 0) {
        bool rules = false;
        for (char *save = NULL, *l = strtok_r(out, "\n", &save); l && !rules;
             l = strtok_r(NULL, "\n", &save))
            rules = strncmp(l, "-P ", 3) != 0;
        free(out);
        return json_boolean(rules);
    }
    free(out);
    if (rc < 0 || rc2 < 0)
        report_fail(job, "firewall: %s%s%s", rc < 0 ? err : "", rc < 0 && rc2 < 0 ? "; " : "",
                    rc2 < 0 ? err2 : "");
    return json_null();
}

static json_t *report_wireguard(struct report_job *job)
{
    char *wg[] = {"wg", "show", "all", "dump", NULL};
    char *out = NULL, err[256] = "";
    int rc = report_command(wg, &out, err, sizeof err);
    json_t *result = NULL;
    if (rc == 0)
        result = report_wg_parse(out, clock_wall_ms() / 1000);
    else if (rc < 0)
        report_fail(job, "wireguard: %s", err);
    free(out);
    return result ? result : json_pack("{s:[]}", "interfaces");
}

/* Three rows of the section table, so the commands wait at the same time. */
static void report_network_local(struct report_job *job)
{
    char *snmp = report_read_file(job->root, "/proc/net/snmp", 65536);
    double pct = snmp ? report_retrans_pct(snmp) : -1;
    if (!snmp)
        report_fail(job, "/proc/net/snmp: %s", strerror(errno));
    free(snmp);
    json_object_set_new(job->data, "tcp_retrans_pct", pct >= 0 ? report_real2(pct) : json_null());
    report_listening(job, job->data);
}

static void report_network_firewall(struct report_job *job)
{
    json_object_set_new(job->data, "firewall_active", report_firewall(job));
}

static void report_network_wireguard(struct report_job *job)
{
    json_object_set_new(job->data, "wireguard", report_wireguard(job));
}

const struct report_section report_network_sockets = {"network", report_network_local};
const struct report_section report_network_fw = {"network", report_network_firewall};
const struct report_section report_network_wg = {"network", report_network_wireguard};
