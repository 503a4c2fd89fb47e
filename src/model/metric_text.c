/* metric_text.c — the Prometheus text reader (metric_text.h): one line at a time into a scratch
 * buffer, with two hash sets for the text being read: the metrics named by TYPE and HELP lines
 * (or by their samples), and the series seen, to refuse one given twice. */
#include "model/metric_text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define QUOTE_MAX 64 /* bytes of outside text quoted in an error */
#define NAME_RULE "[a-zA-Z_:][a-zA-Z0-9_:]*"
#define LABEL_RULE "[a-zA-Z_][a-zA-Z0-9_]* not starting with \"__\""

/* A metric named by a TYPE or HELP line, or by a sample without them. */
struct family {
    char *name;       /* in the reader's names */
    size_t len;       /* of name */
    const char *type; /* static; NULL until TYPE (or the first sample) */
    char *help;
    bool typed, helped, sampled;
};

/* Room for the families' names: chunks that never move, so a name's pointer stays valid. */
struct name_chunk {
    struct name_chunk *next;
    size_t used, cap;
    char text[];
};

/* A series seen: the hash of its key and where the key lies in the arena. */
struct series_slot {
    uint64_t hash;
    uint32_t offset, len; /* in the arena, which stays under 4 GiB (series_add) */
    uint32_t line;        /* 0: the slot is free */
};

struct reader {
    struct family *families; /* open addressing, fam_cap a power of two */
    struct family *last;     /* the last sample's (NULL after a TYPE or HELP line, or a grow) */
    size_t fam_count, fam_cap;
    struct series_slot *series;
    size_t series_count, series_cap;
    struct name_chunk *names; /* the families' names, never moved */
    char *arena;              /* series keys */
    size_t arena_len, arena_cap;
    char *scratch; /* the current line's names and unescaped values, NUL-terminated */
    size_t scratch_len, scratch_cap;
    bool scratch_is_key; /* the scratch buffer is the series key (labels sorted, none dropped) */
    struct metric_label *labels;
    size_t nlabels, labels_cap;
    size_t line;
    char err[512];
};

/* ---- small helpers ---- */

/* A hash of s[0..len), eight bytes at a time (a multiply and a shift per word). */
static uint64_t text_hash(const char *s, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ len, w;
    for (; len >= 8; s += 8, len -= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
    }
    w = 0;
    for (size_t i = 0; i < len; i++) /* the last 0 to 7 bytes (a call to memcpy costs more) */
        w |= (uint64_t)(unsigned char)s[i] << (8 * i);
    h = (h ^ w) * 0x94d049bb133111ebULL;
    return h ^ (h >> 29);
}

