/* icmp_probe.c — the `icmp` probe type: `count` echo requests (default 3) to the target on the
 * env's shared ICMP socket (ping.c), spaced so that the whole run fits in the check's timeout;
 * fills [RTT] (average, ms), [LOSS] (percent) and [CONNECTED] (some echo was answered). */
#include "probe/probe_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ICMP_DEFAULT_COUNT 3
#define ICMP_MAX_COUNT 100
#define ICMP_INTERVAL_MS 200

struct icmp_options {
    char host[PROBE_HOST_MAX];
    int count;
};

struct icmp_run {
    struct probe_ping *ping;
    probe_done_cb done;
    void *ctx;
};

static void *icmp_parse(const json_t *def, const char **field, char *err, size_t errlen)
{
    const char *target = probe_opt_target(def, field, err, errlen);
    if (!target)
        return NULL;
    if (strlen(target) >= PROBE_HOST_MAX || strchr(target, '/')) {
        snprintf(err, errlen, "\"%.80s\" is not a host name or an IP address", target);
        return NULL;
    }
    long count = ICMP_DEFAULT_COUNT;
    if (probe_opt_int(def, "count", 1, ICMP_MAX_COUNT, &count, field, err, errlen) < 0)
        return NULL;
    struct icmp_options *o = calloc(1, sizeof *o);
    if (!o) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(o->host, sizeof o->host, "%s", target);
    o->count = (int)count;
    return o;
}

static void icmp_free_options(void *options)
{
    free(options);
}

static void on_ping_done(const struct ping_result *p, void *ctx)
{
    struct icmp_run *r = ctx;
    struct probe_result res = {.ran = p->sent > 0,
                               .connected = p->received > 0,
                               .rtt_ms = p->rtt_avg_ms,
                               .loss_pct = p->sent ? p->loss_pct : 100,
                               .response_time_ms = p->rtt_avg_ms,
                               .sent = p->sent,
                               .received = p->received};
    snprintf(res.addr, sizeof res.addr, "%s", p->addr);
    snprintf(res.error, sizeof res.error, "%s", p->error);
    if (!res.error[0] && p->received == 0)
        snprintf(res.error, sizeof res.error, "no answer to %d echo requests", p->sent);
    r->done(&res, r->ctx);
    free(r);
}

static struct probe_run *icmp_start(struct probe_env *env, const void *options, int timeout_ms,
                                    probe_done_cb done, void *ctx, char *err, size_t errlen)
{
    const struct icmp_options *o = options;
    /* Spacing and per-echo wait so that the last answer is due within the timeout. */
    int interval = o->count > 1 ? timeout_ms / (2 * o->count) : 0;
    if (interval > ICMP_INTERVAL_MS)
        interval = ICMP_INTERVAL_MS;
    int wait = timeout_ms - (o->count - 1) * interval;
    struct icmp_run *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->done = done;
    r->ctx = ctx;
    struct ping_result failed;
    r->ping = probe_ping_start(env, o->host, o->count, interval, wait > 0 ? wait : 1, on_ping_done,
                               r, &failed);
    if (!r->ping) {
        snprintf(err, errlen, "%s", failed.error);
        free(r);
        return NULL;
    }
    probe_ping_set_deadline(r->ping, timeout_ms); /* udp-recverr paces echoes after the 5th */
    return (struct probe_run *)r;
}

static void icmp_cancel(struct probe_run *run)
{
    struct icmp_run *r = (struct icmp_run *)run;
    probe_ping_cancel(r->ping);
    free(r);
}

static const char *const icmp_members[] = {"target", "count", NULL};

const struct probe_type probe_type_icmp = {
    .name = "icmp",
    .placeholders =
        PH_BIT(PH_RTT) | PH_BIT(PH_LOSS) | PH_BIT(PH_CONNECTED) | PH_BIT(PH_RESPONSE_TIME),
    .default_condition = "[CONNECTED] == true",
    .parse = icmp_parse,
    .free_options = icmp_free_options,
    .start = icmp_start,
    .cancel = icmp_cancel,
    .members = icmp_members,
};
