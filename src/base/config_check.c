/* config_check.c — the value checks option tables share (hosts, addresses, URLs, target lists)
 * and the target-list splitter; see config.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "base/config.h"
#include "base/config_internal.h"
#include "base/err.h"
#include "base/num.h"

bool config_check_host(const char *v)
{
    if (strlen(v) > 253)
        return false;
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != ':' && *p != '_')
            return false;
    return true;
}

bool config_check_ip(const char *v)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, v, buf) == 1 || inet_pton(AF_INET6, v, buf) == 1;
}

bool config_check_url(const char *v)
{
    return (strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0) && strlen(v) > 8 &&
           strlen(v) <= 1024 && !strpbrk(v, " \t\r\n");
}

bool config_check_targets(const char *v)
{
    return config_split_targets(v, NULL, CONFIG_TARGETS_MAX, NULL, 0) >= 0;
}

char *config_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static int parse_port(const char *text, int *port)
{
    int64_t v;
    if (num_parse_int64("port", text, 1, 65535, NULL, &v, NULL, 0) != 0)
        return -1;
    *port = (int)v;
    return 0;
}

/* One "host", "host:port", "[v6]:port" or bare IPv6 entry, already trimmed. */
static int parse_target(const char *entry, struct config_target *t)
{
    char host[256];
    int port = 0;
    const char *colon = strrchr(entry, ':');
    if (entry[0] == '[') {
        const char *close = strchr(entry, ']');
        if (!close || (size_t)(close - entry - 1) >= sizeof host)
            return -1;
        snprintf(host, sizeof host, "%.*s", (int)(close - entry - 1), entry + 1);
        if (close[1] == ':' ? parse_port(close + 2, &port) != 0 : close[1] != '\0')
            return -1;
        if (!config_check_ip(host))
            return -1;
    } else if (colon && strchr(entry, ':') == colon) {
        if ((size_t)(colon - entry) >= sizeof host || parse_port(colon + 1, &port) != 0)
            return -1;
        snprintf(host, sizeof host, "%.*s", (int)(colon - entry), entry);
    } else {
        if (strlen(entry) >= sizeof host)
            return -1;
        snprintf(host, sizeof host, "%s", entry);
    }
    if (!host[0] || !config_check_host(host) || (strchr(host, ':') && !config_check_ip(host)))
        return -1;
    if (t) {
        *t = (struct config_target){.port = port};
        snprintf(t->host, sizeof t->host, "%s", host);
    }
    return 0;
}

int config_split_targets(const char *list, struct config_target *out, int max, char *err,
                         size_t errlen)
{
    if (!list || !strcmp(list, "none"))
        return 0;
    char *copy = strdup(list);
    if (!copy)
        return err_set(err, errlen, "out of memory");
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *entry = config_trim(tok);
        if (!*entry)
            continue;
        if (n >= max || parse_target(entry, out ? &out[n] : NULL) != 0) {
            if (n >= max)
                err_set(err, errlen, "more than %d targets", max);
            else
                err_set(err, errlen, "bad target \"%.80s\"", entry);
            free(copy);
            return -1;
        }
        n++;
    }
    free(copy);
    return n;
}
