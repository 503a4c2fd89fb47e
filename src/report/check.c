/* check.c — report_check: the server's test of a pushed report before it stores it. It checks
 * the members the monitor reads (docs/report.schema.json) for their types, so that a bad body
 * gets a 400 naming the member instead of being served to every reader. Members beyond these
 * are kept as they come (newer agents add members). */
#include "report/report.h"

#include <string.h>

#include "base/err.h"

enum {
    T_STR = 1,
    T_INT = 2,
    T_NUM = 4, /* integer or real */
    T_BOOL = 8,
    T_NULL = 16,
    T_OBJ = 32,
    T_ARR = 64,
};

struct report_member {
    const char *path; /* "system.mem_used_pct"; "ITEM" in a path: each item of the array */
    int types;
};

static const struct report_member report_members[] = {
    {"timestamp", T_STR},
    {"timestamp_ms", T_INT},
    {"hostname", T_STR},
    {"version", T_STR},
    {"collect_ms", T_INT},
    {"errors", T_ARR},
    {"errors.ITEM.section", T_STR},
    {"errors.ITEM.error", T_STR},
    {"system", T_OBJ},
    {"system.cpu_count", T_INT},
    {"system.load_avg_1", T_NUM | T_NULL},
    {"system.mem_used_pct", T_NUM},
    {"system.swap_used_pct", T_NUM},
    {"system.disks", T_ARR},
    {"system.disks.ITEM.mountpoint", T_STR},
    {"system.disks.ITEM.used_pct", T_NUM | T_NULL},
    {"system.oom_kills", T_INT | T_NULL},
    {"system.uptime_s", T_INT | T_NULL},
    {"system.time_sync", T_OBJ},
    {"system.time_sync.synchronized", T_BOOL | T_NULL},
    {"services", T_OBJ},
    {"services.units", T_ARR},
    {"services.units.ITEM.name", T_STR},
    {"services.units.ITEM.active_state", T_STR},
    {"services.units.ITEM.restart_loop", T_BOOL},
    {"services.failed_units", T_ARR},
    {"services.failed_units.ITEM", T_STR},
    {"network", T_OBJ},
    {"network.targets", T_ARR},
    {"network.targets.ITEM.target", T_STR},
    {"network.targets.ITEM.reachable", T_BOOL},
    {"network.internet_reachable", T_BOOL | T_NULL},
    {"network.tcp_retrans_pct", T_NUM | T_NULL},
    {"network.firewall_active", T_BOOL | T_NULL},
    {"network.wireguard", T_OBJ},
    {"network.wireguard.interfaces", T_ARR},
    {"network.wireguard.interfaces.ITEM.name", T_STR},
    {"network.wireguard.interfaces.ITEM.peers", T_ARR},
    {"network.wireguard.interfaces.ITEM.peers.ITEM.latest_handshake_age_s", T_INT | T_NULL},
    {"processes", T_OBJ},
    {"processes.zombie_count", T_INT},
    {"processes.orphan_count", T_INT},
    {"processes.panic_count", T_INT},
    {"tls", T_OBJ},
    {"tls.endpoints", T_ARR},
    {"tls.endpoints.ITEM.endpoint", T_STR},
    {"tls.endpoints.ITEM.days_left", T_INT | T_NULL},
    {"gpu", T_OBJ},
    {"gpu.count", T_INT},
    {"gpu.gpus", T_ARR},
    {"faultline", T_OBJ},
    {"faultline.agent", T_OBJ},
    {"faultline.agent.running", T_BOOL},
    {"faultline.server", T_OBJ},
    {"faultline.server.running", T_BOOL},
    {"probes", T_ARR},
    {"probes.ITEM.name", T_STR},
    {"probes.ITEM.ok", T_BOOL},
};

static int report_type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return T_STR;
    case JSON_INTEGER:
        return T_INT | T_NUM;
    case JSON_REAL:
        return T_NUM;
    case JSON_TRUE:
    case JSON_FALSE:
        return T_BOOL;
    case JSON_NULL:
        return T_NULL;
    case JSON_OBJECT:
        return T_OBJ;
    default:
        return T_ARR;
    }
}

static const char *report_expected(int types)
{
    switch (types & ~T_NULL) {
    case T_STR:
        return types & T_NULL ? "a string or null" : "a string";
    case T_INT:
        return types & T_NULL ? "a whole number or null" : "a whole number";
    case T_NUM:
        return types & T_NULL ? "a number or null" : "a number";
    case T_BOOL:
        return types & T_NULL ? "true, false or null" : "true or false";
    case T_OBJ:
        return "an object";
    default:
        return "an array";
    }
}

/* Checks rest (the path below v, "" at its end) on v; where names v for messages. */
static int report_check_path(const json_t *v, const char *rest, const char *where, int types,
                             char *err, size_t errlen)
{
    if (!*rest) {
        if (report_type_of(v) & types)
            return 0;
        char *shown = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        err_set(err, errlen, "%s: expected %s, got %.60s%s", where, report_expected(types),
                shown ? shown : "?", shown && strlen(shown) > 60 ? "..." : "");
        free(shown);
        return -1;
    }
    const char *dot = strchr(rest, '.');
    size_t len = dot ? (size_t)(dot - rest) : strlen(rest);
    const char *next = dot ? dot + 1 : "";
    char sub[256];
    if (len == 4 && strncmp(rest, "ITEM", 4) == 0) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            snprintf(sub, sizeof sub, "%s[%zu]", where, i);
            if (report_check_path(item, next, sub, types, err, errlen) != 0)
                return -1;
        }
        return 0;
    }
    snprintf(sub, sizeof sub, "%s%s%.*s", where, *where ? "." : "", (int)len, rest);
    json_t *member = json_is_object(v) ? json_object_getn(v, rest, len) : NULL;
    if (!member)
        return err_set(err, errlen, "%s: required, missing", sub);
    return report_check_path(member, next, sub, types, err, errlen);
}

int report_check(const json_t *doc, char *err, size_t errlen)
{
    if (!json_is_object(doc))
        return err_set(err, errlen, "the body: expected a JSON object (a report)");
    for (size_t i = 0; i < sizeof report_members / sizeof report_members[0]; i++)
        if (report_check_path(doc, report_members[i].path, "", report_members[i].types, err,
                              errlen) != 0)
            return -1;
    return 0;
}
