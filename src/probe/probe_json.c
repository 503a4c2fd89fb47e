/* probe_json.c — probe results as the JSON objects of docs/rca.md; see probe_json.h. */
#include "probe/probe_json.h"

#include <math.h>

/* A time or percentage to 0.01. */
static json_t *hundredths(double value)
{
    return json_real(round(value * 100.0) / 100.0);
}

/* An RTT, or null when nothing answered. */
static json_t *rtt_or_null(bool answered, double ms)
{
    return answered ? hundredths(ms) : json_null();
}

static json_t *text_or_null(const char *text)
{
    return text && *text ? json_string(text) : json_null();
}

/* Adds "error" when the probe could not run; frees obj and returns NULL if building failed. */
static json_t *with_error(json_t *obj, const char *error)
{
    if (obj && error && *error && json_object_set_new(obj, "error", json_string(error)) != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

json_t *ping_result_json(const struct ping_result *r)
{
    bool any = r->received > 0;
    json_t *obj =
        json_pack("{s:s, s:s, s:s, s:i, s:i, s:o, s:o, s:o, s:o}", "target", r->target, "addr",
                  r->addr, "method", probe_method_name(r->method), "sent", r->sent, "received",
                  r->received, "loss_pct", hundredths(r->loss_pct), "rtt_min_ms",
                  rtt_or_null(any, r->rtt_min_ms), "rtt_avg_ms", rtt_or_null(any, r->rtt_avg_ms),
                  "rtt_max_ms", rtt_or_null(any, r->rtt_max_ms));
    return with_error(obj, r->error);
}

static json_t *hop_json(const struct trace_hop *h)
{
    bool any = h->received > 0;
    return json_pack("{s:i, s:s, s:i, s:i, s:o, s:o, s:o, s:o}", "ttl", h->ttl, "addr", h->addr,
                     "sent", h->sent, "received", h->received, "loss_pct", hundredths(h->loss_pct),
                     "best_ms", rtt_or_null(any, h->best_ms), "avg_ms", rtt_or_null(any, h->avg_ms),
                     "worst_ms", rtt_or_null(any, h->worst_ms));
}

json_t *trace_result_json(const struct trace_result *r)
{
    json_t *hops = json_array();
    if (!hops)
        return NULL;
    for (int i = 0; i < r->n_hops && i < TRACE_MAX_HOPS; i++) {
        if (json_array_append_new(hops, hop_json(&r->hops[i])) != 0) {
            json_decref(hops);
            return NULL;
        }
    }
    json_t *obj = json_pack("{s:s, s:s, s:s, s:i, s:b, s:o}", "target", r->target, "addr", r->addr,
                            "method", probe_method_name(r->method), "rounds", r->rounds, "reached",
                            r->reached, "hops", hops);
    return with_error(obj, r->error);
}

json_t *tcp_result_json(const struct tcp_result *r)
{
    return json_pack("{s:s, s:i, s:b, s:b, s:o, s:o}", "addr", r->addr, "port", r->port, "ok",
                     r->ok, "reachable", r->reachable, "connect_ms",
                     rtt_or_null(r->reachable, r->connect_ms), "error", text_or_null(r->error));
}

json_t *dns_result_json(const struct dns_result *r)
{
    return json_pack("{s:s, s:b, s:o, s:o, s:o}", "name", r->name, "ok", r->ok, "ms",
                     hundredths(r->ms), "addr", text_or_null(r->addr), "error",
                     text_or_null(r->error));
}
