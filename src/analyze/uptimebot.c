/* uptimebot.c — the uptime-rca-bot's worker names, log records and mtr shapes mapped to
 * faultline's records; see uptimebot.h. Every member is checked for its type and range, and a
 * wrong one is named with its path, so a bad record is refused by name and never half-read. */
#include "analyze/uptimebot.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/label.h"

#define GPUS_MAX 4096
/* Member paths in errors: "mtr.report.hubs[12].Loss%" */
#define PATH_MAX_LEN 64
#define HOP_PATH_MAX 96
#define MEMBER_PATH_MAX 128

/* ---- names -------------------------------------------------------------------------------- */

int uptimebot_name_parse(const char *sent, char name[WORKER_NAME_MAX + 1], int *gpus, char *err,
                         size_t errlen)
{
    size_t n = strlen(sent);
    const char *open = n && sent[n - 1] == ')' ? strrchr(sent, '(') : NULL;
    size_t base = open ? (size_t)(open - sent) : n;
    *gpus = 0;
    name[0] = '\0';
    if (open) {
        const char *count = open + 1;
        size_t len = n - base - 2;
        char *end = NULL;
        long v = len && isdigit((unsigned char)count[0]) ? strtol(count, &end, 10) : -1;
        if (len == 0 || (len == 7 && !strncmp(count, "GPU_ERR", 7)))
            *gpus = WORKER_GPUS_FAILED;
        else if (end == count + len && len <= 4 && v <= GPUS_MAX)
            *gpus = (int)v;
        else {
            snprintf(err, errlen,
                     "worker: expected NAME(N) with N a whole number from 0 to %d or GPU_ERR, "
                     "got \"%.80s\"",
                     GPUS_MAX, sent);
            return -1;
        }
    }
    if (base == 0 || base > WORKER_NAME_MAX) {
        snprintf(err, errlen, "worker: expected %s, got \"%.80s\"", LABEL_RULE, sent);
        return -1;
    }
    memcpy(name, sent, base);
    name[base] = '\0';
    if (!label_valid(name)) {
        snprintf(err, errlen, "worker: expected %s, got \"%.80s\"", LABEL_RULE, sent);
        name[0] = '\0';
        return -1;
    }
    return 0;
}

/* ---- telling the formats apart ------------------------------------------------------------ */

static bool has(const json_t *j, const char *key)
{
    return json_object_get(j, key) != NULL;
}

static bool is_mtr(const json_t *j)
{
    const json_t *hops = json_object_get(j, "hops");
    return json_is_array(json_object_get(json_object_get(j, "report"), "hubs")) ||
           (json_is_array(hops) &&
            (json_array_size(hops) == 0 || has(json_array_get(hops, 0), "hop")));
}

enum uptimebot_format uptimebot_format_of(const json_t *j)
{
    if (!json_is_object(j))
        return UPTIMEBOT_NONE;
    bool ts = json_is_string(json_object_get(j, "ts"));
    if (ts && json_is_string(json_object_get(j, "status")) &&
        (has(j, "http") || has(j, "consecutive_failures")))
        return UPTIMEBOT_METRIC;
    if (ts && (has(j, "gw_loss_pct") || has(j, "external_loss_pct") || has(j, "bot_loss_pct") ||
               has(j, "dns_ok") || has(j, "tcp_port_ok")))
        return UPTIMEBOT_DIAGNOSTIC;
    if (is_mtr(j) || (ts && has(j, "target") && json_is_string(json_object_get(j, "error"))))
        return UPTIMEBOT_MTR;
    return UPTIMEBOT_NONE;
}

/* ---- reading members ---------------------------------------------------------------------- */

/* Where errors go while one record is read. */
struct reader {
    char *field;
    size_t fieldlen;
    char *err;
    size_t errlen;
};

static int bad(const struct reader *rd, const char *path, const json_t *v, const char *expected)
{
    char got[64] = "nothing";
    if (json_is_string(v))
        snprintf(got, sizeof got, "\"%.40s\"", json_string_value(v));
    else if (v) {
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(got, sizeof got, "%.40s", text ? text : "a value");
        free(text);
    }
    snprintf(rd->field, rd->fieldlen, "%s", path);
    snprintf(rd->err, rd->errlen, "%s: expected %s, got %s", path, expected, got);
    return -1;
}

