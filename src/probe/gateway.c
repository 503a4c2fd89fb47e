/* gateway.c — probe_default_gateway: the IPv4 default route's gateway from /proc/net/route (the
 * one with the lowest metric when there are several). FAULTLINE_PROC_NET_ROUTE names another
 * file in the same format, for tests. See probe.h. */
#include "probe/probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUTE_FLAG_UP 0x1
#define ROUTE_FLAG_GATEWAY 0x2

/* One line of the table: "Iface Destination Gateway Flags RefCnt Use Metric Mask ...", the
 * addresses in hex as the kernel stores them (network byte order read as a host integer). */
struct route_line {
    unsigned long destination, gateway, flags, metric, mask;
};

static bool parse_route_line(const char *line, struct route_line *r)
{
    char iface[64];
    unsigned long refcnt, use;
    return sscanf(line, "%63s %lx %lx %lx %lu %lu %lu %lx", iface, &r->destination, &r->gateway,
                  &r->flags, &refcnt, &use, &r->metric, &r->mask) == 8;
}

static bool is_default_route(const struct route_line *r)
{
    return r->destination == 0 && r->mask == 0 && (r->flags & ROUTE_FLAG_UP) &&
           (r->flags & ROUTE_FLAG_GATEWAY) && r->gateway != 0;
}

int probe_default_gateway(char *addr, size_t len)
{
    const char *path = getenv("FAULTLINE_PROC_NET_ROUTE");
    FILE *f = fopen(path && *path ? path : "/proc/net/route", "re");
    if (!f)
        return -1;
    char line[512];
    bool found = false;
    struct route_line best = {0};
    if (!fgets(line, sizeof line, f)) /* the header */
        line[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        struct route_line r;
        if (parse_route_line(line, &r) && is_default_route(&r) &&
            (!found || r.metric < best.metric)) {
            best = r;
            found = true;
        }
    }
    fclose(f);
    if (!found || !addr || len == 0)
        return -1;
    struct in_addr in = {.s_addr = (in_addr_t)best.gateway};
    if (!inet_ntop(AF_INET, &in, addr, (socklen_t)len))
        return -1;
    return 0;
}
