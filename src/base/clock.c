/* clock.c — monotonic and wall clocks, ISO 8601 and duration formatting; see clock.h. */
#include "base/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void clock_format_iso(int64_t wall_ms, char *buf, size_t buflen)
{
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, buflen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(wall_ms % 1000));
}

int clock_parse_iso(const char *text, int64_t *wall_ms)
{
    char *end;
    long long plain = strtoll(text, &end, 10);
    if (end != text && *end == '\0') {
        *wall_ms = plain * 1000;
        return 0;
    }
    struct tm tm = {0};
    end = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return -1;
    long millis = 0;
    if (*end == '.') {
        end++;
        long scale = 100;
        while (*end >= '0' && *end <= '9') {
            millis += (*end - '0') * scale;
            scale /= 10;
            end++;
        }
    }
    if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0 && *end != '\0')
        return -1;
    *wall_ms = (int64_t)timegm(&tm) * 1000 + millis;
    return 0;
}

void clock_format_duration(int64_t ms, char *buf, size_t buflen)
{
    int64_t s = ms / 1000;
    if (s < 60)
        snprintf(buf, buflen, "%llds", (long long)s);
    else if (s < 3600)
        snprintf(buf, buflen, "%lldm %02llds", (long long)(s / 60), (long long)(s % 60));
    else if (s < 86400)
        snprintf(buf, buflen, "%lldh %02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else
        snprintf(buf, buflen, "%lldd %02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}