/* A number member between min and max (a string of digits too: the bot's shell writes "http"
 * as one). Absent or null: *present false. */
static int number(const struct reader *rd, const json_t *obj, const char *key, const char *path,
                  double min, double max, double *out, bool *present)
{
    const json_t *v = json_object_get(obj, key);
    char expected[64];
    *present = false;
    if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
        return 0;
    double d = NAN;
    if (json_is_number(v)) {
        d = json_number_value(v);
    } else if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) < 32) {
        char *end;
        d = strtod(json_string_value(v), &end);
        if (*end != '\0' || !isdigit((unsigned char)json_string_value(v)[0]))
            d = NAN;
    }
    if (!isfinite(d) || d < min || d > max) {
        snprintf(expected, sizeof expected, "a number from %g to %g", min, max);
        return bad(rd, path ? path : key, v, expected);
    }
    *out = d;
    *present = true;
    return 0;
}

/* A flag written as 0/1 (or true/false). Absent: *present false. */
static int flag(const struct reader *rd, const json_t *obj, const char *key, bool *out,
                bool *present)
{
    const json_t *v = json_object_get(obj, key);
    *present = v && !json_is_null(v);
    if (!*present)
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
        *out = json_integer_value(v) == 1;
        return 0;
    }
    return bad(rd, key, v, "0 or 1");
}

/* A string member (absent or null: ""), at most cap - 1 bytes. */
static int string(const struct reader *rd, const json_t *obj, const char *key, const char *path,
                  char *dst, size_t cap)
{
    const json_t *v = json_object_get(obj, key);
    dst[0] = '\0';
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) >= cap) {
        char expected[48];
        snprintf(expected, sizeof expected, "a string of at most %zu characters", cap - 1);
        return bad(rd, path ? path : key, v, expected);
    }
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int record_time(const struct reader *rd, const json_t *bot, int64_t fallback_ms, int64_t *ms)
{
    const json_t *ts = json_object_get(bot, "ts");
    if (!ts && fallback_ms > 0) {
        *ms = fallback_ms;
        return 0;
    }
    if (!json_is_string(ts) || clock_parse_iso(json_string_value(ts), ms) != 0 || *ms <= 0)
        return bad(rd, "ts", ts, "an ISO 8601 UTC time");
    return 0;
}

/* ---- mtr shapes --------------------------------------------------------------------------- */

/* A host that did not answer: "???" (mtr), "*" or "timeout" (traceroute), "" or absent. */
static const char *answering_host(const char *host)
{
    return !strcmp(host, "???") || !strcmp(host, "*") || !strcmp(host, "timeout") ? "" : host;
}

static json_t *hop_json(int ttl, const char *host, double loss_pct, int sent, double avg_ms,
                        bool has_avg)
{
    const char *addr = answering_host(host);
    if (!addr[0])
        loss_pct = 100;
    int received = loss_pct >= 100 ? 0 : (int)lround(sent * (100.0 - loss_pct) / 100.0);
    if (loss_pct < 100 && received == 0)
        received = 1;
    json_t *hop = json_pack("{s:i, s:s, s:i, s:i, s:f}", "ttl", ttl, "addr", addr, "sent", sent,
                            "received", received, "loss_pct", loss_pct);
    if (hop && has_avg && addr[0] && avg_ms >= 0)
        json_object_set_new(hop, "avg_ms", json_real(avg_ms));
    return hop;
}

/* One hop of any shape: `mtr -j` hubs ("count","host","Loss%","Snt","Avg"), hops parsed from
 * `mtr -r` ("hop","host","loss","avg") or from traceroute ("hop","host","time"). */