/* text as printable ASCII in quotes-safe form, at most QUOTE_MAX bytes of it. */
static const char *shown(const char *text, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len && i < QUOTE_MAX && o + 5 < outlen; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
    }
    if (len > QUOTE_MAX && o + 4 < outlen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

static int refuse(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(struct reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    return 1;
}

/* What each byte may be in a name: NAME_START (a letter or '_'), NAME_DIGIT, NAME_COLON. */
enum { NAME_START = 1, NAME_DIGIT = 2, NAME_COLON = 4 };
static const unsigned char NAME_CLASS[256] = {
    ['0' ... '9'] = NAME_DIGIT, ['a' ... 'z'] = NAME_START, ['A' ... 'Z'] = NAME_START,
    ['_'] = NAME_START,         [':'] = NAME_COLON,
};

/* Length of the name at s (metric names allow ':'), 0 when s does not start one. */
static size_t name_len(const char *s, const char *end, bool colon)
{
    unsigned first = NAME_START | (colon ? NAME_COLON : 0), rest = first | NAME_DIGIT;
    if (s >= end || !(NAME_CLASS[(unsigned char)*s] & first))
        return 0;
    size_t n = 1;
    while (s + n < end && (NAME_CLASS[(unsigned char)s[n]] & rest))
        n++;
    return n;
}

static const char *skip_blanks(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    return s;
}

/* The end of the token at s (up to a blank or the end). */
static const char *token_end(const char *s, const char *end)
{
    while (s < end && *s != ' ' && *s != '\t')
        s++;
    return s;
}

/* Whether s[0..len) is well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF). */
static bool utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    for (uint64_t w; i + 8 <= len; i += 8) { /* ASCII, eight bytes at a time */
        memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ULL)
            break;
    }
    while (i < len) {
        unsigned char c = s[i];
        size_t n = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        if (n == 0 || i + n > len || (n == 2 && c < 0xc2) || (n == 4 && c > 0xf4))
            return false;
        for (size_t k = 1; k < n; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        if ((n == 3 && c == 0xe0 && s[i + 1] < 0xa0) || (n == 3 && c == 0xed && s[i + 1] > 0x9f) ||
            (n == 4 && c == 0xf0 && s[i + 1] < 0x90) || (n == 4 && c == 0xf4 && s[i + 1] > 0x8f))
            return false;
        i += n;
    }
    return true;
}

/* Copies len bytes into the scratch buffer as a C string; the buffer was sized for the line. */
static char *scratch_put(struct reader *r, const char *s, size_t len)
{
    char *p = r->scratch + r->scratch_len;
    memcpy(p, s, len);
    p[len] = '\0';
    r->scratch_len += len + 1;
    return p;
}

/* ---- the metrics of the text (TYPE, HELP) ---- */

static int families_grow(struct reader *r)
{
    size_t cap = r->fam_cap ? r->fam_cap * 2 : 64;
    struct family *f = calloc(cap, sizeof *f);
    if (!f)
        return -1;
    for (size_t i = 0; i < r->fam_cap; i++) {
        if (!r->families[i].name)
            continue;
        size_t j = text_hash(r->families[i].name, r->families[i].len) & (cap - 1);
        while (f[j].name)
            j = (j + 1) & (cap - 1);
        f[j] = r->families[i];
    }
    free(r->families);
    r->families = f;
    r->fam_cap = cap;
    r->last = NULL;
    return 0;
}

/* A NUL-terminated copy of name[0..len) among the reader's names; NULL when out of memory. */
static char *name_copy(struct reader *r, const char *name, size_t len)
{
    struct name_chunk *c = r->names;
    if (!c || c->used + len + 1 > c->cap) {
        size_t cap = len + 1 > 4096 ? len + 1 : 4096;
        if (!(c = malloc(sizeof *c + cap)))
            return NULL;
        *c = (struct name_chunk){.next = r->names, .cap = cap};
        r->names = c;
    }
    char *copy = memcpy(c->text + c->used, name, len);
    copy[len] = '\0';
    c->used += len + 1;
    return copy;
}

/* The metric called name, added when create is set; NULL when absent (or out of memory, when
 * *oom is set). */
static struct family *family_find(struct reader *r, const char *name, size_t len, bool create,
                                  bool *oom)
{
    uint64_t h = text_hash(name, len);
    if (r->fam_cap) {
        size_t j = h & (r->fam_cap - 1);
        for (; r->families[j].name; j = (j + 1) & (r->fam_cap - 1))
            if (r->families[j].len == len && !memcmp(r->families[j].name, name, len))
                return &r->families[j];
    }
    if (!create)
        return NULL;
    if ((r->fam_count + 1) * 2 > r->fam_cap && families_grow(r) != 0) {
        *oom = true;
        return NULL;
    }
    char *copy = name_copy(r, name, len);
    if (!copy) {
        *oom = true;
        return NULL;
    }
    size_t j = h & (r->fam_cap - 1);
    while (r->families[j].name)
        j = (j + 1) & (r->fam_cap - 1);
    r->families[j] = (struct family){.name = copy, .len = len};
    r->fam_count++;
    return &r->families[j];
}

static const char *const TYPES[] = {"counter", "gauge", "histogram", "summary", "untyped"};

/* "# HELP name text" or "# TYPE name type" (s after "# HELP " / "# TYPE "). Returns 0, 1 when
 * refused, -1 when out of memory. */
static int read_descriptor(struct reader *r, bool is_type, const char *s, const char *end)
{
    const char *what = is_type ? "TYPE" : "HELP";
    r->last = NULL;
    char q[QUOTE_MAX * 4 + 8];
    s = skip_blanks(s, end);
    size_t n = name_len(s, end, true);
    if (n == 0 || (s + n < end && s[n] != ' ' && s[n] != '\t'))
        return refuse(r, "%s line: metric name \"%s\": expected " NAME_RULE, what,
                      shown(s, (size_t)(token_end(s, end) - s), q, sizeof q));
    bool oom = false;
    struct family *f = family_find(r, s, n, true, &oom);
    if (!f)
        return -1;
    const char *rest = skip_blanks(s + n, end);
    if (is_type) {
        if (f->typed)
            return refuse(r, "TYPE of metric \"%s\" given twice", f->name);
        if (f->sampled)
            return refuse(r,
                          "TYPE of metric \"%s\" after its samples: expected it before the "
                          "first one",
                          f->name);
        size_t tlen = (size_t)(end - rest);
        while (tlen && (rest[tlen - 1] == ' ' || rest[tlen - 1] == '\t'))
            tlen--;
        for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
            if (strlen(TYPES[i]) == tlen && !memcmp(TYPES[i], rest, tlen)) {
                f->type = TYPES[i];
                f->typed = true;
                r->last = f; /* its samples most often follow */
                return 0;
            }
        return refuse(r,
                      "TYPE of metric \"%s\": expected counter, gauge, histogram, summary or "
                      "untyped, got \"%s\"",
                      f->name, shown(rest, tlen, q, sizeof q));
    }
    if (f->helped)
        return refuse(r, "HELP of metric \"%s\" given twice", f->name);
    char *help = malloc((size_t)(end - rest) + 1), *o = help;
    if (!help)
        return -1;
    for (const char *p = rest; p < end; p++) {
        if (*p != '\\' || p + 1 == end) {
            *o++ = *p;
        } else if (p[1] == '\\' || p[1] == 'n') {
            *o++ = p[1] == 'n' ? '\n' : '\\';
            p++;
        } else {
            free(help);
            return refuse(r, "HELP of metric \"%s\": bad escape \"\\%s\"; expected \\\\ or \\n",
                          f->name, shown(p + 1, 1, q, sizeof q));
        }
    }
    *o = '\0';
    if (!utf8_valid((const unsigned char *)help, (size_t)(o - help))) {
        free(help);
        return refuse(r, "HELP of metric \"%s\": expected UTF-8 text", f->name);
    }
    f->help = help;
    f->helped = true;
    return 0;
}

/* The metric a sample called name belongs to: its own TYPE, or that of the histogram or
 * summary whose _bucket, _sum or _count it is; created untyped when neither exists. */
static struct family *family_of(struct reader *r, const char *name, bool *oom)
{
    static const struct {
        const char *suffix;
        bool histogram, summary;
    } parts[] = {{"_bucket", true, false}, {"_sum", true, true}, {"_count", true, true}};
    size_t len = strlen(name);
    /* Samples of one metric come together: the last one's answer is most often right. */
    if (r->last && r->last->len == len && !memcmp(r->last->name, name, len))
        return r->last;
    struct family *own = family_find(r, name, len, false, oom);
    if (own && own->typed)
        return own;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        size_t sl = strlen(parts[i].suffix);
        if (len <= sl || strcmp(name + len - sl, parts[i].suffix) != 0)
            continue;
        struct family *base = family_find(r, name, len - sl, false, oom);
        if (base && base->type &&
            ((parts[i].histogram && !strcmp(base->type, "histogram")) ||
             (parts[i].summary && !strcmp(base->type, "summary"))))
            return base;
    }
    return own ? own : family_find(r, name, len, true, oom);
}

