/* wireguard.c — the report's WireGuard part of "network": `wg show all dump` (run with the
 * report's 4 s limit; no wg installed is no interfaces) read into interfaces and their peers.
 * Private and preshared keys are read past, never kept. */
#include "report/report_internal.h"

#include <stdlib.h>
#include <string.h>

#define REPORT_WG_FIELDS_MAX 10

/* Splits line at tabs into at most max fields; returns how many. */
static size_t report_wg_fields(char *line, char **f, size_t max)
{
    size_t n = 0;
    for (char *p = line; n < max;) {
        f[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    return n;
}

static json_t *report_wg_find(json_t *interfaces, const char *name)
{
    size_t i;
    json_t *itf;
    json_array_foreach(interfaces, i, itf)
    {
        if (strcmp(json_string_value(json_object_get(itf, "name")), name) == 0)
            return itf;
    }
    return NULL;
}

static json_t *report_wg_none(const char *text)
{
    return strcmp(text, "(none)") == 0 || !*text ? json_null() : json_string(text);
}

/* "ifname private-key public-key listen-port fwmark" */
static json_t *report_wg_interface(char **f)
{
    char *end;
    long port = strtol(f[3], &end, 10);
    return json_pack("{s:s, s:o, s:o, s:[]}", "name", f[0], "public_key", report_wg_none(f[2]),
                     "listen_port", *end || end == f[3] ? json_null() : json_integer(port),
                     "peers");
}

/* "ifname public-key preshared-key endpoint allowed-ips latest-handshake rx tx keepalive";
 * latest-handshake is Unix seconds, 0 when never (then the age is null). */
static json_t *report_wg_peer(char **f, int64_t now_s)
{
    char *end;
    long long hs = strtoll(f[5], &end, 10);
    bool known = !*end && end != f[5] && hs > 0;
    json_t *ips = json_array();
    if (strcmp(f[4], "(none)") != 0)
        for (char *save = NULL, *ip = strtok_r(f[4], ",", &save); ip;
             ip = strtok_r(NULL, ",", &save))
            json_array_append_new(ips, json_string(ip));
    return json_pack("{s:o, s:o, s:o, s:o}", "public_key", report_wg_none(f[1]), "endpoint",
                     report_wg_none(f[3]), "allowed_ips", ips, "latest_handshake_age_s",
                     known ? json_integer(now_s > hs ? now_s - hs : 0) : json_null());
}

json_t *report_wg_parse(char *text, int64_t now_s)
{
    json_t *interfaces = json_array();
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[REPORT_WG_FIELDS_MAX];
        size_t n = report_wg_fields(line, f, REPORT_WG_FIELDS_MAX);
        json_t *itf = n == 5 || n == 9 ? report_wg_find(interfaces, f[0]) : NULL;
        if (n == 5 && !itf)
            json_array_append_new(interfaces, report_wg_interface(f));
        else if (n == 9 && itf)
            json_array_append_new(json_object_get(itf, "peers"), report_wg_peer(f, now_s));
    }
    return json_pack("{s:o}", "interfaces", interfaces);
}