static json_t *hop_of(const struct reader *rd, const json_t *h, const char *path, bool hub)
{
    char p[MEMBER_PATH_MAX], host[64];
    double ttl = 0, loss = 0, sent = 10, avg = -1, time = -1;
    bool has_ttl, has_loss, has_sent = false, has_avg, has_time = false;
    if (!json_is_object(h))
        return bad(rd, path, h, "an object"), NULL;
    const char *ttl_key = hub ? "count" : "hop";
#define AT(key) (snprintf(p, sizeof p, "%s.%s", path, key), p)
    if (number(rd, h, ttl_key, AT(ttl_key), 1, 255, &ttl, &has_ttl) ||
        string(rd, h, "host", AT("host"), host, sizeof host) ||
        number(rd, h, hub ? "Loss%" : "loss", AT(hub ? "Loss%" : "loss"), 0, 100, &loss,
               &has_loss) ||
        number(rd, h, hub ? "Avg" : "avg", AT(hub ? "Avg" : "avg"), -1, 1e9, &avg, &has_avg) ||
        (hub && number(rd, h, "Snt", AT("Snt"), 0, 1e6, &sent, &has_sent)) ||
        (!hub && number(rd, h, "time", AT("time"), -1, 1e9, &time, &has_time)))
        return NULL;
    if (!has_ttl)
        return bad(rd, AT(ttl_key), NULL, "a hop number from 1 to 255"), NULL;
#undef AT
    if (!has_loss && has_time) { /* traceroute: one answer or none */
        loss = time >= 0 ? 0 : 100;
        avg = time;
        has_avg = true;
    }
    if (has_sent && sent < 1)
        sent = 1;
    return hop_json((int)ttl, host, loss, (int)sent, avg, has_avg);
}

