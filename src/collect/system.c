/* system.c — the "system" collector: host name and seconds since boot. Both are cheap, local
 * reads (/proc/uptime, falling back to sysinfo(2)), safe to call on the loop thread. */
#include "collect/collect.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

/* Seconds since boot from /proc/uptime ("12345.67 54321.00"), or -1. */
static int64_t system_proc_uptime(void)
{
    FILE *f = fopen("/proc/uptime", "re");
    if (!f)
        return -1;
    double up = -1;
    if (fscanf(f, "%lf", &up) != 1)
        up = -1;
    fclose(f);
    return up >= 0 ? (int64_t)up : -1;
}

static int system_uptime(int64_t *uptime_s, char *err, size_t errlen)
{
    int64_t up = system_proc_uptime();
    if (up < 0) {
        struct sysinfo si;
        if (sysinfo(&si) != 0) {
            snprintf(err, errlen, "uptime: %s", strerror(errno));
            return -1;
        }
        up = si.uptime;
    }
    *uptime_s = up;
    return 0;
}

static int system_hostname(char *buf, size_t len, char *err, size_t errlen)
{
    if (gethostname(buf, len) != 0) {
        snprintf(err, errlen, "hostname: %s", strerror(errno));
        buf[0] = '\0';
        return -1;
    }
    buf[len - 1] = '\0'; /* gethostname may truncate without terminating */
    return 0;
}

static int system_collect(struct host_facts *out, char *err, size_t errlen)
{
    out->uptime_s = 0;
    int rc = system_hostname(out->hostname, sizeof out->hostname, err, errlen);
    if (system_uptime(&out->uptime_s, err, errlen) != 0)
        rc = -1;
    return rc;
}

const struct collector collect_system = {"system", system_collect};
