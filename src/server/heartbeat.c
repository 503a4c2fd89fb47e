/* heartbeat.c — parses and validates heartbeat bodies with jansson; see heartbeat.h. */
#include "server/heartbeat.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define GPUS_MAX 4096

bool heartbeat_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > WORKER_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._-:()@+", *p))
            return false;
    return true;
}

static int bad(const char **field, const char *name, char *err, size_t errlen, const char *what)
{
    *field = name;
    snprintf(err, errlen, "%s: %s", name, what);
    return -1;
}

/* Copies an optional string member into dst (size cap+1); "" when absent or null. */
static int take_string(json_t *obj, const char *key, char *dst, size_t cap, bool label,
                       const char **field, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    dst[0] = '\0';
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return bad(field, key, err, errlen, "expected a string");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    char what[96];
    if (n > cap || strlen(s) != n) {
        snprintf(what, sizeof what, "expected at most %zu characters, got %zu", cap, n);
        return bad(field, key, err, errlen, what);
    }
    if (label && n > 0 && !heartbeat_name_valid(s)) {
        snprintf(what, sizeof what, "expected letters, digits or ._-:()@+, got \"%.40s\"", s);
        return bad(field, key, err, errlen, what);
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            return bad(field, key, err, errlen, "control characters are not allowed");
    memcpy(dst, s, n + 1);
    return 0;
}

static int take_gpus(json_t *obj, struct heartbeat *out, const char **field, char *err,
                     size_t errlen)
{
    json_t *v = json_object_get(obj, "gpus");
    out->gpus = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > GPUS_MAX)
        return bad(field, "gpus", err, errlen, "expected a whole number from 0 to 4096");
    out->gpus = (int)json_integer_value(v);
    return 0;
}

static int take_uptime(json_t *obj, struct heartbeat *out, const char **field, char *err,
                       size_t errlen)
{
    json_t *v = json_object_get(obj, "uptime_s");
    out->uptime_s = 0;
    if (!v || json_is_null(v))
        return 0;
    double d = json_is_number(v) ? json_number_value(v) : -1;
    if (!isfinite(d) || d < 0 || d > 1e11)
        return bad(field, "uptime_s", err, errlen, "expected a number of seconds, 0 or more");
    out->uptime_s = (int64_t)d;
    return 0;
}

int heartbeat_parse(const char *body, size_t len, struct heartbeat *out, const char **field,
                    char *err, size_t errlen)
{
    *field = NULL;
    json_error_t jerr;
    json_t *obj = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj) {
        snprintf(err, errlen, "body: expected a JSON object, got invalid JSON (%s at line %d)",
                 jerr.text, jerr.line);
        return -1;
    }
    int rc = -1;
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "body: expected a JSON object");
        goto out;
    }
    json_t *name = json_object_get(obj, "name");
    if (!name || json_is_null(name)) {
        bad(field, "name", err, errlen, "required");
        goto out;
    }
    if (take_string(obj, "name", out->name, WORKER_NAME_MAX, true, field, err, errlen) ||
        take_string(obj, "version", out->version, WORKER_VERSION_MAX, false, field, err,
                    errlen) ||
        take_string(obj, "site", out->site, WORKER_SITE_MAX, true, field, err, errlen) ||
        take_gpus(obj, out, field, err, errlen) || take_uptime(obj, out, field, err, errlen))
        goto out;
    if (!out->name[0]) {
        bad(field, "name", err, errlen, "expected 1-64 letters, digits or ._-:()@+, got \"\"");
        goto out;
    }
    rc = 0;
out:
    json_decref(obj);
    return rc;
}
