/* path.c — where an MTR-style path stops answering, and the fault point several paths share;
 * see path.h for the reading rules. */
#include "probe/path.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

const char *path_segment_name(enum path_segment segment)
{
    switch (segment) {
    case PATH_SEGMENT_LOCAL:
        return "local";
    case PATH_SEGMENT_TRANSIT:
        return "transit";
    case PATH_SEGMENT_TARGET:
        return "target";
    case PATH_SEGMENT_NONE:
        break;
    }
    return "none";
}

/* ---- parsing ------------------------------------------------------------------------------ */

/* A short rendering of a JSON value for error messages: "\"x\"", "true", "an object". */
static void describe_value(const json_t *v, char *buf, size_t len)
{
    if (!v) {
        snprintf(buf, len, "nothing");
    } else if (json_is_string(v)) {
        snprintf(buf, len, "\"%.40s\"", json_string_value(v));
    } else if (json_is_integer(v)) {
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        snprintf(buf, len, "%g", json_real_value(v));
    } else if (json_is_boolean(v)) {
        snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
    } else if (json_is_null(v)) {
        snprintf(buf, len, "null");
    } else {
        snprintf(buf, len, json_is_array(v) ? "an array" : "an object");
    }
}

static int wrong_type(char *err, size_t errlen, const char *field, const char *expected,
                      const json_t *v)
{
    char shown[64];
    describe_value(v, shown, sizeof shown);
    return err_set(err, errlen, "%s: expected %s, got %s", field, expected, shown);
}

/* Copies an optional string member; absent or null leaves dst "". */
static int get_string(const json_t *obj, const char *key, const char *field, char *dst,
                      size_t dstlen, char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    dst[0] = '\0';
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return wrong_type(err, errlen, field, "a string", v);
    snprintf(dst, dstlen, "%s", json_string_value(v));
    return 0;
}

/* An optional number member; absent or null leaves *dst as it is and *present false. */
static int get_number(const json_t *obj, const char *key, const char *field, double min, double max,
                      double *dst, bool *present, char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (present)
        *present = false;
    if (!v || json_is_null(v))
        return 0;
    double d = json_is_number(v) ? json_number_value(v) : NAN;
    if (!(d >= min && d <= max)) {
        char expected[64];
        snprintf(expected, sizeof expected, "a number from %g to %g", min, max);
        return wrong_type(err, errlen, field, expected, v);
    }
    *dst = d;
    if (present)
        *present = true;
    return 0;
}

static int get_int(const json_t *obj, const char *key, const char *field, int min, int max,
                   int *dst, bool *present, char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (present)
        *present = false;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        char expected[64];
        snprintf(expected, sizeof expected, "an integer from %d to %d", min, max);
        return wrong_type(err, errlen, field, expected, v);
    }
    *dst = (int)json_integer_value(v);
    if (present)
        *present = true;
    return 0;
}

static enum probe_method method_from_name(const char *name)
{
    if (!strcmp(name, "raw"))
        return PROBE_METHOD_RAW;
    if (!strcmp(name, "icmp-datagram"))
        return PROBE_METHOD_DGRAM;
    if (!strcmp(name, "udp-recverr"))
        return PROBE_METHOD_UDP;
    return PROBE_METHOD_NONE;
}

