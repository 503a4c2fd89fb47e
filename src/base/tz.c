/* tz.c — a reader of TZif files (RFC 8536), versions 1 to 4: the 64-bit part when there is one,
 * the transitions and their offsets; the footer's rule is not read (tz.h). */
#include "base/tz.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

#define TZ_FILE_MAX (256 * 1024)

struct tz {
    char name[TZ_NAME_MAX + 1];
    size_t count;         /* transitions */
    int64_t *at;          /* count instants, ascending */
    int32_t *offset_after; /* count offsets in force from at[i] */
    int32_t initial;      /* before the first transition */
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
    return tzif_read_block(tz, h2 + 44, len - (size_t)(h2 + 44 - buf), &c, 8);
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
