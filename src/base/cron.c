/* cron.c — the cron expression parser and the search for its next firing, minute by minute in
 * local wall-clock time, skipping whole months, days and hours that cannot match. */
#include "base/cron.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/tz.h"

#define CRON_TEXT_MAX 256
#define CRON_SEARCH_DAYS (5 * 366)
#define CRON_FIELDS "minute hour day-of-month month day-of-week"

struct cron_field {
    const char *name;
    int min, max;
    const char *const *names; /* NULL, or max - min + 1 names for min..max */
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const weekday_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"};

static const struct cron_field fields[5] = {
    {"minute", 0, 59, NULL},
    {"hour", 0, 23, NULL},
    {"day-of-month", 1, 31, NULL},
    {"month", 1, 12, month_names},
    {"day-of-week", 0, 7, weekday_names},
};

static const struct {
    const char *name, *expr;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* A number or a name of field f at *p; advances *p. Returns 0 or -1. */
static int cron_value(const struct cron_field *f, const char **p, int *out)
{
    if (**p >= '0' && **p <= '9') {
        long v = 0;
        while (**p >= '0' && **p <= '9' && v < 1000)
            v = v * 10 + (*(*p)++ - '0');
        *out = (int)v;
        return v >= f->min && v <= f->max ? 0 : -1;
    }
    for (int i = 0; f->names && i <= f->max - f->min; i++)
        if (strncasecmp(*p, f->names[i], 3) == 0) {
            *p += 3;
            *out = f->min + i;
            return 0;
        }
    return -1;
}

/* One item of a list: "*", "N", "N-M", each with an optional "/S"; sets its bits. */
static int cron_item(const struct cron_field *f, const char *p, uint64_t *bits)
{
    int lo = f->min, hi = f->max, step = 1;
    bool star = *p == '*';
    if (star)
        p++;
    else {
        if (cron_value(f, &p, &lo) != 0)
            return -1;
        hi = lo;
        if (*p == '-') {
            p++;
            if (cron_value(f, &p, &hi) != 0 || hi < lo)
                return -1;
        }
    }
    if (*p == '/') {
        p++;
        const struct cron_field count = {f->name, 1, f->max, NULL};
        if (cron_value(&count, &p, &step) != 0)
            return -1;
        if (!star && hi == lo)
            hi = f->max; /* "5/15": from 5 to the end, as Vixie cron reads it */
    }
    if (*p)
        return -1;
    for (int v = lo; v <= hi; v += step)
        *bits |= 1ull << v;
    return 0;
}

static int cron_field_parse(int i, const char *text, uint64_t *bits, char *err, size_t errlen)
{
    const struct cron_field *f = &fields[i];
    char item[CRON_TEXT_MAX + 1];
    *bits = 0;
    int rc = 0;
    for (const char *p = text; !rc;) {
        size_t n = strcspn(p, ",");
        snprintf(item, sizeof item, "%.*s", (int)n, p);
        rc = n == 0 ? -1 : cron_item(f, item, bits); /* "1,,2" and "1," have an empty item */
        if (!p[n])
            break;
        p += n + 1;
    }
    if (rc)
        return err_set(err, errlen, "field %d (%s): expected %d-%d%s, got \"%.40s\"", i + 1,
                       f->name, f->min, f->max, f->names ? " or a name" : "", text);
    return 0;
}

int cron_parse(const char *text, struct cron *out, char *err, size_t errlen)
{
    if (!text)
        return err_set(err, errlen, "expected a cron expression, got nothing");
    for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
        if (strcmp(text, macros[i].name) == 0)
            text = macros[i].expr;
    if (strlen(text) > CRON_TEXT_MAX)
        return err_set(err, errlen, "expected a cron expression of at most %d bytes",
                       CRON_TEXT_MAX);
    char buf[CRON_TEXT_MAX + 1], *save = NULL, *part[6];
    snprintf(buf, sizeof buf, "%s", text);
    int n = 0;
    for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
        if (n < 6)
            part[n++] = t;
        else
            n = 7;
    if (n > 5)
        return err_set(err, errlen, "expected 5 fields (" CRON_FIELDS "), got more");
    if (n < 5)
        return err_set(err, errlen, "expected 5 fields (" CRON_FIELDS "), got %d", n);
    uint64_t bits[5];
    for (int i = 0; i < 5; i++)
        if (cron_field_parse(i, part[i], &bits[i], err, errlen) != 0)
            return -1;
    *out = (struct cron){
        .minutes = bits[0],
        .hours = (uint32_t)bits[1],
        .days = (uint32_t)bits[2],
        .months = (uint16_t)bits[3],
        .weekdays = (uint8_t)((bits[4] | bits[4] >> 7) & 0x7f),
        .days_star = part[2][0] == '*',
        .weekdays_star = part[4][0] == '*',
    };
    return 0;
}

static bool cron_day_matches(const struct cron *c, const struct tm *t)
{
    bool dom = c->days >> t->tm_mday & 1, dow = c->weekdays >> t->tm_wday & 1;
    if (c->days_star || c->weekdays_star)
        return dom && dow;
    return dom || dow;
}

int64_t cron_next(const struct cron *c, const struct tz *tz, int64_t after_s)
{
    /* local is a wall-clock time written as UTC; it only moves forward. */
    int64_t local = after_s + (tz ? tz_offset(tz, after_s) : 0);
    local = (local / 60 + 1) * 60;
    int64_t end = local + (int64_t)CRON_SEARCH_DAYS * 86400;
    while (local < end) {
        time_t tt = (time_t)local;
        struct tm t;
        gmtime_r(&tt, &t);
        int64_t day_start = local - (t.tm_hour * 3600 + t.tm_min * 60 + t.tm_sec);
        if (!(c->months >> (t.tm_mon + 1) & 1)) {
            struct tm next = {.tm_year = t.tm_year, .tm_mon = t.tm_mon + 1, .tm_mday = 1};
            local = (int64_t)timegm(&next);
        } else if (!cron_day_matches(c, &t)) {
            local = day_start + 86400;
        } else if (!(c->hours >> t.tm_hour & 1)) {
            local = day_start + (t.tm_hour + 1) * 3600;
        } else if (!(c->minutes >> t.tm_min & 1)) {
            local += 60;
        } else {
            int64_t at = tz ? tz_local_to_utc(tz, local) : local;
            if (at > after_s)
                return at;
            local += 60;
        }
    }
    return -1;
}
