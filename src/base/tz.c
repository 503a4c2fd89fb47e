/* tz.c — a reader of TZif files (RFC 8536), versions 1 to 4: the 64-bit part when there is one,
 * the transitions and their offsets, and the footer's POSIX TZ rule (such as
 * "CET-1CEST,M3.5.0,M10.5.0/3") for the times after the last transition (tz.h). */
#include "base/tz.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"

#define TZ_FILE_MAX (256 * 1024)

/* When a POSIX TZ rule changes the clock: Mm.w.d (day d of week w of month m, w 5 the last),
 * Jn (day n of 1-365, no 29 February) or n (day n of 0-365), at time seconds local time. */
struct tz_change {
    char form; /* 'M', 'J' or 'n' */
    int month, week, day;
    int32_t time;
};

struct tz {
    char name[TZ_NAME_MAX + 1];
    size_t count;         /* transitions */
    int64_t *at;          /* count instants, ascending */
    int32_t *offset_after; /* count offsets in force from at[i] */
    int32_t initial;      /* before the first transition */
    /* The footer's rule, for the times after the last transition. */
    bool has_rule, has_dst;
    int32_t std_offset, dst_offset; /* seconds east of UTC */
    struct tz_change dst_start, dst_end;
};

static bool tz_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > TZ_NAME_MAX || name[0] == '/' || strstr(name, ".."))
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("/_-+", *p)))
            return false;
    return true;
}

static int64_t be(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return bytes == 4 ? (int64_t)(int32_t)(uint32_t)v : (int64_t)v;
}

/* The counts of a TZif header at p (44 bytes). */
struct tzif_counts {
    int64_t isut, isstd, leap, time, type, chars;
};

static void tzif_counts(const unsigned char *p, struct tzif_counts *c)
{
    c->isut = be(p + 20, 4);
    c->isstd = be(p + 24, 4);
    c->leap = be(p + 28, 4);
    c->time = be(p + 32, 4);
    c->type = be(p + 36, 4);
    c->chars = be(p + 40, 4);
}

/* Bytes of a data block after its header, with times of tb bytes. */
static int64_t tzif_block_len(const struct tzif_counts *c, int tb)
{
    return c->time * tb + c->time + c->type * 6 + c->chars + c->leap * (tb + 4) + c->isstd +
           c->isut;
}

/* Reads the data block at p (len bytes available) into tz. Returns 0 or -1. */
static int tzif_read_block(struct tz *tz, const unsigned char *p, size_t len,
                           const struct tzif_counts *c, int tb)
{
    if (c->time < 0 || c->type <= 0 || c->type > 256 || c->time > 100000 || c->chars < 0 ||
        c->leap < 0 || c->isstd < 0 || c->isut < 0 || tzif_block_len(c, tb) > (int64_t)len)
        return -1;
    const unsigned char *idx = p + c->time * tb, *types = idx + c->time;
    tz->count = (size_t)c->time;
    tz->at = calloc(tz->count + 1, sizeof *tz->at);
    tz->offset_after = calloc(tz->count + 1, sizeof *tz->offset_after);
    if (!tz->at || !tz->offset_after)
        return -1;
    for (size_t i = 0; i < tz->count; i++) {
        tz->at[i] = be(p + i * tb, tb);
        if (idx[i] >= c->type || (i > 0 && tz->at[i] <= tz->at[i - 1]))
            return -1;
        tz->offset_after[i] = (int32_t)be(types + idx[i] * 6, 4);
    }
    /* RFC 8536: before the first transition, type 0. */
    tz->initial = (int32_t)be(types, 4);
    return 0;
}

/* ---- the footer: a POSIX TZ string ---- */

/* A zone abbreviation: letters, or anything but '>' within <...>. */
static const char *posix_name(const char *p)
{
    const char *start = p;
    if (*p == '<') {
        while (*p && *p != '>')
            p++;
        return *p == '>' && p - start > 1 ? p + 1 : NULL;
    }
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
        p++;
    return p - start >= 3 ? p : NULL;
}

