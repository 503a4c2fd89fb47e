/* json_input.c — UTF-8 validation and member paths for JSON from outside; see json_input.h.
 * The paths come from a jsmn tokenization of the body (no allocation per value), done only on
 * the error path. */
#include "server/json_input.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STATIC
#include <jsmn.h>

#define PATH_DEPTH_MAX 64

/* Length of the UTF-8 sequence at s (at most len bytes), or 0 when it is not well-formed. */
static size_t utf8_sequence(const unsigned char *s, size_t len)
{
    if (s[0] < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf; /* the allowed range of the second byte */
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        lo = s[0] == 0xe0 ? 0xa0 : 0x80; /* no overlong forms */
        hi = s[0] == 0xed ? 0x9f : 0xbf; /* no surrogates */
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        lo = s[0] == 0xf0 ? 0x90 : 0x80;
        hi = s[0] == 0xf4 ? 0x8f : 0xbf; /* nothing above U+10FFFF */
    } else
        return 0;
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

size_t json_input_utf8_error(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_sequence(s + i, len - i);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

void json_input_printable(const char *text, size_t len, char *dst, size_t cap)
{
    size_t out = 0;
    for (size_t i = 0; i < len && out + 5 < cap; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x20 && c < 0x7f)
            dst[out++] = (char)c;
        else
            out += (size_t)snprintf(dst + out, cap - out, "\\x%02X", c);
    }
    if (cap > 0)
        dst[out < cap ? out : cap - 1] = '\0';
}

/* A path being built: the text so far and its length. */
struct path {
    char *text;
    size_t len, cap;
};

static void path_append(struct path *p, const char *piece, size_t n)
{
    if (p->len + n >= p->cap)
        n = p->len + 1 < p->cap ? p->cap - p->len - 1 : 0;
    memcpy(p->text + p->len, piece, n);
    p->len += n;
    p->text[p->len] = '\0';
}

/* Whether pos lies within token t, counting a string's quotes. */
static bool token_holds(const jsmntok_t *t, size_t pos)
{
    int quote = t->type == JSMN_STRING ? 1 : 0;
    return (long)pos >= t->start - quote && (long)pos < t->end + quote;
}

/* Index of the token after tok[i] and everything nested in it, never past count. */
static int skip_value(const jsmntok_t *tok, int i, int count)
{
    for (int pending = 1; pending > 0 && i < count; i++)
        pending += tok[i].size - 1;
    return i;
}

/* Extends p with the members of tok[i] (an object or array) that hold pos, down to the
 * innermost. */
static void path_descend(const char *body, const jsmntok_t *tok, int i, int count, size_t pos,
                         struct path *p, int depth)
{
    const jsmntok_t *t = &tok[i++];
    if (depth > PATH_DEPTH_MAX || (t->type != JSMN_OBJECT && t->type != JSMN_ARRAY))
        return;
    for (int k = 0; k < t->size && i < count; k++) {
        int key = -1;
        if (t->type == JSMN_OBJECT) {
            key = i++;
            if (i >= count)
                return;
        }
        int next = skip_value(tok, i, count);
        bool in_key = key >= 0 && token_holds(&tok[key], pos);
        if (in_key || token_holds(&tok[i], pos) ||
            (key >= 0 && (long)pos > tok[key].end && (long)pos < tok[i].start)) {
            char piece[160];
            if (key >= 0) {
                if (p->len > 0)
                    path_append(p, ".", 1);
                json_input_printable(body + tok[key].start, (size_t)(tok[key].end - tok[key].start),
                                     piece, sizeof piece);
            } else
                snprintf(piece, sizeof piece, "[%d]", k);
            path_append(p, piece, strlen(piece));
            if (!in_key)
                path_descend(body, tok, i, count, pos, p, depth + 1);
            return;
        }
        i = next;
    }
}

void json_input_path_at(const char *body, size_t len, size_t pos, char *path, size_t cap)
{
    struct path p = {.text = path, .cap = cap};
    if (cap == 0)
        return;
    path[0] = '\0';
    jsmn_parser parser;
    jsmn_init(&parser);
    int count = jsmn_parse(&parser, body, len, NULL, 0);
    jsmntok_t *tok = count > 0 ? calloc((size_t)count, sizeof *tok) : NULL;
    if (!tok)
        return;
    jsmn_init(&parser);
    if (jsmn_parse(&parser, body, len, tok, (unsigned)count) == count)
        path_descend(body, tok, 0, count, pos, &p, 0);
    free(tok);
}