static int hop_from_json(const json_t *h, size_t index, int default_ttl, struct trace_hop *hop,
                         char *err, size_t errlen)
{
    char field[64], name[48];
    snprintf(name, sizeof name, "mtr.hops[%zu]", index);
    if (!json_is_object(h))
        return wrong_type(err, errlen, name, "an object", h);
    memset(hop, 0, sizeof *hop);
    hop->ttl = default_ttl;
    bool has_loss = false;
    int rc = 0;
#define FIELD(key) (snprintf(field, sizeof field, "%s.%s", name, key), field)
    rc |= get_int(h, "ttl", FIELD("ttl"), 1, 255, &hop->ttl, NULL, err, errlen);
    if (!rc)
        rc |= get_string(h, "addr", FIELD("addr"), hop->addr, sizeof hop->addr, err, errlen);
    if (!rc)
        rc |= get_int(h, "sent", FIELD("sent"), 0, 1000000, &hop->sent, NULL, err, errlen);
    if (!rc)
        rc |= get_int(h, "received", FIELD("received"), 0, 1000000, &hop->received, NULL, err,
                      errlen);
    if (!rc)
        rc |= get_number(h, "loss_pct", FIELD("loss_pct"), 0, 100, &hop->loss_pct, &has_loss, err,
                         errlen);
    if (!rc)
        rc |= get_number(h, "best_ms", FIELD("best_ms"), 0, 1e9, &hop->best_ms, NULL, err, errlen);
    if (!rc)
        rc |= get_number(h, "avg_ms", FIELD("avg_ms"), 0, 1e9, &hop->avg_ms, NULL, err, errlen);
    if (!rc)
        rc |=
            get_number(h, "worst_ms", FIELD("worst_ms"), 0, 1e9, &hop->worst_ms, NULL, err, errlen);
#undef FIELD
    if (rc)
        return -1;
    if (!has_loss)
        hop->loss_pct = hop->sent > 0 && hop->received <= hop->sent
                            ? 100.0 * (hop->sent - hop->received) / hop->sent
                            : (hop->received > 0 ? 0 : 100);
    return 0;
}

static int hop_by_ttl(const void *a, const void *b)
{
    const struct trace_hop *x = a, *y = b;
    return (x->ttl > y->ttl) - (x->ttl < y->ttl);
}

static int trace_header_from_json(const json_t *mtr, struct trace_result *out, char *err,
                                  size_t errlen)
{
    char method[32];
    const json_t *reached = json_object_get(mtr, "reached");
    if (get_string(mtr, "target", "mtr.target", out->target, sizeof out->target, err, errlen) ||
        get_string(mtr, "addr", "mtr.addr", out->addr, sizeof out->addr, err, errlen) ||
        get_string(mtr, "method", "mtr.method", method, sizeof method, err, errlen) ||
        get_string(mtr, "error", "mtr.error", out->error, sizeof out->error, err, errlen) ||
        get_int(mtr, "rounds", "mtr.rounds", 0, 1000000, &out->rounds, NULL, err, errlen))
        return -1;
    out->method = method_from_name(method);
    if (reached && !json_is_null(reached) && !json_is_boolean(reached))
        return wrong_type(err, errlen, "mtr.reached", "true or false", reached);
    out->reached = json_is_true(reached);
    return 0;
}

int trace_result_from_json(const json_t *mtr, struct trace_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(mtr))
        return wrong_type(err, errlen, "mtr", "an object", mtr);
    if (trace_header_from_json(mtr, out, err, errlen) != 0)
        goto fail;
    const json_t *hops = json_object_get(mtr, "hops");
    if (!hops || json_is_null(hops)) {
        if (out->error[0])
            return 0; /* a probe that could not run has no hops */
        err_set(err, errlen, "mtr.hops: expected an array of hops, got nothing");
        goto fail;
    }
    if (!json_is_array(hops)) {
        wrong_type(err, errlen, "mtr.hops", "an array of hops", hops);
        goto fail;
    }
    size_t i;
    const json_t *h;
    json_array_foreach(hops, i, h)
    {
        if (out->n_hops == TRACE_MAX_HOPS)
            break;
        int next_ttl = out->n_hops ? out->hops[out->n_hops - 1].ttl + 1 : 1;
        if (hop_from_json(h, i, next_ttl, &out->hops[out->n_hops], err, errlen) != 0)
            goto fail;
        out->n_hops++;
    }
    qsort(out->hops, (size_t)out->n_hops, sizeof out->hops[0], hop_by_ttl);
    return 0;
fail:
    memset(out, 0, sizeof *out);
    return -1;
}

/* ---- reading a path ----------------------------------------------------------------------- */

static bool hop_answered(const struct trace_hop *h)
{
    return h->addr[0] && h->received > 0;
}

static bool hop_bad(const struct trace_hop *h)
{
    return !hop_answered(h) || h->loss_pct >= PATH_LOSS_THRESHOLD_PCT;
}

/* The hop that is the target itself, or NULL. */
static const struct trace_hop *target_hop(const struct trace_result *t)
{
    if (!t->reached || t->n_hops == 0 || !t->addr[0])
        return NULL;
    const struct trace_hop *last = &t->hops[t->n_hops - 1];
    return strcmp(last->addr, t->addr) == 0 ? last : NULL;
}