/* ---- the series seen ---- */

static int series_grow(struct reader *r)
{
    size_t cap = r->series_cap ? r->series_cap * 2 : 128;
    struct series_slot *t = calloc(cap, sizeof *t);
    if (!t)
        return -1;
    for (size_t i = 0; i < r->series_cap; i++) {
        if (!r->series[i].line)
            continue;
        size_t j = r->series[i].hash & (cap - 1);
        while (t[j].line)
            j = (j + 1) & (cap - 1);
        t[j] = r->series[i];
    }
    free(r->series);
    r->series = t;
    r->series_cap = cap;
    return 0;
}

/* Records the series (name and labels); returns 0 when new, the line that gave it first when
 * seen, -1 when out of memory. */
static long long series_add(struct reader *r, const char *name)
{
    /* The scratch buffer holds the name, then each label's name and value, NUL-terminated: the
     * key itself when the labels came sorted, none dropped. */
    size_t need = r->scratch_is_key ? r->scratch_len : strlen(name) + 1;
    for (size_t i = 0; !r->scratch_is_key && i < r->nlabels; i++)
        need += strlen(r->labels[i].name) + strlen(r->labels[i].value) + 2;
    if (r->arena_len + need > UINT32_MAX || r->line > UINT32_MAX) /* not for texts of GBs */
        return -1;
    if (r->arena_len + need > r->arena_cap) {
        size_t cap = r->arena_cap ? r->arena_cap : 4096;
        while (cap < r->arena_len + need)
            cap *= 2;
        char *a = realloc(r->arena, cap);
        if (!a)
            return -1;
        r->arena = a;
        r->arena_cap = cap;
    }
    char *key = r->arena + r->arena_len, *o = key;
    if (r->scratch_is_key) {
        o = (char *)memcpy(o, r->scratch, need) + need;
    } else {
        o = stpcpy(o, name) + 1;
        for (size_t i = 0; i < r->nlabels; i++) {
            o = stpcpy(o, r->labels[i].name) + 1;
            o = stpcpy(o, r->labels[i].value) + 1;
        }
    }
    size_t klen = (size_t)(o - key);
    uint64_t h = text_hash(key, klen);
    if ((r->series_count + 1) * 2 > r->series_cap && series_grow(r) != 0)
        return -1;
    size_t j = h & (r->series_cap - 1);
    for (; r->series[j].line; j = (j + 1) & (r->series_cap - 1))
        if (r->series[j].hash == h && r->series[j].len == klen &&
            !memcmp(r->arena + r->series[j].offset, key, klen))
            return (long long)r->series[j].line;
    r->series[j] =
        (struct series_slot){h, (uint32_t)r->arena_len, (uint32_t)klen, (uint32_t)r->line};
    r->series_count++;
    r->arena_len += klen;
    return 0;
}