/* [+-]h[h][:mm[:ss]] (hours up to 167, as TZif version 3 allows) into seconds. */
static const char *posix_time(const char *p, int32_t *out)
{
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    int32_t parts[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (i > 0 && *p != ':')
            break;
        if (i > 0)
            p++;
        if (*p < '0' || *p > '9')
            return NULL;
        int32_t v = 0;
        for (int digits = 0; *p >= '0' && *p <= '9' && digits < 3; p++, digits++)
            v = v * 10 + (*p - '0');
        parts[i] = v;
    }
    if (parts[0] > 167 || parts[1] > 59 || parts[2] > 59)
        return NULL;
    *out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
    return p;
}

static const char *posix_number(const char *p, int min, int max, int *out)
{
    int v = 0, digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
        v = v * 10 + (*p - '0');
    if (digits == 0 || v < min || v > max)
        return NULL;
    *out = v;
    return p;
}

/* ",Mm.w.d[/time]", ",Jn[/time]" or ",n[/time]". */
static const char *posix_change(const char *p, struct tz_change *c)
{
    if (!p || *p++ != ',')
        return NULL;
    c->form = *p == 'M' || *p == 'J' ? *p++ : 'n';
    if (c->form == 'M') {
        if (!(p = posix_number(p, 1, 12, &c->month)) || *p++ != '.' ||
            !(p = posix_number(p, 1, 5, &c->week)) || *p++ != '.' ||
            !(p = posix_number(p, 0, 6, &c->day)))
            return NULL;
    } else if (!(p = posix_number(p, c->form == 'J' ? 1 : 0, 365, &c->day))) {
        return NULL;
    }
    c->time = 7200;
    return *p == '/' ? posix_time(p + 1, &c->time) : p;
}

/* Reads "STDoffset[DST[offset][,start,end]]" into tz; a string it cannot read leaves no rule. */
static void posix_rule(struct tz *tz, const char *text)
{
    int32_t west;
    const char *p = posix_name(text);
    if (!p || !(p = posix_time(p, &west)))
        return;
    tz->std_offset = -west;
    tz->has_rule = true;
    if (!*p)
        return;
    if (!(p = posix_name(p)))
        goto bad;
    tz->dst_offset = tz->std_offset + 3600;
    if (*p && *p != ',') {
        if (!(p = posix_time(p, &west)))
            goto bad;
        tz->dst_offset = -west;
    }
    if (!(p = posix_change(p, &tz->dst_start)) || !(p = posix_change(p, &tz->dst_end)) || *p)
        goto bad;
    tz->has_dst = true;
    return;
bad:
    tz->has_rule = false;
}

