/* webhook.c — the webhook channel (webhook.h). The template is checked when the channel opens
 * (rendered with sample fields, the result must be JSON), so a typo stops the server instead of
 * every alert. 2xx is delivered; 400, 401, 403, 404 are refused for good; 429 waits for
 * Retry-After; 5xx, timeouts and transport errors retry. */
#include "alert/webhook.h"

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/config.h"

#define WEBHOOK_TIMEOUT_MS 10000
#define WEBHOOK_HEADERS_MAX 32

static const char *const webhook_placeholders[] = {
    "text", "subject", "name", "kind", "severity", "status", "resolve",
    "link", "dedup_key", "channel", "id", "event_id", "time", "json",
};

static const char *const webhook_methods[] = {"POST", "PUT", "PATCH"};

struct webhook {
    struct httpc *http;
    char *url;
    const char *method;
    char *template;      /* NULL: the message as JSON */
    char *secret;        /* NULL: no signature */
    char **headers;      /* the configured "Name: value" lines */
    size_t n_headers;
    int64_t timeout_ms;
};

/* ---- the template ------------------------------------------------------------------------ */

struct buf {
    char *data;
    size_t len, cap;
    bool oom;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->data, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static bool known_placeholder(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof webhook_placeholders / sizeof webhook_placeholders[0]; i++)
        if (strlen(webhook_placeholders[i]) == len && !strncmp(webhook_placeholders[i], name, len))
            return true;
    return false;
}

/* The value of field key as text inside a JSON string (escaped, no quotes). */
static void add_field(struct buf *b, json_t *fields, const char *key)
{
    json_t *v = json_object_get(fields, key);
    if (!strcmp(key, "json")) {
        char *all = json_dumps(fields, JSON_COMPACT);
        if (all)
            buf_add(b, all, strlen(all));
        b->oom = b->oom || !all;
        free(all);
        return;
    }
    if (!strcmp(key, "status"))
        v = json_string(json_is_true(json_object_get(fields, "resolve")) ? "resolved" : "problem");
    else
        json_incref(v);
    char *text = NULL;
    if (json_is_string(v))
        text = json_dumps(v, JSON_ENCODE_ANY);
    else if (v && !json_is_null(v)) {
        char *raw = json_dumps(v, JSON_ENCODE_ANY);
        json_t *s = raw ? json_string(raw) : NULL;
        text = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
        json_decref(s);
        free(raw);
    }
    json_decref(v);
    if (text && strlen(text) >= 2) /* without its quotes */
        buf_add(b, text + 1, strlen(text) - 2);
    free(text);
}

