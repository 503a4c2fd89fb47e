/* options.c — reading a check's definition (JSON) into a probe type's options: the target, host
 * and port, and typed optional members, each failure naming the member and what was expected.
 * See probe_internal.h. */
#include "probe/probe_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A short quoted form of a JSON value for error messages. */
static void value_text(const json_t *v, char *buf, size_t len)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(buf, len, "%.60s", text ? text : "?");
    free(text);
}

static int wrong_type(const json_t *v, const char *name, const char *expected, const char **field,
                      char *err, size_t errlen)
{
    char got[64];
    value_text(v, got, sizeof got);
    *field = name;
    snprintf(err, errlen, "expected %s, got %s", expected, got);
    return -1;
}

const char *probe_opt_target(const json_t *def, const char **field, char *err, size_t errlen)
{
    const json_t *v = json_object_get(def, "target");
    *field = "target";
    if (!v) {
        snprintf(err, errlen, "missing (every check needs a target)");
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
        wrong_type(v, "target", "a non-empty string", field, err, errlen);
        return NULL;
    }
    return json_string_value(v);
}

int probe_opt_host_port(const char *text, char *host, size_t hostlen, int *port, char *err,
                        size_t errlen)
{
    const char *colon;
    const char *h = text;
    size_t hlen;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':') {
            snprintf(err, errlen, "\"%.80s\" is not [address]:port", text);
            return -1;
        }
        h = text + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon || strchr(text, ':') != colon) {
            snprintf(err, errlen, "\"%.80s\" is not host:port (expected e.g. db.example:5432)",
                     text);
            return -1;
        }
        hlen = (size_t)(colon - text);
    }
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (hlen == 0 || hlen >= hostlen || !colon[1] || *end || errno || p < 1 || p > 65535) {
        snprintf(err, errlen, "\"%.80s\" is not host:port (expected a host and a port 1-65535)",
                 text);
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return 0;
}

int probe_opt_string(const json_t *def, const char *name, const char **out, const char **field,
                     char *err, size_t errlen)
{
    const json_t *v = json_object_get(def, name);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return wrong_type(v, name, "a string", field, err, errlen);
    *out = json_string_value(v);
    return 1;
}

int probe_opt_bool(const json_t *def, const char *name, bool *out, const char **field, char *err,
                   size_t errlen)
{
    const json_t *v = json_object_get(def, name);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return wrong_type(v, name, "true or false", field, err, errlen);
    *out = json_is_true(v);
    return 1;
}

int probe_opt_int(const json_t *def, const char *name, long lo, long hi, long *out,
                  const char **field, char *err, size_t errlen)
{
    const json_t *v = json_object_get(def, name);
    if (!v || json_is_null(v))
        return 0;
    char expected[64];
    snprintf(expected, sizeof expected, "an integer %ld..%ld", lo, hi);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return wrong_type(v, name, expected, field, err, errlen);
    *out = (long)json_integer_value(v);
    return 1;
}

char *probe_strdup(const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *copy = strdup(s);
    if (!copy)
        *ok = false;
    return copy;
}