/* ---- samples ---- */

/* A label value in double quotes at *s, unescaped into the scratch buffer. Returns 0 and moves
 * *s past the closing quote, or 1 when refused. */
static int read_label_value(struct reader *r, const char **s, const char *end, const char *metric,
                            const char *label, char **out)
{
    char q[QUOTE_MAX * 4 + 8];
    const char *p = *s;
    if (p >= end || *p != '"')
        return refuse(r,
                      "value of label \"%s\" of metric \"%s\": expected a string in double "
                      "quotes",
                      label, metric);
    char *o = r->scratch + r->scratch_len, *start = o;
    p++;
    const char *quote = memchr(p, '"', (size_t)(end - p));
    if (quote && !memchr(p, '\\', (size_t)(quote - p))) { /* no escapes: the usual case */
        memcpy(o, p, (size_t)(quote - p));
        o += quote - p;
        p = quote;
    }
    for (; p < end && *p != '"'; p++) {
        if (*p != '\\') {
            *o++ = *p;
            continue;
        }
        if (p + 1 == end || (p[1] != '\\' && p[1] != '"' && p[1] != 'n'))
            return refuse(r,
                          "value of label \"%s\" of metric \"%s\": bad escape \"\\%s\"; "
                          "expected \\\\, \\\" or \\n",
                          label, metric, shown(p + 1, p + 1 < end ? 1 : 0, q, sizeof q));
        p++;
        *o++ = *p == 'n' ? '\n' : *p;
    }
    if (p >= end)
        return refuse(r, "value of label \"%s\" of metric \"%s\": no closing quote", label, metric);
    if (!utf8_valid((const unsigned char *)start, (size_t)(o - start)))
        return refuse(r, "value of label \"%s\" of metric \"%s\": expected UTF-8 text", label,
                      metric);
    *o = '\0';
    r->scratch_len += (size_t)(o - start) + 1;
    *out = start;
    *s = p + 1;
    return 0;
}

static int labels_push(struct reader *r, char *name, char *value)
{
    if (r->nlabels == r->labels_cap) {
        size_t cap = r->labels_cap ? r->labels_cap * 2 : 16;
        struct metric_label *l = realloc(r->labels, cap * sizeof *l);
        if (!l)
            return -1;
        r->labels = l;
        r->labels_cap = cap;
    }
    r->labels[r->nlabels++] = (struct metric_label){name, value};
    return 0;
}

/* Sorts the labels by name (an insertion sort: a sample has few). */
static void labels_sort(struct metric_label *l, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct metric_label x = l[i];
        size_t j = i;
        for (; j > 0 && strcmp(l[j - 1].name, x.name) > 0; j--)
            l[j] = l[j - 1];
        l[j] = x;
    }
}

/* "{a="x",b="y"}" at *s (after the '{'). Returns 0 with *s past the '}', 1 when refused, -1 when
 * out of memory. */