char *webhook_render(const char *tmpl, const char *fields_json, char *err, size_t errlen)
{
    json_t *fields = json_loads(fields_json ? fields_json : "{}", 0, NULL);
    if (!json_is_object(fields)) {
        json_decref(fields);
        snprintf(err, errlen, "the message's fields are not a JSON object");
        return NULL;
    }
    struct buf b = {0};
    buf_add(&b, "", 0);
    const char *p = tmpl;
    while (*p && !b.oom) {
        const char *open = strstr(p, "{{");
        if (!open) {
            buf_add(&b, p, strlen(p));
            break;
        }
        buf_add(&b, p, (size_t)(open - p));
        const char *name = open + 2;
        while (*name == ' ')
            name++;
        size_t len = strspn(name, "abcdefghijklmnopqrstuvwxyz_");
        const char *close = name + len;
        while (*close == ' ')
            close++;
        if (strncmp(close, "}}", 2) != 0 || !known_placeholder(name, len)) {
            snprintf(err, errlen, "template: unknown or unclosed placeholder at \"%.24s\" "
                     "(expected {{text}}, {{subject}}, {{name}}, {{kind}}, {{severity}}, "
                     "{{status}}, {{link}}, {{dedup_key}}, {{json}}, ...)", open);
            json_decref(fields);
            free(b.data);
            return NULL;
        }
        char key[32];
        snprintf(key, sizeof key, "%.*s", (int)len, name);
        add_field(&b, fields, key);
        p = close + 2;
    }
    json_decref(fields);
    if (b.oom) {
        free(b.data);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    json_error_t jerr;
    json_t *check = json_loads(b.data, JSON_DECODE_ANY, &jerr);
    if (!check) {
        snprintf(err, errlen, "template: the body is not JSON once filled in (%s at column %d)",
                 jerr.text, jerr.column);
        free(b.data);
        return NULL;
    }
    json_decref(check);
    return b.data;
}

/* ---- the channel ------------------------------------------------------------------------- */

static void webhook_close(void *state)
{
    struct webhook *w = state;
    if (!w)
        return;
    free(w->url);
    free(w->template);
    if (w->secret)
        sodium_memzero(w->secret, strlen(w->secret));
    free(w->secret);
    for (size_t i = 0; i < w->n_headers; i++)
        free(w->headers[i]);
    free(w->headers);
    free(w);
}

static const char SAMPLE_FIELDS[] =
    "{\"kind\":\"worker\",\"severity\":\"critical\",\"resolve\":false,\"name\":\"box-1\","
    "\"subject\":\"box-1 is DOWN\",\"text\":\"box-1 is \\\"DOWN\\\"\\n<b>\",\"id\":1,"
    "\"channel\":\"hook\",\"dedup_key\":\"worker:box-1\",\"time\":\"2026-01-01T00:00:00.000Z\"}";

static int webhook_settings(struct webhook *w, const struct alert_channel_config *cfg, char *err,
                            size_t errlen)
{
    const char *method = alert_channel_text(cfg, "method");
    for (size_t i = 0; method && i < sizeof webhook_methods / sizeof webhook_methods[0]; i++)
        if (strcasecmp(method, webhook_methods[i]) == 0)
            w->method = webhook_methods[i];
    if (method && !w->method) {
        snprintf(err, errlen, "method: expected POST, PUT or PATCH, got \"%.20s\"", method);
        return -1;
    }
    const char *timeout = alert_channel_text(cfg, "timeout");
    if (timeout && alert_timeout_ms(timeout, &w->timeout_ms) != 0) {
        snprintf(err, errlen, "timeout: expected seconds from 0.001 to 600, got \"%.20s\"",
                 timeout);
        return -1;
    }
    const char *tmpl = alert_channel_text(cfg, "template");
    if (tmpl) {
        char *sample = webhook_render(tmpl, SAMPLE_FIELDS, err, errlen);
        if (!sample)
            return -1;
        free(sample);
    }
    return 0;
}

static void *webhook_open(const struct alert_channel_config *cfg,
                          const struct alert_channel_env *env, char *err, size_t errlen)
{
    const char *url = alert_channel_text(cfg, "url");
    if (!url || !config_check_url(url)) {
        snprintf(err, errlen, "url: expected %s", CONFIG_EXPECT_URL);
        return NULL;
    }
    const struct alert_channel_field *headers = alert_channel_field(cfg, "headers");
    if (headers && headers->n_items > WEBHOOK_HEADERS_MAX) {
        snprintf(err, errlen, "headers: at most %d", WEBHOOK_HEADERS_MAX);
        return NULL;
    }
    struct webhook *w = calloc(1, sizeof *w);
    if (!w || sodium_init() < 0) {
        free(w);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->http = env->http;
    w->method = NULL;
    w->timeout_ms = WEBHOOK_TIMEOUT_MS;
    if (webhook_settings(w, cfg, err, errlen) != 0) {
        webhook_close(w);
        return NULL;
    }
    if (!w->method)
        w->method = "POST";
    const char *tmpl = alert_channel_text(cfg, "template");
    const char *secret = alert_channel_text(cfg, "secret");
    w->url = strdup(url);
    w->template = tmpl ? strdup(tmpl) : NULL;
    w->secret = secret ? strdup(secret) : NULL;
    w->headers = calloc(headers ? headers->n_items + 1 : 1, sizeof *w->headers);
    bool ok = w->url && (!tmpl || w->template) && (!secret || w->secret) && w->headers;
    for (size_t i = 0; ok && headers && i < headers->n_items; i++)
        ok = (w->headers[w->n_headers++] = strdup(headers->items[i])) != NULL;
    if (!ok) {
        webhook_close(w);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return w;
}

/* "X-Faultline-Signature: sha256=HEX" of body under key. */
static void signature_header(const char *key, const char *body, char *out, size_t len)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, strlen(body));
    crypto_auth_hmacsha256_final(&st, mac);
    char hex[2 * sizeof mac + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    snprintf(out, len, "X-Faultline-Signature: sha256=%s", hex);
}

static bool has_header(const struct webhook *w, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < w->n_headers; i++)
        if (strncasecmp(w->headers[i], name, n) == 0 && w->headers[i][n] == ':')
            return true;
    return false;
}

static void webhook_send(void *state, const struct alert_delivery *msg, alert_sent_cb done,
                         void *ctx)
{
    struct webhook *w = state;
    char why[200];
    char *body = w->template ? webhook_render(w->template, msg->fields_json, why, sizeof why)
                             : strdup(msg->fields_json);
    if (!body) {
        struct alert_outcome outcome = {.result = ALERT_REJECTED};
        snprintf(outcome.error, sizeof outcome.error, "webhook: %s",
                 w->template ? why : "out of memory");
        done(&outcome, ctx);
        return;
    }
    const char *headers[WEBHOOK_HEADERS_MAX + 4];
    char dedup[64], signature[128];
    size_t n = 0;
    for (size_t i = 0; i < w->n_headers; i++)
        headers[n++] = w->headers[i];
    if (!has_header(w, "Content-Type"))
        headers[n++] = "Content-Type: application/json";
    snprintf(dedup, sizeof dedup, "X-Faultline-Dedup: %lld", (long long)msg->id);
    headers[n++] = dedup;
    if (w->secret) {
        signature_header(w->secret, body, signature, sizeof signature);
        headers[n++] = signature;
    }
    headers[n] = NULL;
    struct httpc_request req = {.method = w->method,
                                .url = w->url,
                                .headers = headers,
                                .body = body,
                                .body_len = strlen(body),
                                .timeout_ms = w->timeout_ms};
    alert_http_send(w->http, &req, "webhook", done, ctx);
    free(body);
}

static const struct alert_field_spec webhook_fields[] = {
    {"url", ALERT_FIELD_REQUIRED | ALERT_FIELD_SECRET},
    {"method", 0},
    {"headers", ALERT_FIELD_MAP},
    {"template", 0},
    {"secret", ALERT_FIELD_SECRET},
    {"timeout", 0},
};

const struct alert_channel_type alert_channel_webhook = {
    .name = "webhook",
    .fields = webhook_fields,
    .n_fields = sizeof webhook_fields / sizeof webhook_fields[0],
    .open = webhook_open,
    .send = webhook_send,
    .close = webhook_close,
};
