/* pagerduty.c — the PagerDuty channel (pagerduty.h). 202 is delivered; 400 (an invalid event)
 * and 401/403/404 are refused for good; 429 and 5xx retry. Paced at 120 events a minute per
 * routing key (PagerDuty's limit), never merged: each event keeps its own dedup_key. */
#include "alert/pagerduty.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"

#define PAGERDUTY_TIMEOUT_MS 15000
#define PAGERDUTY_PACE_MS 500
#define PAGERDUTY_SUMMARY_MAX 1024

struct pagerduty {
    struct httpc *http;
    char *url;
    char *routing_key;
    char *destination; /* the pacing key: "URL ROUTING_KEY" */
};

char *pagerduty_event_json(const char *routing_key, const struct alert_delivery *msg)
{
    char key[ALERT_KEY_MAX + 32];
    if (msg->dedup_key[0])
        snprintf(key, sizeof key, "%s", msg->dedup_key);
    else
        snprintf(key, sizeof key, "faultline-%lld", (long long)msg->id);
    json_t *ev = json_pack("{s:s, s:s, s:s}", "routing_key", routing_key, "event_action",
                           msg->resolve ? "resolve" : "trigger", "dedup_key", key);
    if (ev && !msg->resolve) {
        char summary[PAGERDUTY_SUMMARY_MAX + 1];
        snprintf(summary, sizeof summary, "%s", msg->subject[0] ? msg->subject : msg->text);
        json_t *details = json_loads(msg->fields_json, 0, NULL);
        json_object_set_new(
            ev, "payload",
            json_pack("{s:s, s:s, s:s, s:s, s:o}", "summary", summary, "source",
                      msg->name[0] ? msg->name : "faultline", "severity",
                      alert_severity_name(msg->severity), "component", alert_kind_name(msg->kind),
                      "custom_details", details ? details : json_object()));
        if (msg->link[0])
            json_object_set_new(ev, "links",
                                json_pack("[{s:s, s:s}]", "href", msg->link, "text", "faultline"));
    }
    char *out = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    return out;
}

static void pagerduty_close(void *state)
{
    struct pagerduty *pd = state;
    if (pd) {
        free(pd->url);
        free(pd->routing_key);
        free(pd->destination);
    }
    free(pd);
}

static void *pagerduty_open(const struct alert_channel_config *cfg,
                            const struct alert_channel_env *env, char *err, size_t errlen)
{
    const char *url = alert_channel_text(cfg, "url");
    const char *key = alert_channel_text(cfg, "routing_key");
    if (url && !config_check_url(url)) {
        snprintf(err, errlen, "url: expected the Events API's %s, got \"%.80s\"",
                 CONFIG_EXPECT_URL, url);
        return NULL;
    }
    if (!key || strlen(key) < 1 || strlen(key) > 64) {
        snprintf(err, errlen, "routing_key: expected the integration key (32 characters)");
        return NULL;
    }
    struct pagerduty *pd = calloc(1, sizeof *pd);
    if (pd) {
        pd->http = env->http;
        pd->url = strdup(url ? url : PAGERDUTY_EVENTS_URL);
        pd->routing_key = strdup(key);
        size_t n = strlen(pd->url ? pd->url : "") + strlen(key) + 2;
        pd->destination = malloc(n);
        if (pd->destination)
            snprintf(pd->destination, n, "%s %s", pd->url ? pd->url : "", key);
    }
    if (!pd || !pd->url || !pd->routing_key || !pd->destination) {
        pagerduty_close(pd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return pd;
}

static void pagerduty_send(void *state, const struct alert_delivery *msg, alert_sent_cb done,
                           void *ctx)
{
    struct pagerduty *pd = state;
    static const char *const headers[] = {"Content-Type: application/json", NULL};
    char *body = pagerduty_event_json(pd->routing_key, msg);
    if (!body) {
        struct alert_outcome outcome = {.result = ALERT_RETRY, .error = "pagerduty: out of memory"};
        done(&outcome, ctx);
        return;
    }
    struct httpc_request req = {.method = "POST",
                                .url = pd->url,
                                .headers = headers,
                                .body = body,
                                .body_len = strlen(body),
                                .timeout_ms = PAGERDUTY_TIMEOUT_MS};
    alert_http_send(pd->http, &req, "pagerduty", done, ctx);
    free(body);
}

/* PagerDuty takes 120 events a minute per routing key (of one Events API). */
static const char *pagerduty_destination(void *state, int64_t *gap_ms)
{
    const struct pagerduty *pd = state;
    *gap_ms = PAGERDUTY_PACE_MS;
    return pd->destination;
}

static const struct alert_field_spec pagerduty_fields[] = {
    {"routing_key", ALERT_FIELD_REQUIRED | ALERT_FIELD_SECRET},
    {"url", 0},
};

const struct alert_channel_type alert_channel_pagerduty = {
    .name = "pagerduty",
    .fields = pagerduty_fields,
    .n_fields = sizeof pagerduty_fields / sizeof pagerduty_fields[0],
    .open = pagerduty_open,
    .send = pagerduty_send,
    .destination = pagerduty_destination,
    .digest = false,
    .close = pagerduty_close,
};
