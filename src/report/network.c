/* network.c — the report's "network" section: reachability of the REPORT_TARGETS (a TCP
 * handshake, every target at once with non-blocking connects and one poll, 3 s in all), the TCP
 * retransmission rate and listening sockets (proc_net.c's parsers),
 * whether a firewall is active (`nft list ruleset`, else `iptables -S`, 4 s each) and WireGuard
 * (wireguard.c).
 *
 * Reachability will move to the probe table's "tcp" type (src/probe/probe_type.h) once it has
 * landed; report_targets is the one function to swap. */
#include "report/report_internal.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "collect/collect.h"

#define REPORT_DEFAULT_PORT 443
#define REPORT_COMMAND_CAP (1024 * 1024)

struct report_target {
    char label[300]; /* as configured */
    int fd;          /* -1 once settled */
    int64_t started_ms;
    bool reachable;
    double rtt_ms;
    char error[300];
};

/* Starts a non-blocking connect to host:port (the first address the resolver gives). */
static void report_target_start(struct report_target *t, const struct config_target *ct)
{
    char port[8];
    snprintf(port, sizeof port, "%d", ct->port ? ct->port : REPORT_DEFAULT_PORT);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(ct->host, port, &hints, &ai);
    t->fd = -1;
    if (rc != 0) {
        snprintf(t->error, sizeof t->error, "%.100s: %s", ct->host, gai_strerror(rc));
        return;
    }
    t->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    t->started_ms = clock_mono_ms();
    if (t->fd >= 0 && connect(t->fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        snprintf(t->error, sizeof t->error, "connect: %s", strerror(errno));
        close(t->fd);
        t->fd = -1;
    } else if (t->fd < 0) {
        snprintf(t->error, sizeof t->error, "socket: %s", strerror(errno));
    }
    freeaddrinfo(ai);
}

static void report_target_settle(struct report_target *t)
{
    int so_error = 0;
    socklen_t len = sizeof so_error;
    getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    t->rtt_ms = (double)(clock_mono_ms() - t->started_ms);
    t->reachable = so_error == 0;
    if (so_error)
        snprintf(t->error, sizeof t->error, "connect: %s", strerror(so_error));
    close(t->fd);
    t->fd = -1;
}

/* Waits for every started connect until REPORT_NET_TIMEOUT_MS has passed. */
static void report_targets_wait(struct report_target *t, int n)
{
    int64_t deadline = clock_mono_ms() + REPORT_NET_TIMEOUT_MS;
    for (;;) {
        struct pollfd pfd[CONFIG_TARGETS_MAX];
        int idx[CONFIG_TARGETS_MAX], open_count = 0;
        for (int i = 0; i < n; i++)
            if (t[i].fd >= 0) {
                pfd[open_count] = (struct pollfd){.fd = t[i].fd, .events = POLLOUT};
                idx[open_count++] = i;
            }
        int64_t left = deadline - clock_mono_ms();
        if (open_count == 0 || left <= 0)
            break;
        if (poll(pfd, (nfds_t)open_count, (int)left) < 0 && errno != EINTR)
            break;
        for (int k = 0; k < open_count; k++)
            if (pfd[k].revents)
                report_target_settle(&t[idx[k]]);
    }
    for (int i = 0; i < n; i++)
        if (t[i].fd >= 0) {
            snprintf(t[i].error, sizeof t[i].error, "no answer within %d ms",
                     REPORT_NET_TIMEOUT_MS);
            close(t[i].fd);
            t[i].fd = -1;
        }
}

static void report_targets(struct report_job *job, json_t *net)
{
    struct config_target ct[CONFIG_TARGETS_MAX];
    char err[256];
    const char *list = job->opts->settings->targets;
    int n = config_split_targets(list ? list : "", ct, CONFIG_TARGETS_MAX, err, sizeof err);
    if (n < 0) {
        report_fail(job, "REPORT_TARGETS: %s", err);
        n = 0;
    }
    struct report_target t[CONFIG_TARGETS_MAX] = {0};
    for (int i = 0; i < n; i++) {
        snprintf(t[i].label, sizeof t[i].label, strchr(ct[i].host, ':') ? "[%s]:%d" : "%s:%d",
                 ct[i].host, ct[i].port ? ct[i].port : REPORT_DEFAULT_PORT);
        report_target_start(&t[i], &ct[i]);
    }
    report_targets_wait(t, n);
    json_t *targets = json_array();
    bool any = false;
    for (int i = 0; i < n; i++) {
        any = any || t[i].reachable;
        if (!t[i].reachable)
            report_fail(job, "%s: %s", t[i].label, t[i].error);
        json_array_append_new(targets,
                              json_pack("{s:s, s:b, s:o, s:o}", "target", t[i].label, "reachable",
                                        t[i].reachable, "rtt_ms",
                                        t[i].reachable ? report_real2(t[i].rtt_ms) : json_null(),
                                        "error", report_text_or_null(t[i].error)));
    }
    json_object_set_new(net, "targets", targets);
    json_object_set_new(net, "internet_reachable", n > 0 ? json_boolean(any) : json_null());
}

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

/* Four rows of the section table, so the connects and the commands wait at the same time. */
static void report_network_targets(struct report_job *job)
{
    report_targets(job, job->data);
}

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

const struct report_section report_network_reach = {"network", false, report_network_targets};
const struct report_section report_network_sockets = {"network", false, report_network_local};
const struct report_section report_network_fw = {"network", false, report_network_firewall};
const struct report_section report_network_wg = {"network", false, report_network_wireguard};
