/* result_copy.c — a probe result kept after its run (probe_type.h): the scalars, then the
 * perfdata entries, then the texts one after another (addr, error, rcode, body, output, headers as
 * JSON text, DNS answers), all in one block the size of what it holds (about 90 B for a TCP
 * result). Its JSON (probe_result_json, the one shape) is made only when someone asks for it, so a
 * run builds no JSON it may never show. */
#include "probe/probe_type.h"

#include <stdlib.h>
#include <string.h>

struct probe_result_copy {
    const struct probe_type *type;
    double response_time_ms, rtt_ms, loss_pct;
    int64_t cert_expires_in_ms;
    size_t body_len;
    int status, sent, received, exit_code;
    unsigned n_dns_answers, n_perfdata;
    bool ran, timed_out, connected, reachable, has_cert, has_body, has_output, has_headers;
    /* followed by struct probe_perfdata[n_perfdata], then the texts */
};

static size_t text_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static char *put(char *at, const void *data, size_t n)
{
    if (n) /* data may be NULL then */
        memcpy(at, data, n);
    return at + n;
}

struct probe_result_copy *probe_result_copy(const struct probe_type *type,
                                            const struct probe_result *r)
{
    char *headers = r->headers ? json_dumps(r->headers, JSON_COMPACT) : NULL;
    size_t perfdata = r->n_perfdata * sizeof r->perfdata[0];
    size_t size = sizeof(struct probe_result_copy) + perfdata + text_size(r->addr) +
                  text_size(r->error) + text_size(r->dns_rcode) + text_size(r->output) +
                  text_size(headers) + (r->body ? r->body_len + 1 : 0);
    for (size_t i = 0; i < r->n_dns_answers; i++)
        size += text_size(r->dns_answers[i]);
    struct probe_result_copy *c = malloc(size);
    if (c) {
        *c = (struct probe_result_copy){
            .type = type,
            .response_time_ms = r->response_time_ms,
            .rtt_ms = r->rtt_ms,
            .loss_pct = r->loss_pct,
            .cert_expires_in_ms = r->cert_expires_in_ms,
            .body_len = r->body ? r->body_len : 0,
            .status = r->status,
            .sent = r->sent,
            .received = r->received,
            .exit_code = r->exit_code,
            .n_dns_answers = (unsigned)r->n_dns_answers,
            .n_perfdata = (unsigned)r->n_perfdata,
            .ran = r->ran,
            .timed_out = r->timed_out,
            .connected = r->connected,
            .reachable = r->reachable,
            .has_cert = r->has_cert,
            .has_body = r->body != NULL,
            .has_output = r->output != NULL,
            .has_headers = headers != NULL,
        };
        char *at = put((char *)(c + 1), r->perfdata, perfdata);
        at = put(at, r->addr, text_size(r->addr));
        at = put(at, r->error, text_size(r->error));
        at = put(at, r->dns_rcode, text_size(r->dns_rcode));
        if (r->body) {
            at = put(at, r->body, r->body_len);
            *at++ = '\0';
        }
        at = put(at, r->output, text_size(r->output));
        at = put(at, headers, text_size(headers));
        for (size_t i = 0; i < r->n_dns_answers; i++)
            at = put(at, r->dns_answers[i], text_size(r->dns_answers[i]));
    }
    free(headers);
    return c;
}

/* Copies the text at *at into buf (of len) and steps past it. */
static void take(const char **at, char *buf, size_t len)
{
    size_t n = strlen(*at);
    memcpy(buf, *at, n < len ? n + 1 : len);
    buf[len - 1] = '\0';
    *at += n + 1;
}

static const char *skip(const char **at)
{
    const char *s = *at;
    *at += strlen(s) + 1;
    return s;
}

json_t *probe_result_copy_json(const struct probe_result_copy *c)
{
    struct probe_result r = {
        .ran = c->ran,
        .timed_out = c->timed_out,
        .response_time_ms = c->response_time_ms,
        .connected = c->connected,
        .reachable = c->reachable,
        .status = c->status,
        .body_len = c->body_len,
        .has_cert = c->has_cert,
        .cert_expires_in_ms = c->cert_expires_in_ms,
        .rtt_ms = c->rtt_ms,
        .loss_pct = c->loss_pct,
        .sent = c->sent,
        .received = c->received,
        .exit_code = c->exit_code,
        .n_perfdata = c->n_perfdata,
        .n_dns_answers = c->n_dns_answers,
    };
    const struct probe_perfdata *perfdata = (const struct probe_perfdata *)(c + 1);
    memcpy(r.perfdata, perfdata, c->n_perfdata * sizeof r.perfdata[0]);
    const char *at = (const char *)(perfdata + c->n_perfdata);
    take(&at, r.addr, sizeof r.addr);
    take(&at, r.error, sizeof r.error);
    take(&at, r.dns_rcode, sizeof r.dns_rcode);
    if (c->has_body) {
        r.body = at;
        at += c->body_len + 1;
    }
    r.output = c->has_output ? skip(&at) : NULL;
    json_t *headers = c->has_headers ? json_loads(skip(&at), 0, NULL) : NULL;
    r.headers = headers;
    const char **answers = NULL;
    if (c->n_dns_answers && !(answers = malloc(c->n_dns_answers * sizeof *answers)))
        r.n_dns_answers = 0;
    for (size_t i = 0; i < r.n_dns_answers; i++)
        answers[i] = skip(&at);
    r.dns_answers = answers;
    json_t *o = probe_result_json(c->type, &r);
    json_decref(headers);
    free(answers);
    return o;
}