static bool is_ip_address(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* The probe reached its target when its last hop answered: mtr and traceroute stop there, and
 * report the hops after a break as not answering. */
static void set_reached(json_t *mtr, const char *target)
{
    json_t *hops = json_object_get(mtr, "hops");
    const json_t *last = json_array_get(hops, json_array_size(hops) - 1);
    const char *addr = json_string_value(json_object_get(last, "addr"));
    bool reached = addr && addr[0] && json_integer_value(json_object_get(last, "received")) > 0;
    json_object_set_new(mtr, "reached", json_boolean(reached));
    json_object_set_new(mtr, "addr",
                        json_string(reached                 ? addr
                                    : is_ip_address(target) ? target
                                                            : ""));
}

/* Maps any mtr shape (path names it for errors) to faultline's mtr object. */
static json_t *mtr_of(const struct reader *rd, const json_t *m, const char *path)
{
    char p[PATH_MAX_LEN], target[256], error[128];
    if (!json_is_object(m))
        return bad(rd, path, m, "an object (mtr -j, mtr -r hops or traceroute hops)"), NULL;
    const json_t *report = json_object_get(m, "report");
    bool hub = report != NULL;
    const json_t *hops = hub ? json_object_get(report, "hubs") : json_object_get(m, "hops");
    const json_t *head = hub ? json_object_get(report, "mtr") : m;
    snprintf(p, sizeof p, "%s.%s", path, hub ? "report.mtr.dst" : "target");
    if (string(rd, head, hub ? "dst" : "target", p, target, sizeof target))
        return NULL;
    snprintf(p, sizeof p, "%s.error", path);
    if (string(rd, m, "error", p, error, sizeof error))
        return NULL;
    if (error[0] && !hops)
        return json_pack("{s:s, s:s, s:[]}", "target", target, "error", error, "hops");
    snprintf(p, sizeof p, "%s.%s", path, hub ? "report.hubs" : "hops");
    if (!json_is_array(hops))
        return bad(rd, p, hops, "an array of hops"), NULL;
    json_t *out =
        json_pack("{s:s, s:s, s:[]}", "target", target, "method",
                  json_is_string(json_object_get(m, "type")) ? "traceroute" : "mtr", "hops");
    size_t i;
    const json_t *h;
    json_array_foreach(hops, i, h)
    {
        char hp[HOP_PATH_MAX];
        snprintf(hp, sizeof hp, "%s[%zu]", p, i);
        json_t *hop = out ? hop_of(rd, h, hp, hub) : NULL;
        if (!hop || json_array_append_new(json_object_get(out, "hops"), hop) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    if (out)
        set_reached(out, target);
    return out;
}

/* The older clients' "traceroute":"1:10.0.0.1,2:*,3:..." as hops. */
static json_t *mtr_of_traceroute_text(const struct reader *rd, const json_t *v)
{
    if (!json_is_string(v))
        return bad(rd, "traceroute", v, "a string \"HOP:HOST,...\""), NULL;
    json_t *out = json_pack("{s:s, s:s, s:[]}", "target", "", "method", "traceroute", "hops");
    char *text = strdup(json_string_value(v)), *save = NULL;
    for (char *item = text ? strtok_r(text, ",", &save) : NULL; item && out;
         item = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(item, ':'), *end;
        long ttl = strtol(item, &end, 10);
        if (!colon || end != colon || ttl < 1 || ttl > 255) {
            json_decref(out);
            out = NULL;
            bad(rd, "traceroute", v, "a string \"HOP:HOST,...\"");
            break;
        }
        json_array_append_new(json_object_get(out, "hops"),
                              hop_json((int)ttl, colon + 1, 0, 1, -1, false));
    }
    free(text);
    if (out)
        set_reached(out, "");
    return out;
}

/* ---- records ------------------------------------------------------------------------------ */

/* 64-bit FNV-1a of the record's canonical text: the same record always gets the same id. */
static int content_id(const json_t *bot, char *id, size_t len)
{
    char *text = json_dumps(bot, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!text)
        return -1;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    free(text);
    snprintf(id, len, "bot-%016llx", (unsigned long long)h);
    return 0;
}

/* "mtr_id": the id of the bot's mtr object alone, which its client also writes to mtr/ (none
 * when the record has no mtr object). */
static int set_mtr_id(json_t *r, const json_t *mtr)
{
    char id[32];
    if (!json_is_object(mtr))
        return 0;
    return content_id(mtr, id, sizeof id) || json_object_set_new(r, "mtr_id", json_string(id));
}

/* {"kind","id","time","worker"}: the members every mapped record has. */
static json_t *record_head(const struct reader *rd, const json_t *bot, const char *kind,
                           int64_t fallback_ms)
{
    int64_t ms;
    char id[32], time[CLOCK_ISO_LEN], worker[WORKER_NAME_MAX + 16];
    if (record_time(rd, bot, fallback_ms, &ms) ||
        string(rd, bot, "worker", NULL, worker, sizeof worker))
        return NULL;
    if (content_id(bot, id, sizeof id) != 0)
        return bad(rd, "record", bot, "a record that fits in memory"), NULL;
    clock_format_iso(ms, time, sizeof time);
    json_t *r = json_pack("{s:s, s:s, s:s}", "kind", kind, "id", id, "time", time);
    if (r && worker[0])
        json_object_set_new(r, "worker", json_string(worker));
    return r;
}

static json_t *metric_of(const struct reader *rd, const json_t *bot)
{
    char status[16], error[128];
    double http = 0, latency = 0;
    bool has_http, has_latency;
    if (string(rd, bot, "status", NULL, status, sizeof status) ||
        string(rd, bot, "error", NULL, error, sizeof error) ||
        number(rd, bot, "http", NULL, 0, 999, &http, &has_http) ||
        number(rd, bot, "latency_ms", NULL, 0, 1e9, &latency, &has_latency))
        return NULL;
    bool ok = !strcmp(status, "ok");
    if (!ok && strcmp(status, "fail") && strcmp(status, "gpu_error"))
        return bad(rd, "status", json_object_get(bot, "status"),
                   "\"ok\", \"fail\" or \"gpu_error\""),
               NULL;
    if (!strcmp(status, "gpu_error"))
        snprintf(error, sizeof error, "GPU check failed, no heartbeat sent (nvidia-smi)");
    else if (!ok && !error[0])
        snprintf(error, sizeof error, "heartbeat failed");
    json_t *r = record_head(rd, bot, "metric", 0);
    if (r && json_object_update_new(
                 r, json_pack("{s:b, s:f, s:o, s:o}", "ok", ok, "latency_ms", latency, "status",
                              http >= 100 ? json_integer((json_int_t)http) : json_null(), "error",
                              ok ? json_null() : json_string(error))) != 0) {
        json_decref(r);
        return NULL;
    }
    return r;
}

/* An ICMP check as faultline writes it, from the bot's loss and average (-1: none). */
static json_t *icmp_json(const char *target, double loss, double avg)
{
    json_t *p = json_pack("{s:b, s:f, s:o}", "reachable", loss < 100, "loss_pct", loss, "rtt_ms",
                          avg >= 0 ? json_real(avg) : json_null());
    if (p && target && target[0]) {
        json_object_set_new(p, "target", json_string(target));
        json_object_set_new(p, "addr", json_string(target));
    }
    return p;
}

/* The numbers of a diagnostic record; each has a has_ flag (absent members are left out). */
struct bot_numbers {
    double gw_loss, gw_avg, ext_loss, ext_avg, bot_loss, bot_avg, dns_ms;
    bool has_gw_loss, has_gw_avg, has_ext_loss, has_ext_avg, has_bot_loss, has_bot_avg, has_dns_ms;
    bool dns_ok, tcp_ok, has_dns_ok, has_tcp_ok;
};

static int read_numbers(const struct reader *rd, const json_t *bot, struct bot_numbers *n)
{
    return number(rd, bot, "gw_loss_pct", NULL, 0, 100, &n->gw_loss, &n->has_gw_loss) ||
           number(rd, bot, "gw_avg_ms", NULL, -1, 1e9, &n->gw_avg, &n->has_gw_avg) ||
           number(rd, bot, "external_loss_pct", NULL, 0, 100, &n->ext_loss, &n->has_ext_loss) ||
           number(rd, bot, "external_avg_ms", NULL, -1, 1e9, &n->ext_avg, &n->has_ext_avg) ||
           number(rd, bot, "bot_loss_pct", NULL, 0, 100, &n->bot_loss, &n->has_bot_loss) ||
           number(rd, bot, "bot_avg_ms", NULL, -1, 1e9, &n->bot_avg, &n->has_bot_avg) ||
           number(rd, bot, "dns_ms", NULL, 0, 1e9, &n->dns_ms, &n->has_dns_ms) ||
           flag(rd, bot, "dns_ok", &n->dns_ok, &n->has_dns_ok) ||
           flag(rd, bot, "tcp_port_ok", &n->tcp_ok, &n->has_tcp_ok);
}

static json_t *gateway_of(const char *gateway, const struct bot_numbers *n)
{
    if (!strcmp(gateway, "none"))
        return json_pack("{s:b, s:i, s:s}", "reachable", 0, "loss_pct", 100, "error",
                         "no default route");
    if (!gateway[0] && !n->has_gw_loss)
        return json_null();
    json_t *g = icmp_json(NULL, n->has_gw_loss ? n->gw_loss : 100, n->has_gw_avg ? n->gw_avg : -1);
    if (g && gateway[0])
        json_object_set_new(g, "addr", json_string(gateway));
    return g;
}

/* The probes of a diagnostic record, in faultline's shape, added to r. */
static int add_probes(json_t *r, const char *gateway, const char *server,
                      const struct bot_numbers *n)
{
    json_t *server_probe =
        n->has_bot_loss
            ? json_pack("{s:s, s:f, s:o}", "addr", server, "loss_pct", n->bot_loss, "rtt_avg_ms",
                        n->has_bot_avg && n->bot_avg >= 0 ? json_real(n->bot_avg) : json_null())
            : json_null();
    json_t *tcp =
        n->has_tcp_ok
            ? json_pack("{s:b, s:b, s:o}", "ok", n->tcp_ok, "reachable", n->tcp_ok, "error",
                        n->tcp_ok ? json_null() : json_string("no connection within 3 s"))
            : json_null();
    /* The bot looks SERVER_ADDR up even when it is an address; faultline's agent does not. */
    json_t *dns = n->has_dns_ok && !is_ip_address(server)
                      ? json_pack("{s:s, s:b, s:o, s:o}", "name", server, "ok", n->dns_ok, "ms",
                                  n->has_dns_ms ? json_real(n->dns_ms) : json_null(), "error",
                                  n->dns_ok ? json_null() : json_string("lookup failed"))
                      : json_null();
    json_t *external =
        n->has_ext_loss
            ? json_pack("[o]", icmp_json("8.8.8.8", n->ext_loss, n->has_ext_avg ? n->ext_avg : -1))
            : json_array();
    return json_object_update_new(r, json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "trigger",
                                               "uptime-rca-bot client diagnostics", "gateway",
                                               gateway_of(gateway, n), "external", external,
                                               "server", server_probe, "tcp", tcp, "dns", dns));
}

static json_t *diagnostic_of(const struct reader *rd, const json_t *bot)
{
    char gateway[64];
    struct bot_numbers n = {0};
    if (string(rd, bot, "gateway", NULL, gateway, sizeof gateway) || read_numbers(rd, bot, &n))
        return NULL;
    const json_t *m = json_object_get(bot, "mtr");
    const json_t *tr = json_object_get(bot, "traceroute");
    json_t *mtr = m && !json_is_null(m)     ? mtr_of(rd, m, "mtr")
                  : tr && !json_is_null(tr) ? mtr_of_traceroute_text(rd, tr)
                                            : json_null();
    json_t *r = mtr ? record_head(rd, bot, "diagnostic", 0) : NULL;
    const char *server = json_string_value(json_object_get(mtr, "target"));
    if (!r || add_probes(r, gateway, server ? server : "", &n) != 0 ||
        json_object_set_new(r, "mtr", mtr) != 0 || set_mtr_id(r, m) != 0) {
        json_decref(r);
        json_decref(mtr);
        return NULL;
    }
    return r;
}

static json_t *mtr_file_of(const struct reader *rd, const json_t *bot, int64_t fallback_ms)
{
    json_t *mtr = mtr_of(rd, bot, "mtr");
    json_t *r = mtr ? record_head(rd, bot, "diagnostic", fallback_ms) : NULL;
    if (!r || json_object_set_new(r, "mtr", mtr) != 0 || set_mtr_id(r, bot) != 0) {
        json_decref(r);
        json_decref(mtr);
        return NULL;
    }
    json_object_set_new(r, "trigger", json_string("uptime-rca-bot client mtr"));
    return r;
}

json_t *uptimebot_record_map(const json_t *bot, int64_t fallback_ms, char *field, size_t fieldlen,
                             char *err, size_t errlen)
{
    struct reader rd = {.field = field, .fieldlen = fieldlen, .err = err, .errlen = errlen};
    field[0] = err[0] = '\0';
    switch (uptimebot_format_of(bot)) {
    case UPTIMEBOT_METRIC:
        return metric_of(&rd, bot);
    case UPTIMEBOT_DIAGNOSTIC:
        return diagnostic_of(&rd, bot);
    case UPTIMEBOT_MTR:
        return mtr_file_of(&rd, bot, fallback_ms);
    case UPTIMEBOT_NONE:
        break;
    }
    if (!json_is_object(bot))
        return bad(&rd, "record", bot, "a JSON object"), NULL;
    if (!json_is_string(json_object_get(bot, "ts")))
        return bad(&rd, "ts", json_object_get(bot, "ts"), "an ISO 8601 UTC time"), NULL;
    snprintf(field, fieldlen, "record");
    snprintf(err, errlen,
             "record: expected a metric (\"status\", \"http\") or a diagnostic (\"gw_loss_pct\", "
             "\"bot_loss_pct\", \"tcp_port_ok\", \"mtr\") of the uptime-rca-bot");
    return NULL;
}

int uptimebot_mtr_file_time(const char *path, int64_t *ms)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    struct tm tm = {0};
    char tail[8];
    if (sscanf(base, "mtr_%4d%2d%2d_%2d%2d%2d%7s", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, tail) != 7 ||
        strncmp(tail, ".json", 5) != 0)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t <= 0)
        return -1;
    *ms = (int64_t)t * 1000;
    return 0;
}
