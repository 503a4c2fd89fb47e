/* proc_net.c — parsers of the kernel's network tables for the report's "network" section: the
 * TCP retransmission rate of /proc/net/snmp and the listening sockets of
 * /proc/net/{tcp,tcp6,udp,udp6}. Pure text in, JSON out (fuzzed by fuzz/fuzz_report.c). */
#include "report/report_internal.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

double report_retrans_pct(const char *text)
{
    /* Two "Tcp:" lines: the names, then the values. */
    const char *names = strstr(text, "Tcp:");
    const char *values = names ? strstr(names + 4, "Tcp:") : NULL;
    if (!values)
        return -1;
    double out = -1, retrans = -1;
    const char *n = names + 4, *v = values + 4;
    for (;;) {
        while (*n == ' ')
            n++;
        while (*v == ' ')
            v++;
        if (*n == '\n' || !*n || *v == '\n' || !*v)
            break;
        size_t nlen = strcspn(n, " \n");
        char *end;
        double value = strtod(v, &end);
        if (end == v)
            break;
        if (nlen == 7 && strncmp(n, "OutSegs", 7) == 0)
            out = value;
        else if (nlen == 11 && strncmp(n, "RetransSegs", 11) == 0)
            retrans = value;
        n += nlen;
        v = end;
    }
    return out > 0 && retrans >= 0 ? retrans * 100.0 / out : -1;
}

/* "0100007F:1F90" (IPv4, host byte order words) or 32 hex digits (IPv6, four such words) into
 * text; returns the port, or -1 when the field is not one. */
static int report_listen_addr(const char *field, char *text, size_t len)
{
    const char *colon = strchr(field, ':');
    size_t hex = colon ? (size_t)(colon - field) : 0;
    if (hex != 8 && hex != 32)
        return -1;
    unsigned char bytes[16];
    for (size_t w = 0; w < hex / 8; w++) {
        char word[9];
        memcpy(word, field + w * 8, 8);
        word[8] = '\0';
        char *end;
        unsigned long v = strtoul(word, &end, 16);
        if (*end)
            return -1;
        memcpy(bytes + w * 4, &v, 4); /* /proc prints the words as the host stores them */
    }
    if (!inet_ntop(hex == 8 ? AF_INET : AF_INET6, bytes, text, (socklen_t)len))
        return -1;
    char *end;
    long port = strtol(colon + 1, &end, 16);
    return (end == colon + 1 || port < 0 || port > 65535) ? -1 : (int)port;
}

size_t report_listen_parse(const char *text, const char *proto, json_t *ports)
{
    bool tcp = strncmp(proto, "tcp", 3) == 0;
    size_t added = 0;
    const char *line = strchr(text, '\n'); /* past the header */
    while (line && *++line) {
        char local[64], remote[64], state[8];
        if (sscanf(line, "%*s %63s %63s %7s", local, remote, state) == 3) {
            char addr[64];
            int port = report_listen_addr(local, addr, sizeof addr);
            bool listening = tcp ? strcmp(state, "0A") == 0
                                 : strcmp(state, "07") == 0 && strstr(remote, ":0000") &&
                                       strspn(remote, "0") == strlen(remote) - 5;
            if (port >= 0 && listening) {
                json_array_append_new(ports, json_pack("{s:s, s:s, s:i}", "proto", proto, "addr",
                                                       addr, "port", port));
                added++;
            }
        }
        line = strchr(line, '\n');
    }
    return added;
}
