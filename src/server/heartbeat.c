/* heartbeat.c — parses and validates heartbeat bodies; see heartbeat.h.
 * This is the ingest hot path, so it tokenizes with jsmn (no allocation) instead of building a
 * jansson tree: measured 4.6 us per body with jansson, a third of the server's CPU per request
 * (docs/decisions.md). Only the members faultline knows are decoded; the others are skipped. */
#include "server/heartbeat.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STRICT
#define JSMN_STATIC
#include <jsmn.h>

#include "base/label.h"
#include "server/json_input.h"

#define GPUS_MAX 4096
#define TOKENS_MAX 512

/* One member being decoded: the body, its value token, and where errors go. */
struct member {
    const char *body;
    const jsmntok_t *value;
    const char *key;
    char *field;
    size_t fieldlen;
    char *err;
    size_t errlen;
};

static int bad(const struct member *m, const char *what)
{
    snprintf(m->field, m->fieldlen, "%s", m->key);
    snprintf(m->err, m->errlen, "%s: %s", m->key, what);
    return -1;
}

static bool is_null(const struct member *m)
{
    return m->value->type == JSMN_PRIMITIVE && m->body[m->value->start] == 'n';
}

/* Copies a string member of at most cap bytes into dst. Labels (name, site) must be 1-64
 * letters, digits or ._-:()@+; other strings printable ASCII. Escapes cannot occur in either. */
static int take_string(const struct member *m, char *dst, size_t cap, bool label)
{
    dst[0] = '\0';
    if (is_null(m))
        return 0;
    if (m->value->type != JSMN_STRING)
        return bad(m, "expected a string");
    const char *s = m->body + m->value->start;
    size_t n = (size_t)(m->value->end - m->value->start);
    char what[224], shown[176];
    if (n > cap) {
        snprintf(what, sizeof what, "expected at most %zu characters, got %zu", cap, n);
        return bad(m, what);
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    if (label && n > 0 && !label_valid(dst)) {
        json_input_printable(dst, n < 40 ? n : 40, shown, sizeof shown);
        snprintf(what, sizeof what, "expected letters, digits or ._-:()@+, got \"%s\"", shown);
        dst[0] = '\0';
        return bad(m, what);
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '\\') {
            dst[0] = '\0';
            return bad(m, "expected printable ASCII characters without escapes");
        }
    }
    return 0;
}

/* Parses a JSON number member; integer_only rejects fractions and exponents. */
static int take_number(const struct member *m, bool integer_only, double *out)
{
    const char *s = m->body + m->value->start;
    size_t n = (size_t)(m->value->end - m->value->start);
    if (m->value->type != JSMN_PRIMITIVE || n >= 32 || !(*s == '-' || isdigit((unsigned char)*s)))
        return -1;
    char buf[32], *end;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (integer_only && strpbrk(buf, ".eE"))
        return -1;
    *out = strtod(buf, &end);
    return *end == '\0' && isfinite(*out) ? 0 : -1;
}

static int take_gpus(const struct member *m, struct heartbeat *out)
{
    double v;
    if (is_null(m))
        return 0;
    if (take_number(m, true, &v) != 0 || v < 0 || v > GPUS_MAX)
        return bad(m, "expected a whole number from 0 to 4096");
    out->gpus = (int)v;
    return 0;
}

static int take_uptime(const struct member *m, struct heartbeat *out)
{
    double v;
    if (is_null(m))
        return 0;
    if (take_number(m, false, &v) != 0 || v < 0 || v > 1e11)
        return bad(m, "expected a number of seconds, 0 or more");
    out->uptime_s = (int64_t)v;
    return 0;
}

/* Index of the token after tok[i] and everything nested in it, never past count. */
static int skip_value(const jsmntok_t *tok, int i, int count)
{
    for (int pending = 1; pending > 0 && i < count; i++)
        pending += tok[i].size - 1;
    return i;
}

static bool key_is(const char *body, const jsmntok_t *key, const char *name)
{
    size_t n = strlen(name);
    return key->type == JSMN_STRING && (size_t)(key->end - key->start) == n &&
           memcmp(body + key->start, name, n) == 0;
}

static int take_bool(const struct member *m, bool *gpu_error)
{
    const char *s = m->body + m->value->start;
    size_t n = (size_t)(m->value->end - m->value->start);
    if (is_null(m))
        return 0;
    if (m->value->type == JSMN_PRIMITIVE && n == 4 && !memcmp(s, "true", 4))
        *gpu_error = true;
    else if (!(m->value->type == JSMN_PRIMITIVE && n == 5 && !memcmp(s, "false", 5)))
        return bad(m, "expected true or false");
    return 0;
}

static const char *const known_keys[] = {"name",      "version", "site",  "gpus",
                                         "uptime_s",  "gpu_error", "tags", "checks"};
#define KNOWN_KEYS (sizeof known_keys / sizeof known_keys[0])

static int take_member(struct member *m, int which, struct heartbeat *out, bool *gpu_error)
{
    switch (which) {
    case 0: return take_string(m, out->name, WORKER_NAME_MAX, true);
    case 1: return take_string(m, out->version, WORKER_VERSION_MAX, false);
    case 2: return take_string(m, out->site, WORKER_SITE_MAX, true);
    case 3: return take_gpus(m, out);
    case 4: return take_uptime(m, out);
    case 5: return take_bool(m, gpu_error);
    case 6: return take_string(m, out->tags, HEARTBEAT_TAGS_MAX, false);
    default: return take_bool(m, &out->checks);
    }
}

