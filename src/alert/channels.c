/* channels.c — the registration table of alert channels (channel.h). Adding a channel is one
 * new file with its struct alert_channel_type and one row here; the outbox opens every row. */
#include "alert/channel.h"
#include "alert/email.h"
#include "alert/exec.h"
#include "alert/pagerduty.h"
#include "alert/slack.h"
#include "alert/telegram.h"
#include "alert/webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


const struct alert_channel_type *const alert_channel_types[] = {
    &alert_channel_telegram,
    &alert_channel_slack,
    &alert_channel_pagerduty,
    &alert_channel_webhook,
    &alert_channel_email,
    &alert_channel_exec,
    NULL,
};

const struct alert_channel_type *alert_channel_type_find(const char *name)
{
    for (size_t i = 0; name && alert_channel_types[i]; i++)
        if (strcmp(alert_channel_types[i]->name, name) == 0)
            return alert_channel_types[i];
    return NULL;
}

void alert_http_outcome(const struct httpc_response *res, const char *what,
                        struct alert_outcome *out)
{
    memset(out, 0, sizeof *out);
    long st = res->status;
    if (res->error || st == 0) {
        out->result = ALERT_RETRY;
        snprintf(out->error, sizeof out->error, "%s: %s", what,
                 res->error ? res->error : "no answer");
        return;
    }
    char first[128] = "";
    if (res->body && res->body_len)
        snprintf(first, sizeof first, "%.*s", (int)strcspn(res->body, "\r\n"), res->body);
    snprintf(out->error, sizeof out->error, "%s: HTTP %ld%s%s", what, st, first[0] ? ": " : "",
             first);
    if (st >= 200 && st < 300)
        out->result = ALERT_SENT;
    else if (st == 429 || st == 408 || st == 425 || st >= 500 || st < 200)
        out->result = ALERT_RETRY;
    else
        out->result = ALERT_REJECTED;
    if (st == 429 && res->retry_after_s > 0)
        out->retry_after_ms = (int64_t)(res->retry_after_s < 86400 ? res->retry_after_s : 86400) *
                              1000;
}

struct http_attempt {
    alert_sent_cb done;
    void *ctx;
    char what[64];
};

static void http_attempt_done(const struct httpc_response *res, void *ctx)
{
    struct http_attempt *at = ctx;
    struct alert_outcome outcome;
    alert_http_outcome(res, at->what, &outcome);
    at->done(&outcome, at->ctx);
    free(at);
}

void alert_http_send(struct httpc *http, const struct httpc_request *req, const char *what,
                     alert_sent_cb done, void *ctx)
{
    struct http_attempt *at = calloc(1, sizeof *at);
    if (at) {
        at->done = done;
        at->ctx = ctx;
        snprintf(at->what, sizeof at->what, "%s", what);
    }
    if (!at || httpc_start(http, req, http_attempt_done, at) != 0) {
        struct alert_outcome outcome = {.result = ALERT_RETRY};
        snprintf(outcome.error, sizeof outcome.error, "%s: out of memory", what);
        free(at);
        done(&outcome, ctx);
    }
}

int alert_timeout_ms(const char *text, int64_t *ms)
{
    char *end;
    double s = text ? strtod(text, &end) : 0;
    if (!text || end == text || *end || !(s >= 0.001 && s <= 600))
        return -1;
    *ms = (int64_t)(s * 1000.0 + 0.5);
    return 0;
}