static void set_last_good(const struct trace_result *t, int before, struct path_fault *out)
{
    for (int i = before - 1; i >= 0; i--) {
        if (hop_answered(&t->hops[i])) {
            out->last_good_ttl = t->hops[i].ttl;
            snprintf(out->last_good_addr, sizeof out->last_good_addr, "%s", t->hops[i].addr);
            return;
        }
    }
}

/* Every hop answers and none loses, yet the target was not reached: the target is the fault. */
static void fault_at_unreached_target(const struct trace_result *t, struct path_fault *out)
{
    out->found = true;
    out->ttl = t->hops[t->n_hops - 1].ttl + 1;
    snprintf(out->addr, sizeof out->addr, "%s", t->addr);
    out->loss_pct = 100;
    set_last_good(t, t->n_hops, out);
    out->segment = PATH_SEGMENT_TARGET;
}

static enum path_segment segment_of(const struct trace_result *t, int first_bad)
{
    const struct trace_hop *h = &t->hops[first_bad];
    if (h->ttl == 1)
        return PATH_SEGMENT_LOCAL;
    if (t->addr[0] && strcmp(h->addr, t->addr) == 0)
        return PATH_SEGMENT_TARGET;
    return PATH_SEGMENT_TRANSIT;
}

int path_fault_of(const struct trace_result *t, struct path_fault *out)
{
    memset(out, 0, sizeof *out);
    if (t->error[0] || t->n_hops == 0)
        return -1;
    const struct trace_hop *target = target_hop(t);
    if (t->reached && (!target || !hop_bad(target)))
        return 0; /* the target answers well: loss on the way is rate limiting */
    int first_bad = t->n_hops;
    while (first_bad > 0 && hop_bad(&t->hops[first_bad - 1]))
        first_bad--;
    if (first_bad == t->n_hops) {
        if (!t->reached)
            fault_at_unreached_target(t, out);
        out->agreeing = out->found ? 1 : 0;
        return 0;
    }
    const struct trace_hop *h = &t->hops[first_bad];
    out->found = true;
    out->agreeing = 1;
    out->ttl = h->ttl;
    snprintf(out->addr, sizeof out->addr, "%s", hop_answered(h) ? h->addr : "");
    out->loss_pct = hop_answered(h) ? h->loss_pct : 100;
    set_last_good(t, first_bad, out);
    out->segment = segment_of(t, first_bad);
    return 0;
}

/* ---- several paths ------------------------------------------------------------------------ */

static bool same_fault_point(const struct path_fault *a, const struct path_fault *b)
{
    if (a->last_good_addr[0] || b->last_good_addr[0])
        return strcmp(a->last_good_addr, b->last_good_addr) == 0;
    return a->ttl == b->ttl;
}

int path_faults_common(const struct path_fault *faults, size_t n, struct path_fault *out)
{
    memset(out, 0, sizeof *out);
    size_t best = n, best_count = 0;
    for (size_t i = 0; i < n; i++) {
        if (!faults[i].found)
            continue;
        bool seen_before = false;
        for (size_t j = 0; j < i && !seen_before; j++)
            seen_before = faults[j].found && same_fault_point(&faults[j], &faults[i]);
        if (seen_before)
            continue;
        size_t count = 0;
        for (size_t j = i; j < n; j++)
            count += faults[j].found && same_fault_point(&faults[j], &faults[i]);
        if (count > best_count) {
            best = i;
            best_count = count;
        }
    }
    if (best == n)
        return 0;
    *out = faults[best];
    double loss = 0;
    for (size_t j = best; j < n; j++)
        if (faults[j].found && same_fault_point(&faults[j], &faults[best]))
            loss += faults[j].loss_pct;
    out->loss_pct = loss / (double)best_count;
    out->agreeing = (int)best_count;
    return 0;
}

int path_common_fault(const struct trace_result *ts, size_t n, struct path_fault *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return 0;
    struct path_fault *faults = calloc(n, sizeof *faults);
    if (!faults)
        return -1;
    for (size_t i = 0; i < n; i++)
        path_fault_of(&ts[i], &faults[i]);
    int rc = path_faults_common(faults, n, out);
    free(faults);
    return rc;
}
