/* probe_table.c — the registration table of probe types (one row per type, each defined in its
 * own file), the placeholder names, and the generic JSON of a result. See probe_type.h. */
#include "probe/probe_type.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

extern const struct probe_type probe_type_tcp;  /* tcp.c */
extern const struct probe_type probe_type_http; /* http.c */
extern const struct probe_type probe_type_dns;  /* dns.c */
extern const struct probe_type probe_type_icmp; /* icmp_probe.c */
extern const struct probe_type probe_type_exec; /* exec.c */

const struct probe_type *const probe_types[] = {
    &probe_type_tcp, &probe_type_http, &probe_type_dns, &probe_type_icmp, &probe_type_exec, NULL,
};

const struct probe_type *probe_type_find(const char *name)
{
    for (size_t i = 0; name && probe_types[i]; i++)
        if (!strcmp(probe_types[i]->name, name))
            return probe_types[i];
    return NULL;
}

static const char *const placeholder_names[PH_COUNT] = {
    [PH_STATUS] = "STATUS",
    [PH_RESPONSE_TIME] = "RESPONSE_TIME",
    [PH_BODY] = "BODY",
    [PH_HEADER] = "HEADER",
    [PH_CONNECTED] = "CONNECTED",
    [PH_CERT_EXPIRES_IN] = "CERT_EXPIRES_IN",
    [PH_DNS_RCODE] = "DNS_RCODE",
    [PH_DNS_ANSWER] = "DNS_ANSWER",
    [PH_RTT] = "RTT",
    [PH_LOSS] = "LOSS",
    [PH_EXIT_CODE] = "EXIT_CODE",
    [PH_OUTPUT] = "OUTPUT",
};

const char *probe_placeholder_name(enum probe_placeholder p)
{
    return p >= 0 && p < PH_COUNT ? placeholder_names[p] : NULL;
}

int probe_placeholder_find(const char *name)
{
    for (int i = 0; name && i < PH_COUNT; i++)
        if (!strcmp(placeholder_names[i], name))
            return i;
    return -1;
}

/* A time or percentage to 0.01. */
static json_t *hundredths(double value)
{
    return json_real(round(value * 100.0) / 100.0);
}

/* Text from the outside (a body, a plugin's output) as a JSON string: when it is not valid
 * UTF-8, bytes outside ASCII (and NULs) become '?', so the text is kept rather than lost. */
static json_t *text_json(const char *text, size_t len)
{
    if (!text)
        return json_null();
    json_t *v = json_stringn(text, len);
    if (v)
        return v;
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    for (size_t i = 0; i < len; i++)
        copy[i] = (unsigned char)text[i] >= 0x80 || text[i] == '\0' ? '?' : text[i];
    v = json_stringn(copy, len);
    free(copy);
    return v;
}

static json_t *strings_json(const char *const *texts, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(texts[i] ? texts[i] : ""));
    return a;
}

static json_t *perfdata_json(const struct probe_result *r)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < r->n_perfdata; i++)
        json_array_append_new(a,
                              json_pack("{s:s, s:f, s:s}", "label", r->perfdata[i].label, "value",
                                        r->perfdata[i].value, "unit", r->perfdata[i].unit));
    return a;
}

/* Sets key to value (a new reference) when the type fills placeholder p. */
static void set_if(json_t *o, uint32_t fills, enum probe_placeholder p, const char *key,
                   json_t *value)
{
    if (fills & PH_BIT(p))
        json_object_set_new(o, key, value ? value : json_null());
    else
        json_decref(value);
}

json_t *probe_result_json(const struct probe_type *type, const struct probe_result *r)
{
    if (type->result_json)
        return type->result_json(r);
    json_t *o = json_object();
    if (!o)
        return NULL;
    uint32_t f = type->placeholders;
    json_object_set_new(o, "type", json_string(type->name));
    if (r->addr[0])
        json_object_set_new(o, "addr", json_string(r->addr));
    set_if(o, f, PH_CONNECTED, "connected", json_boolean(r->connected));
    set_if(o, f, PH_RESPONSE_TIME, "response_time_ms", hundredths(r->response_time_ms));
    set_if(o, f, PH_STATUS, "status", json_integer(r->status));
    set_if(o, f, PH_HEADER, "headers", r->headers ? json_deep_copy(r->headers) : json_object());
    set_if(o, f, PH_BODY, "body", text_json(r->body, r->body_len));
    set_if(o, f, PH_CERT_EXPIRES_IN, "cert_expires_in_ms",
           r->has_cert ? json_integer(r->cert_expires_in_ms) : json_null());
    set_if(o, f, PH_DNS_RCODE, "dns_rcode", json_string(r->dns_rcode));
    set_if(o, f, PH_DNS_ANSWER, "dns_answer", strings_json(r->dns_answers, r->n_dns_answers));
    set_if(o, f, PH_RTT, "rtt_ms", r->received > 0 ? hundredths(r->rtt_ms) : json_null());
    set_if(o, f, PH_LOSS, "loss_pct", hundredths(r->loss_pct));
    if (f & PH_BIT(PH_LOSS)) {
        json_object_set_new(o, "sent", json_integer(r->sent));
        json_object_set_new(o, "received", json_integer(r->received));
    }
    set_if(o, f, PH_EXIT_CODE, "exit_code", json_integer(r->exit_code));
    set_if(o, f, PH_OUTPUT, "output", text_json(r->output, r->output ? strlen(r->output) : 0));
    if (f & PH_BIT(PH_OUTPUT))
        json_object_set_new(o, "perfdata", perfdata_json(r));
    if (r->timed_out)
        json_object_set_new(o, "timed_out", json_true());
    if (r->error[0])
        json_object_set_new(o, "error", json_string(r->error));
    return o;
}
