/* probe_table_stub.c — TEMPORARY, until src/probe/probe_table.c lands (branch h8-probes): the
 * functions of src/probe/probe_type.h with an empty table, so that the check engine links. The
 * Makefile compiles it only while src/probe/probe_table.c does not exist; delete it then. */
#include <string.h>
#include <strings.h>

#include "probe/probe_type.h"

static const char *const placeholder_names[PH_COUNT] = {
    [PH_STATUS] = "STATUS",         [PH_RESPONSE_TIME] = "RESPONSE_TIME",
    [PH_BODY] = "BODY",             [PH_HEADER] = "HEADER",
    [PH_CONNECTED] = "CONNECTED",   [PH_CERT_EXPIRES_IN] = "CERT_EXPIRES_IN",
    [PH_DNS_RCODE] = "DNS_RCODE",   [PH_DNS_ANSWER] = "DNS_ANSWER",
    [PH_RTT] = "RTT",               [PH_LOSS] = "LOSS",
    [PH_EXIT_CODE] = "EXIT_CODE",   [PH_OUTPUT] = "OUTPUT",
};

const char *probe_placeholder_name(enum probe_placeholder p)
{
    return (unsigned)p < PH_COUNT ? placeholder_names[p] : "?";
}

int probe_placeholder_find(const char *name)
{
    for (int p = 0; p < PH_COUNT; p++)
        if (strcmp(placeholder_names[p], name) == 0)
            return p;
    return -1;
}

const struct probe_type *const probe_types[] = {NULL};

const struct probe_type *probe_type_find(const char *name)
{
    for (size_t i = 0; probe_types[i]; i++)
        if (strcasecmp(probe_types[i]->name, name) == 0)
            return probe_types[i];
    return NULL;
}

json_t *probe_result_json(const struct probe_type *type, const struct probe_result *r)
{
    json_t *o = json_object();
    uint32_t ph = type ? type->placeholders : 0;
    json_object_set_new(o, "response_time_ms", json_real(r->response_time_ms));
    if (ph & PH_BIT(PH_CONNECTED))
        json_object_set_new(o, "connected", json_boolean(r->connected));
    if (ph & PH_BIT(PH_STATUS))
        json_object_set_new(o, "status", json_integer(r->status));
    if (ph & PH_BIT(PH_EXIT_CODE))
        json_object_set_new(o, "exit_code", json_integer(r->exit_code));
    if ((ph & PH_BIT(PH_OUTPUT)) && r->output)
        json_object_set_new(o, "output", json_string(r->output));
    if (r->error[0])
        json_object_set_new(o, "error", json_string(r->error));
    return o;
}

/* No loop-wide resources yet: a token the stub's callers only pass around. */
struct probe_env *probe_env_new(uv_loop_t *loop, char *err, size_t errlen)
{
    return (struct probe_env *)loop;
}

void probe_env_close(struct probe_env *env)
{
}