static bool leap_year(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* The local wall-clock time (written as UTC) at which change c happens in year. */
static int64_t change_local(const struct tz_change *c, int year)
{
    struct tm jan1 = {.tm_year = year - 1900, .tm_mday = 1};
    int64_t year_start = (int64_t)timegm(&jan1), day;
    if (c->form == 'J') {
        day = c->day - 1 + (leap_year(year) && c->day >= 60 ? 1 : 0);
    } else if (c->form == 'n') {
        day = c->day;
    } else {
        static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        struct tm first = {.tm_year = year - 1900, .tm_mon = c->month - 1, .tm_mday = 1};
        time_t t = timegm(&first);
        struct tm f;
        gmtime_r(&t, &f);
        int in_month = month_days[c->month - 1] + (c->month == 2 && leap_year(year) ? 1 : 0);
        int mday = 1 + (c->day - f.tm_wday + 7) % 7 + (c->week - 1) * 7;
        while (mday > in_month)
            mday -= 7;
        day = f.tm_yday + mday - 1;
    }
    return year_start + day * 86400 + c->time;
}

/* The offset the footer's rule gives at utc_s. */
static int32_t rule_offset(const struct tz *tz, int64_t utc_s)
{
    if (!tz->has_dst)
        return tz->std_offset;
    time_t t = (time_t)(utc_s + tz->std_offset);
    struct tm local;
    gmtime_r(&t, &local);
    int year = local.tm_year + 1900;
    int64_t start = change_local(&tz->dst_start, year) - tz->std_offset;
    int64_t end = change_local(&tz->dst_end, year) - tz->dst_offset;
    bool dst = start < end ? utc_s >= start && utc_s < end /* northern: summer inside the year */
                           : utc_s >= start || utc_s < end;
    return dst ? tz->dst_offset : tz->std_offset;
}

static int tzif_parse(struct tz *tz, const unsigned char *buf, size_t len)
{
    if (len < 44 || memcmp(buf, "TZif", 4) != 0)
        return -1;
    struct tzif_counts c;
    tzif_counts(buf, &c);
    if (buf[4] == 0) /* version 1: 32-bit times only */
        return tzif_read_block(tz, buf + 44, len - 44, &c, 4);
    int64_t v1 = tzif_block_len(&c, 4);
    if (c.time < 0 || c.type < 0 || v1 < 0 || 44 + v1 + 44 > (int64_t)len)
        return -1;
    const unsigned char *h2 = buf + 44 + v1;
    if (memcmp(h2, "TZif", 4) != 0)
        return -1;
    tzif_counts(h2, &c);
    size_t at = (size_t)(h2 + 44 - buf);
    if (tzif_read_block(tz, h2 + 44, len - at, &c, 8) != 0)
        return -1;
    /* The footer: "\nRULE\n" after the block. */
    at += (size_t)tzif_block_len(&c, 8);
    if (at < len && buf[at] == '\n') {
        const unsigned char *end = memchr(buf + at + 1, '\n', len - at - 1);
        char rule[128];
        if (end && (size_t)(end - buf - at - 1) < sizeof rule) {
            memcpy(rule, buf + at + 1, (size_t)(end - buf - at - 1));
            rule[end - buf - at - 1] = '\0';
            posix_rule(tz, rule);
        }
    }
    return 0;
}

void tz_free(struct tz *tz)
{
    if (!tz)
        return;
    free(tz->at);
    free(tz->offset_after);
    free(tz);
}

struct tz *tz_load(const char *name, const char *dir, char *err, size_t errlen)
{
    if (!name || !tz_name_valid(name)) {
        err_set(err, errlen, "expected an IANA time zone name such as Europe/Berlin, got \"%.64s\"",
                name ? name : "");
        return NULL;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : TZ_DIR, name);
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(TZ_FILE_MAX);
    size_t len = f && buf ? fread(buf, 1, TZ_FILE_MAX, f) : 0;
    if (f)
        fclose(f);
    struct tz *tz = calloc(1, sizeof *tz);
    if (!f || !buf || !tz || tzif_parse(tz, buf, len) != 0) {
        free(buf);
        tz_free(tz);
        err_set(err, errlen,
                "unknown time zone \"%s\" (expected an IANA name such as Europe/Berlin)", name);
        return NULL;
    }
    free(buf);
    snprintf(tz->name, sizeof tz->name, "%s", name);
    return tz;
}

const char *tz_name(const struct tz *tz)
{
    return tz->name;
}

int32_t tz_offset(const struct tz *tz, int64_t utc_s)
{
    if (tz->has_rule && (tz->count == 0 || utc_s >= tz->at[tz->count - 1]))
        return rule_offset(tz, utc_s);
    if (tz->count == 0 || utc_s < tz->at[0])
        return tz->initial;
    size_t lo = 0, hi = tz->count; /* the last transition at or before utc_s is in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= utc_s)
            lo = mid;
        else
            hi = mid;
    }
    return tz->offset_after[lo];
}

int64_t tz_local_to_utc(const struct tz *tz, int64_t local_s)
{
    /* A clock change near local_s has the offset before it a day earlier and the one after it a
     * day later; whichever gives back local_s is right (the earlier instant when both do). */
    int32_t before = tz_offset(tz, local_s - 86400), after = tz_offset(tz, local_s + 86400);
    int64_t u1 = local_s - before, u2 = local_s - after;
    bool ok1 = tz_offset(tz, u1) == before, ok2 = tz_offset(tz, u2) == after;
    if (ok1 && ok2)
        return u1 < u2 ? u1 : u2;
    if (ok2)
        return u2;
    return u1; /* valid, or in a gap: as under the offset before the change */
}
