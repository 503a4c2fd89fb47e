/* slack.c — the Slack channel (slack.h): POSTs {"text": mrkdwn} to the instance's incoming
 * webhook; 2xx is delivered, 429 waits for Retry-After, 400/403/404 (invalid_payload,
 * invalid_token, no_service) are refused for good. The webhook URL is the secret: it is never
 * logged nor shown. */
#include "alert/slack.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"

#define SLACK_TIMEOUT_MS 15000
#define SLACK_PACE_MS 1000

struct slack {
    struct httpc *http;
    char *url;
    int64_t timeout_ms;
};

/* Appends text to buf at *used with &, < and > escaped (Slack's three control characters). */
static void escape_mrkdwn(const char *text, char *buf, size_t len, size_t *used)
{
    for (const char *p = text; *p && *used + 6 < len; p++) {
        const char *rep = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : NULL;
        size_t n = rep ? strlen(rep) : 1;
        memcpy(buf + *used, rep ? rep : p, n);
        *used += n;
    }
    buf[*used] = '\0';
}

char *slack_message_json(const struct alert_delivery *msg)
{
    size_t len = 6 * (strlen(msg->subject) + strlen(msg->text) + strlen(msg->link)) + 64;
    char *text = malloc(len);
    if (!text)
        return NULL;
    size_t used = 0;
    text[0] = '\0';
    if (msg->subject[0]) {
        text[used++] = '*';
        escape_mrkdwn(msg->subject, text, len, &used);
        memcpy(text + used, "*\n", 3);
        used += 2;
    }
    escape_mrkdwn(msg->text, text, len, &used);
    if (msg->link[0]) {
        memcpy(text + used, "\n<", 3);
        used += 2;
        escape_mrkdwn(msg->link, text, len, &used);
        memcpy(text + used, "|Open in faultline>", 20);
    }
    json_t *body = json_pack("{s:s}", "text", text);
    free(text);
    char *out = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return out;
}

static void slack_close(void *state)
{
    struct slack *s = state;
    if (s)
        free(s->url);
    free(s);
}

static void *slack_open(const struct alert_channel_config *cfg, const struct alert_channel_env *env,
                        char *err, size_t errlen)
{
    const char *url = alert_channel_text(cfg, "url");
    if (!url || !config_check_url(url)) {
        snprintf(err, errlen, "url: expected the incoming webhook's %s", CONFIG_EXPECT_URL);
        return NULL;
    }
    struct slack *s = calloc(1, sizeof *s);
    if (s) {
        s->http = env->http;
        s->url = strdup(url);
        s->timeout_ms = SLACK_TIMEOUT_MS;
    }
    if (!s || !s->url) {
        slack_close(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return s;
}

static void slack_send(void *state, const struct alert_delivery *msg, alert_sent_cb done, void *ctx)
{
    struct slack *s = state;
    static const char *const headers[] = {"Content-Type: application/json", NULL};
    char *body = slack_message_json(msg);
    struct httpc_request req = {.method = "POST",
                                .url = s->url,
                                .headers = headers,
                                .body = body,
                                .body_len = body ? strlen(body) : 0,
                                .timeout_ms = s->timeout_ms};
    if (!body) {
        struct alert_outcome outcome = {.result = ALERT_RETRY, .error = "slack: out of memory"};
        done(&outcome, ctx);
        return;
    }
    alert_http_send(s->http, &req, "slack", done, ctx);
    free(body);
}

/* Slack allows one message a second per incoming webhook. */
static const char *slack_destination(void *state, int64_t *gap_ms)
{
    const struct slack *s = state;
    *gap_ms = SLACK_PACE_MS;
    return s->url;
}

static const struct alert_field_spec slack_fields[] = {
    {"url", ALERT_FIELD_REQUIRED | ALERT_FIELD_SECRET},
};

const struct alert_channel_type alert_channel_slack = {
    .name = "slack",
    .fields = slack_fields,
    .n_fields = sizeof slack_fields / sizeof slack_fields[0],
    .open = slack_open,
    .send = slack_send,
    .destination = slack_destination,
    .digest = true,
    .close = slack_close,
};