static int read_labels(struct reader *r, const char **s, const char *end, const char *metric)
{
    char q[QUOTE_MAX * 4 + 8];
    const char *p = skip_blanks(*s, end);
    while (p < end && *p != '}') {
        size_t n = name_len(p, end, false);
        const char *after = n ? skip_blanks(p + n, end) : p;
        if (n == 0 || (n >= 2 && p[0] == '_' && p[1] == '_') || after >= end || *after != '=') {
            const char *e = p;
            while (e < end && *e != '=' && *e != ',' && *e != '}' && *e != ' ')
                e++;
            return refuse(r, "label name \"%s\" of metric \"%s\": expected " LABEL_RULE,
                          shown(p, (size_t)(e - p), q, sizeof q), metric);
        }
        char *name = scratch_put(r, p, n);
        for (size_t i = 0; i < r->nlabels; i++)
            if (r->labels[i].name[0] == name[0] && !strcmp(r->labels[i].name, name))
                return refuse(r, "label \"%s\" of metric \"%s\" given twice", name, metric);
        p = skip_blanks(after + 1, end);
        char *value = NULL;
        int rc = read_label_value(r, &p, end, metric, name, &value);
        if (rc != 0)
            return rc;
        if (labels_push(r, name, value) != 0)
            return -1;
        p = skip_blanks(p, end);
        if (p < end && *p == ',')
            p = skip_blanks(p + 1, end);
        else if (p < end && *p != '}')
            return refuse(r,
                          "labels of metric \"%s\": expected \",\" or \"}\" after the value "
                          "of \"%s\", got \"%s\"",
                          metric, name, shown(p, 1, q, sizeof q));
    }
    if (p >= end)
        return refuse(r, "labels of metric \"%s\": no closing \"}\"", metric);
    size_t kept = 0; /* an empty value is no label, as in Prometheus */
    bool sorted = true;
    for (size_t i = 0; i < r->nlabels; i++)
        if (r->labels[i].value[0]) {
            sorted =
                sorted && (kept == 0 || strcmp(r->labels[kept - 1].name, r->labels[i].name) < 0);
            r->labels[kept++] = r->labels[i];
        }
    r->scratch_is_key = sorted && kept == r->nlabels;
    r->nlabels = kept;
    if (!sorted)
        labels_sort(r->labels, r->nlabels);
    *s = p + 1;
    return 0;
}

/* The value of a checked decimal without an exponent whose digits, at most 15, make an integer
 * below 2^53 and whose fraction has at most 22 digits: that integer and the power of ten are
 * exact doubles, so one division rounds correctly (as strtod would). Returns whether it was one
 * (most values: counters, bytes, percentages). */
static bool exact_decimal(const char *s, size_t len, double *out)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = len && (*s == '+' || *s == '-');
    uint64_t mantissa = 0;
    int digits = 0, fraction = -1;
    for (; i < len; i++) {
        if (s[i] == '.') {
            fraction = 0;
            continue;
        }
        if (s[i] < '0' || s[i] > '9' || ++digits > 15)
            return false;
        mantissa = mantissa * 10 + (uint64_t)(s[i] - '0');
        fraction += fraction >= 0;
    }
    if (fraction > 22)
        return false;
    double v = fraction > 0 ? (double)mantissa / pow10[fraction] : (double)mantissa;
    *out = *s == '-' ? -v : v;
    return true;
}

/* A float as Go's ParseFloat reads one in decimal, or NaN/Inf with an optional sign. */
static int read_value(struct reader *r, const char *s, size_t len, const char *metric, double *out)
{
    char q[QUOTE_MAX * 4 + 8], buf[128];
    const char *t = s + (len && (*s == '+' || *s == '-'));
    size_t tl = len - (size_t)(t - s);
    bool special = (tl == 3 && (!strncasecmp(t, "inf", 3) || !strncasecmp(t, "nan", 3))) ||
                   (tl == 8 && !strncasecmp(t, "infinity", 8));
    bool ok = len > 0 && len < sizeof buf;
    if (ok && !special) {
        size_t i = 0, digits = 0;
        while (i < tl && t[i] >= '0' && t[i] <= '9')
            i++, digits++;
        if (i < tl && t[i] == '.')
            for (i++; i < tl && t[i] >= '0' && t[i] <= '9'; i++)
                digits++;
        if (digits && i < tl && (t[i] == 'e' || t[i] == 'E')) {
            i++;
            i += i < tl && (t[i] == '+' || t[i] == '-');
            size_t exp = i;
            while (i < tl && t[i] >= '0' && t[i] <= '9')
                i++;
            ok = i > exp;
        }
        ok = ok && digits && i == tl;
    }
    if (!ok)
        return refuse(r,
                      "value of metric \"%s\": expected a float (or NaN, +Inf, -Inf), got "
                      "\"%s\"",
                      metric, shown(s, len, q, sizeof q));
    if (!special && exact_decimal(s, len, out))
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    *out = strtod(buf, NULL); /* out of range: +-HUGE_VAL or 0, as Go gives +-Inf */
    return 0;
}

