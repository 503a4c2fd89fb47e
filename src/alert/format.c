/* format.c — the DOWN and UP texts (see format.h). Plain text meant to be read on a phone at
 * night: the state first, then how long, when and from where. Times are UTC
 * ("2026-11-21 10:05:12 UTC"); durations come from clock_format_duration. */
#include "alert/format.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "base/clock.h"

/* Appends to buf at *used, never past buflen; output is silently cut when it does not fit. */
static void append(char *buf, size_t buflen, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t buflen, size_t *used, const char *fmt, ...)
{
    if (*used >= buflen)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, buflen - *used, fmt, ap);
    va_end(ap);
    if (n > 0)
        *used += (size_t)n;
}

/* "2026-11-21 10:05:12 UTC" */
static void format_utc(int64_t wall_ms, char *buf, size_t buflen)
{
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(buf, buflen, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* "180s", or "2.5s" for a limit that is not a whole number of seconds. */
static void format_limit(int64_t ms, char *buf, size_t buflen)
{
    if (ms % 1000 == 0)
        snprintf(buf, buflen, "%llds", (long long)(ms / 1000));
    else
        snprintf(buf, buflen, "%.1fs", (double)ms / 1000.0);
}

static void format_since(int64_t from_ms, int64_t to_ms, char *buf, size_t buflen)
{
    clock_format_duration(to_ms > from_ms ? to_ms - from_ms : 0, buf, buflen);
}

void alert_format_down(const struct worker_record *w, int64_t now_ms, int64_t fail_timeout_ms,
                       char *buf, size_t buflen)
{
    if (buflen == 0)
        return;
    buf[0] = '\0';
    size_t used = 0;
    char silence[32], limit[32], seen[40];
    append(buf, buflen, &used, "🔴 %s is DOWN\n", w->name);
    format_limit(fail_timeout_ms, limit, sizeof limit);
    if (w->last_seen_ms > 0) {
        format_since(w->last_seen_ms, now_ms, silence, sizeof silence);
        append(buf, buflen, &used, "No heartbeat for %s (limit %s).\n", silence, limit);
        format_utc(w->last_seen_ms, seen, sizeof seen);
        append(buf, buflen, &used, "Last seen: %s", seen);
        if (w->ip[0])
            append(buf, buflen, &used, " from %s", w->ip);
    } else {
        append(buf, buflen, &used, "No heartbeat yet (limit %s).\nLast seen: never", limit);
    }
    if (w->site[0])
        append(buf, buflen, &used, "\nSite: %s", w->site);
    if (w->gpus > 0)
        append(buf, buflen, &used, "\nGPUs: %d", w->gpus);
}

void alert_format_up(const struct worker_record *w, int64_t now_ms, int64_t down_since_ms,
                     char *buf, size_t buflen)
{
    if (buflen == 0)
        return;
    buf[0] = '\0';
    size_t used = 0;
    char back[40], down[32];
    format_utc(now_ms, back, sizeof back);
    append(buf, buflen, &used, "🟢 %s is UP\nBack at %s", w->name, back);
    if (w->ip[0])
        append(buf, buflen, &used, " from %s", w->ip);
    if (down_since_ms > 0) {
        format_since(down_since_ms, now_ms, down, sizeof down);
        append(buf, buflen, &used, ", after %s down", down);
    }
    append(buf, buflen, &used, ".");
    if (w->site[0])
        append(buf, buflen, &used, "\nSite: %s", w->site);
}
