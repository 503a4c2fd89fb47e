/* clock.c — monotonic and wall clocks, ISO 8601 and duration formatting; see clock.h. */
#include "base/clock.h"

#include <stdbool.h>
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

/* Reads exactly n digits at *p into *out and moves *p past them; false if one is missing. */
static bool read_digits(const char **p, int n, int *out)
{
    *out = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return false;
        *out = *out * 10 + (**p - '0');
    }
    return true;
}

static bool read_field(const char **p, int n, int min, int max, char after, int *out)
{
    if (!read_digits(p, n, out) || *out < min || *out > max)
        return false;
    if (after && *(*p)++ != after)
        return false;
    return true;
}

static bool is_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

/* Days from 1970-01-01 to year-month-day of the proleptic Gregorian calendar. */
static int64_t days_from_epoch(int year, int month, int day)
{
    int64_t y = year - (month <= 2);
    int64_t era = y / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The zone after the time: "Z" or "+HH:MM"/"-HH:MM"; sets *offset_ms (local minus UTC). */
static bool read_zone(const char *p, int64_t *offset_ms)
{
    if (p[0] == 'Z' && p[1] == '\0') {
        *offset_ms = 0;
        return true;
    }
    if (*p != '+' && *p != '-')
        return false;
    int sign = *p++ == '-' ? -1 : 1, hours, minutes;
    if (!read_field(&p, 2, 0, 23, ':', &hours) || !read_field(&p, 2, 0, 59, 0, &minutes) ||
        *p != '\0')
        return false;
    *offset_ms = sign * ((int64_t)hours * 3600 + minutes * 60) * 1000;
    return true;
}

static int parse_seconds(const char *text, int64_t *wall_ms)
{
    int64_t secs = 0;
    size_t n = strlen(text);
    if (n == 0 || n > 11 || strspn(text, "0123456789") != n)
        return -1;
    for (const char *p = text; *p; p++)
        secs = secs * 10 + (*p - '0');
    *wall_ms = secs * 1000;
    return 0;
}

static int parse_iso(const char *text, int64_t *wall_ms)
{
    const char *p = text;
    int year, month, day, hour, minute, second, millis = 0;
    if (!read_field(&p, 4, 0, 9999, '-', &year) || !read_field(&p, 2, 1, 12, '-', &month) ||
        !read_digits(&p, 2, &day) || day < 1 || day > days_in_month(year, month) || *p++ != 'T' ||
        !read_field(&p, 2, 0, 23, ':', &hour) || !read_field(&p, 2, 0, 59, ':', &minute) ||
        !read_field(&p, 2, 0, 59, 0, &second))
        return -1;
    if (*p == '.') {
        p++;
        int digits = 0;
        for (int scale = 100; *p >= '0' && *p <= '9'; p++, digits++, scale /= 10)
            millis += (*p - '0') * scale;
        if (digits == 0 || digits > 9)
            return -1;
    }
    int64_t offset_ms;
    if (!read_zone(p, &offset_ms))
        return -1;
    int64_t secs = days_from_epoch(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
    *wall_ms = secs * 1000 + millis - offset_ms;
    return 0;
}

int clock_parse_iso(const char *text, int64_t *wall_ms)
{
    int64_t ms;
    int rc = text[0] >= '0' && text[0] <= '9' && strchr(text, '-') == NULL
                 ? parse_seconds(text, &ms)
                 : parse_iso(text, &ms);
    if (rc != 0 || ms < CLOCK_PARSE_MIN_MS || ms >= CLOCK_PARSE_END_MS)
        return -1;
    *wall_ms = ms;
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
        snprintf(buf, buflen, "%lldd %02lldh", (long long)(s / 86400),
                 (long long)(s % 86400 / 3600));
}