static int read_timestamp(struct reader *r, const char *s, size_t len, const char *metric)
{
    char q[QUOTE_MAX * 4 + 8], buf[24];
    size_t i = len && (*s == '-' || *s == '+');
    bool ok = len > i && len < sizeof buf;
    for (size_t k = i; ok && k < len; k++)
        ok = s[k] >= '0' && s[k] <= '9';
    if (ok) {
        memcpy(buf, s, len);
        buf[len] = '\0';
        errno = 0;
        (void)strtoll(buf, NULL, 10);
        ok = errno == 0;
    }
    return ok ? 0
              : refuse(r,
                       "timestamp of metric \"%s\": expected an integer of milliseconds, "
                       "got \"%s\"",
                       metric, shown(s, len, q, sizeof q));
}

/* One sample line. Returns 0 and fills *out, 1 when refused, -1 when out of memory. */
static int read_sample(struct reader *r, const char *s, const char *end,
                       struct metric_text_sample *out)
{
    char q[QUOTE_MAX * 4 + 8];
    size_t n = name_len(s, end, true);
    if (n == 0 || (s + n < end && s[n] != '{' && s[n] != ' ' && s[n] != '\t')) {
        const char *e = s;
        while (e < end && *e != '{' && *e != ' ' && *e != '\t')
            e++;
        return refuse(r, "metric name \"%s\": expected " NAME_RULE,
                      shown(s, (size_t)(e - s), q, sizeof q));
    }
    char *name = scratch_put(r, s, n);
    const char *p = skip_blanks(s + n, end);
    int rc = 0;
    if (p < end && *p == '{')
        p++, rc = read_labels(r, &p, end, name);
    if (rc != 0)
        return rc;
    p = skip_blanks(p, end);
    const char *ve = token_end(p, end);
    if (read_value(r, p, (size_t)(ve - p), name, &out->value) != 0)
        return 1;
    const char *value_text = p;
    size_t value_len = (size_t)(ve - p);
    p = skip_blanks(ve, end);
    if (p < end) {
        const char *te = token_end(p, end);
        if (read_timestamp(r, p, (size_t)(te - p), name) != 0)
            return 1;
        p = skip_blanks(te, end);
        if (p < end)
            return refuse(r, "metric \"%s\": unexpected text after the timestamp: \"%s\"", name,
                          shown(p, (size_t)(end - p), q, sizeof q));
    }
    bool oom = false;
    struct family *f = family_of(r, name, &oom);
    if (!f)
        return -1;
    r->last = f;
    long long first = series_add(r, name);
    if (first < 0)
        return -1;
    if (first > 0)
        return refuse(r, "series of metric \"%s\" given twice (first on line %lld)", name, first);
    f->sampled = true;
    *out = (struct metric_text_sample){.line = r->line,
                                       .family = f->name,
                                       .type = f->type ? f->type : "untyped",
                                       .help = f->help,
                                       .name = name,
                                       .labels = r->labels,
                                       .nlabels = r->nlabels,
                                       .value = out->value,
                                       .value_text = value_text,
                                       .value_len = value_len};
    return 0;
}

/* Makes room in the scratch buffer for a line of len bytes: every name and value it yields is
 * at most as long as its text, plus a NUL each. */
static int scratch_reserve(struct reader *r, size_t len)
{
    r->scratch_len = 0;
    r->nlabels = 0;
    r->scratch_is_key = true;
    size_t need = 2 * len + 2;
    if (need <= r->scratch_cap)
        return 0;
    char *s = realloc(r->scratch, need);
    if (!s)
        return -1;
    r->scratch = s;
    r->scratch_cap = need;
    return 0;
}

/* One line: 0 when nothing to hand on (blank, comment, descriptor), 2 when *out holds a sample,
 * 1 when refused, -1 when out of memory. */