static bool primitive_valid(const char *body, const jsmntok_t *t)
{
    const char *s = body + t->start;
    size_t n = (size_t)(t->end - t->start);
    if ((n == 4 && !memcmp(s, "true", 4)) || (n == 5 && !memcmp(s, "false", 5)) ||
        (n == 4 && !memcmp(s, "null", 4)))
        return true;
    char buf[40], *end;
    if (n == 0 || n >= sizeof buf || !(*s == '-' || isdigit((unsigned char)*s)))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    strtod(buf, &end);
    return *end == '\0';
}

/* jsmn keeps no commas, so {"a":1,} looks like {"a":1}: look before the closing bracket. */
static bool trailing_comma(const char *body, const jsmntok_t *t)
{
    int i = t->end - 2;
    while (i > t->start && isspace((unsigned char)body[i]))
        i--;
    return i > t->start && body[i] == ',';
}

/* jsmn's strict mode still accepts {"key"} and bad literals such as tru: checks the tree below
 * tok[i] and returns the index after it, or -1. */
static int validate_value(const char *body, const jsmntok_t *tok, int i, int count, int depth)
{
    if (i >= count || depth > 64)
        return -1;
    const jsmntok_t *t = &tok[i++];
    if (t->type == JSMN_PRIMITIVE)
        return primitive_valid(body, t) ? i : -1;
    if (t->type == JSMN_STRING)
        return i;
    if (trailing_comma(body, t))
        return -1;
    for (int k = 0; k < t->size && i >= 0; k++) {
        if (t->type == JSMN_OBJECT) {
            if (i >= count || tok[i].type != JSMN_STRING || tok[i].size != 1)
                return -1;
            i++;
        }
        i = validate_value(body, tok, i, count, depth + 1);
    }
    return i;
}

static int whole_body_error(char *field, char *err, size_t errlen, const char *what)
{
    field[0] = '\0';
    snprintf(err, errlen, "body: %s", what);
    return -1;
}

static int tokenize(const char *body, size_t len, jsmntok_t *tok, int *count, char *field,
                    char *err, size_t errlen)
{
    jsmn_parser parser;
    jsmn_init(&parser);
    int r = jsmn_parse(&parser, body, len, tok, TOKENS_MAX);
    if (r == JSMN_ERROR_NOMEM)
        return whole_body_error(field, err, errlen, "expected a JSON object, got too many values");
    if (r < 0 || r == 0)
        return whole_body_error(field, err, errlen,
                                r == JSMN_ERROR_INVAL
                                    ? "expected a JSON object, got invalid JSON (bad character)"
                                    : "expected a JSON object, got invalid JSON (incomplete)");
    if (tok[0].type != JSMN_OBJECT || validate_value(body, tok, 0, r, 0) != r)
        return whole_body_error(field, err, errlen,
                                "expected a JSON object, got invalid JSON (bad structure or "
                                "literal)");
    for (size_t i = (size_t)tok[0].end; i < len; i++)
        if (!isspace((unsigned char)body[i]))
            return whole_body_error(field, err, errlen, "expected a JSON object");
    *count = r;
    return 0;
}

/* Refuses bytes that are not UTF-8 anywhere in the body, unknown members included, naming the
 * member that holds the first of them (or the body when it is outside any member). */
static int check_utf8(const char *body, size_t len, char *field, size_t fieldlen, char *err,
                      size_t errlen)
{
    size_t bad = json_input_utf8_error(body, len);
    if (bad == len)
        return 0;
    json_input_path_at(body, len, bad, field, fieldlen);
    snprintf(err, errlen, "%s: expected UTF-8 text, got the byte 0x%02X at offset %zu",
             field[0] ? field : "body", (unsigned char)body[bad], bad);
    return -1;
}

int heartbeat_parse(const char *body, size_t len, struct heartbeat *out, char *field,
                    size_t fieldlen, char *err, size_t errlen)
{
    jsmntok_t tok[TOKENS_MAX];
    int count;
    field[0] = '\0';
    memset(out, 0, sizeof *out);
    if (tokenize(body, len, tok, &count, field, err, errlen) != 0 ||
        check_utf8(body, len, field, fieldlen, err, errlen) != 0)
        return -1;
    bool seen[KNOWN_KEYS] = {false};
    bool gpu_error = false;
    struct member m = {
        .body = body, .field = field, .fieldlen = fieldlen, .err = err, .errlen = errlen};
    for (int i = 1; i < count; i = skip_value(tok, i + 1, count)) {
        for (size_t k = 0; k < KNOWN_KEYS; k++) {
            if (!key_is(body, &tok[i], known_keys[k]))
                continue;
            if (seen[k]) {
                snprintf(err, errlen, "body: duplicate member \"%s\"", known_keys[k]);
                return -1;
            }
            seen[k] = true;
            m.key = known_keys[k];
            m.value = &tok[i + 1];
            if (take_member(&m, (int)k, out, &gpu_error) != 0)
                return -1;
        }
    }
    if (!out->name[0]) {
        snprintf(field, fieldlen, "name");
        snprintf(err, errlen, seen[0] ? "name: expected " LABEL_RULE ", got \"\""
                                      : "name: required");
        return -1;
    }
    if (gpu_error)
        out->gpus = WORKER_GPUS_FAILED;
    return 0;
}
