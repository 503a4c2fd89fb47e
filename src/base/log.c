/* log.c — timestamped, levelled lines on stderr; see log.h. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"

static enum log_level min_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
    min_level = level;
}

int log_level_parse(const char *text, enum log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(text, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_write(enum log_level level, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char line[2048];
    char stamp[CLOCK_ISO_LEN];
    clock_format_iso(clock_wall_ms(), stamp, sizeof stamp);
    int used = snprintf(line, sizeof line, "%s %-5s ", stamp, level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + used, sizeof line - (size_t)used, fmt, ap);
    va_end(ap);
    /* One fputs per line so lines from several threads never interleave mid-line. */
    size_t len = strlen(line);
    if (len < sizeof line - 1) {
        line[len] = '\n';
        line[len + 1] = '\0';
    }
    fputs(line, stderr);
}

bool log_limit_pass(struct log_limit *limit, int64_t now_ms, char *note, size_t notelen)
{
    if (!limit->refilled_ms) {
        limit->tokens = limit->burst;
        limit->refilled_ms = now_ms;
    }
    int64_t gained = (now_ms - limit->refilled_ms) / limit->interval_ms;
    if (gained > 0) {
        limit->tokens = gained >= limit->burst - limit->tokens ? limit->burst
                                                               : limit->tokens + (unsigned)gained;
        limit->refilled_ms += gained * limit->interval_ms;
    }
    if (limit->tokens == 0) {
        limit->held_back++;
        return false;
    }
    limit->tokens--;
    if (limit->held_back)
        snprintf(note, notelen, " (%u similar lines held back)", limit->held_back);
    else
        snprintf(note, notelen, "%s", "");
    limit->held_back = 0;
    return true;
}