static int read_line(struct reader *r, const char *s, const char *end,
                     struct metric_text_sample *out)
{
    if (end > s && end[-1] == '\r')
        end--;
    if ((size_t)(end - s) > METRIC_TEXT_LINE_MAX)
        return refuse(r, "line longer than %d bytes", METRIC_TEXT_LINE_MAX);
    s = skip_blanks(s, end);
    if (s == end)
        return 0;
    if (*s == '#') {
        const char *t = skip_blanks(s + 1, end);
        bool help = end - t > 5 && !memcmp(t, "HELP", 4) && (t[4] == ' ' || t[4] == '\t');
        bool type = end - t > 5 && !memcmp(t, "TYPE", 4) && (t[4] == ' ' || t[4] == '\t');
        return help || type ? read_descriptor(r, type, t + 5, end) : 0;
    }
    if (scratch_reserve(r, (size_t)(end - s)) != 0)
        return -1;
    int rc = read_sample(r, s, end, out);
    return rc == 0 ? 2 : rc;
}

static void reader_free(struct reader *r)
{
    for (size_t i = 0; i < r->fam_cap; i++)
        free(r->families[i].help);
    while (r->names) {
        struct name_chunk *next = r->names->next;
        free(r->names);
        r->names = next;
    }
    free(r->families);
    free(r->series);
    free(r->arena);
    free(r->scratch);
    free(r->labels);
}

int metric_text_each(const char *text, size_t len,
                     int (*on_sample)(void *ctx, const struct metric_text_sample *s, char *err,
                                      size_t errlen),
                     void (*refused)(void *ctx, size_t line, const char *error), void *ctx)
{
    struct reader r = {0};
    int accepted = 0;
    const char *end = text + len;
    for (const char *s = text; s < end;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        r.line++;
        struct metric_text_sample sample;
        int rc = read_line(&r, s, nl ? nl : end, &sample);
        if (rc == 2) {
            rc = on_sample(ctx, &sample, r.err, sizeof r.err);
            accepted += rc == 0;
        }
        if (rc < 0) {
            accepted = -1;
            break;
        }
        if (rc == 1 && refused)
            refused(ctx, r.line, r.err);
        s = nl ? nl + 1 : end;
    }
    reader_free(&r);
    return accepted;
}

/* ---- into a metric_list ---- */

static char *dup_text(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

struct parse_ctx {
    struct metric_list *out;
    void (*refused)(void *ctx, size_t line, const char *error);
    void *ctx;
};

static void parse_refused(void *ctx, size_t line, const char *error)
{
    struct parse_ctx *p = ctx;
    if (p->refused)
        p->refused(p->ctx, line, error);
}

static int append_sample(void *ctx, const struct metric_text_sample *s, char *err, size_t errlen)
{
    struct metric_list *list = ((struct parse_ctx *)ctx)->out;
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 64;
        struct metric_sample *items = realloc(list->items, cap * sizeof *items);
        if (!items)
            return -1;
        list->items = items;
        list->cap = cap;
    }
    struct metric_sample *m = &list->items[list->count];
    bool own_family = strcmp(s->family, s->name) == 0;
    *m = (struct metric_sample){
        .name = dup_text(s->name),
        .labels = s->nlabels ? calloc(s->nlabels, sizeof *m->labels) : NULL,
        .value = s->value,
        .type = s->type,
        .family = own_family ? NULL : dup_text(s->family),
        .help = s->help ? dup_text(s->help) : NULL,
        .owns_help = true,
    };
    list->count++; /* from here metric_list_free frees what was made */
    if (!m->name || (s->nlabels && !m->labels) || (!own_family && !m->family) ||
        (s->help && !m->help))
        return -1;
    for (size_t i = 0; i < s->nlabels; i++, m->nlabels++) {
        m->labels[i].name = dup_text(s->labels[i].name);
        m->labels[i].value = dup_text(s->labels[i].value);
        if (!m->labels[i].name || !m->labels[i].value) {
            m->nlabels++;
            return -1;
        }
    }
    return 0;
}

int metric_text_parse(const char *text, size_t len, struct metric_list *out,
                      void (*refused)(void *ctx, size_t line, const char *error), void *ctx)
{
    struct parse_ctx p = {out, refused, ctx};
    return metric_text_each(text, len, append_sample, parse_refused, &p);
}
