/* condition.c — the condition language (condition.h): a tokenizer and a recursive-descent reader
 * into one comparison of two operands, kinds checked at load time; regular expressions compiled
 * at load; evaluation reads the probe result through the placeholders. */
#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/regex_size.h"
#include "check/condition.h"

/* What an operand holds, known at load time (ANY: a [BODY] path, known only when it runs). */
enum kind { K_NUM, K_TIME, K_PCT, K_BOOL, K_STR, K_LIST, K_ANY };

enum operand_form { FORM_PLACEHOLDER, FORM_LITERAL, FORM_LEN };

enum cmp { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_CONTAINS, CMP_MATCHES };

static const char *const cmp_names[] = {"==", "!=", "<", "<=", ">", ">=", "contains", "matches"};

struct path_seg {
    char *key; /* NULL: an array index */
    size_t index;
};

struct operand {
    enum operand_form form;
    enum kind kind;
    int placeholder;       /* FORM_PLACEHOLDER */
    struct path_seg *path; /* [BODY] path, or the [HEADER] name as one key */
    size_t n_path;
    double num; /* FORM_LITERAL: numbers in ms for K_TIME, percent for K_PCT */
    bool b;
    char *text;            /* FORM_LITERAL: the string, or the token as written */
    struct operand *inner; /* FORM_LEN */
};

struct condition {
    char *text;
    bool warning;
    struct operand left, right;
    enum cmp op;
    bool has_re;
    regex_t re;
};

/* ---- reading ---------------------------------------------------------------------------- */

struct reader {
    const char *start, *p;
    uint32_t allowed;
    char *err;
    size_t errlen;
};

static int fail_at(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_at(struct reader *r, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(r->err, r->errlen, "at column %zu: %s", (size_t)(r->p - r->start) + 1, msg);
}

static void skip_space(struct reader *r)
{
    while (isspace((unsigned char)*r->p))
        r->p++;
}

static enum kind placeholder_kind(int ph, bool has_path)
{
    switch (ph) {
    case PH_STATUS:
    case PH_EXIT_CODE:
        return K_NUM;
    case PH_RESPONSE_TIME:
    case PH_CERT_EXPIRES_IN:
    case PH_RTT:
        return K_TIME;
    case PH_LOSS:
        return K_PCT;
    case PH_CONNECTED:
        return K_BOOL;
    case PH_DNS_ANSWER:
        return K_LIST;
    case PH_BODY:
        return has_path ? K_ANY : K_STR;
    default:
        return K_STR; /* HEADER, DNS_RCODE, OUTPUT */
    }
}

/* A path segment's key: up to '.', '[', space or an operator character. */
static char *read_key(struct reader *r)
{
    const char *s = r->p;
    while (*r->p && !isspace((unsigned char)*r->p) && !strchr(".[]()=!<>\"'", *r->p))
        r->p++;
    return r->p > s ? strndup(s, (size_t)(r->p - s)) : NULL;
}

static int read_path(struct reader *r, struct operand *o)
{
    for (;;) {
        struct path_seg seg = {0};
        if (*r->p == '.') {
            r->p++;
            if (!(seg.key = read_key(r)))
                return fail_at(r, "%s", "expected a member name after '.'");
        } else if (*r->p == '[') {
            char *end;
            r->p++;
            if (!isdigit((unsigned char)*r->p))
                return fail_at(r, "%s", "expected an array index");
            unsigned long long i = strtoull(r->p, &end, 10);
            if (*end != ']' || i > 1000000)
                return fail_at(r, "%s", "expected an array index (0..1000000) and ']'");
            seg.index = (size_t)i;
            r->p = end + 1;
        } else {
            return 0;
        }
        struct path_seg *grown = realloc(o->path, (o->n_path + 1) * sizeof *grown);
        if (!grown) {
            free(seg.key);
            return err_set(r->err, r->errlen, "out of memory");
        }
        o->path = grown;
        o->path[o->n_path++] = seg;
    }
}

static int read_placeholder(struct reader *r, struct operand *o)
{
    const char *name = ++r->p;
    while (*r->p && *r->p != ']')
        r->p++;
    if (*r->p != ']')
        return fail_at(r, "%s", "expected ']' to close the placeholder");
    char buf[32];
    size_t len = (size_t)(r->p - name);
    snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), name);
    int ph = len < sizeof buf ? probe_placeholder_find(buf) : -1;
    r->p = name - 1;
    if (ph < 0)
        return fail_at(r, "unknown placeholder [%s]", buf);
    if (!(r->allowed & PH_BIT(ph)))
        return fail_at(r, "[%s] is not filled by this check's type", buf);
    r->p = name + len + 1;
    o->form = FORM_PLACEHOLDER;
    o->placeholder = ph;
    if (read_path(r, o) != 0)
        return -1;
    if (ph == PH_HEADER && (o->n_path != 1 || !o->path[0].key))
        return fail_at(r, "%s", "expected one header name: [HEADER].Name");
    if (ph != PH_HEADER && ph != PH_BODY && o->n_path)
        return fail_at(r, "[%s] takes no path", buf);
    o->kind = placeholder_kind(ph, o->n_path > 0);
    return 0;
}

static int read_string(struct reader *r, struct operand *o)
{
    char quote = *r->p++;
    size_t cap = strlen(r->p) + 1, n = 0;
    char *s = malloc(cap);
    if (!s)
        return err_set(r->err, r->errlen, "out of memory");
    while (*r->p && *r->p != quote) {
        if (*r->p == '\\' && r->p[1])
            r->p++;
        s[n++] = *r->p++;
    }
    s[n] = '\0';
    o->text = s;
    if (*r->p != quote)
        return fail_at(r, "%s", "expected the closing quote of the string");
    r->p++;
    o->form = FORM_LITERAL;
    o->kind = K_STR;
    return 0;
}

/* The unit's factor to ms (K_TIME) or 1 (K_PCT); false when suffix is not a unit. */
static bool unit_of(const char *suffix, enum kind *kind, double *factor)
{
    static const struct {
        const char *name;
        double ms;
    } units[] = {{"ms", 1},     {"s", 1e3},     {"m", 60e3},
                 {"h", 3600e3}, {"d", 86400e3}, {"y", 365 * 86400e3}};
    if (!*suffix) {
        *kind = K_NUM, *factor = 1;
        return true;
    }
    if (strcmp(suffix, "%") == 0) {
        *kind = K_PCT, *factor = 1;
        return true;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(suffix, units[i].name) == 0) {
            *kind = K_TIME, *factor = units[i].ms;
            return true;
        }
    return false;
}

/* A bare token: true/false, a number with an optional unit, or else a word (a string). */
static int read_bare(struct reader *r, struct operand *o)
{
    const char *s = r->p;
    while (*r->p && !isspace((unsigned char)*r->p) && !strchr("()=!<>\"'", *r->p))
        r->p++;
    if (r->p == s)
        return fail_at(r, "%s", "expected a value: a placeholder, a number, a string or len()");
    if (!(o->text = strndup(s, (size_t)(r->p - s))))
        return err_set(r->err, r->errlen, "out of memory");
    o->form = FORM_LITERAL;
    o->kind = K_STR;
    if (strcmp(o->text, "true") == 0 || strcmp(o->text, "false") == 0) {
        o->kind = K_BOOL;
        o->b = o->text[0] == 't';
        return 0;
    }
    char *end;
    double v = strtod(o->text, &end);
    enum kind kind;
    double factor;
    if (end != o->text && isfinite(v) && (isdigit((unsigned char)*o->text) || *o->text == '-') &&
        unit_of(end, &kind, &factor)) {
        o->kind = kind;
        o->num = v * factor;
    }
    return 0;
}

static int read_operand(struct reader *r, struct operand *o);

static int read_len(struct reader *r, struct operand *o)
{
    r->p += 3;
    skip_space(r);
    if (*r->p != '(')
        return fail_at(r, "%s", "expected '(' after len");
    r->p++;
    skip_space(r);
    if (!(o->inner = calloc(1, sizeof *o->inner)))
        return err_set(r->err, r->errlen, "out of memory");
    const char *at = r->p;
    if (read_operand(r, o->inner) != 0)
        return -1;
    if (o->inner->form != FORM_PLACEHOLDER ||
        (o->inner->kind != K_STR && o->inner->kind != K_LIST && o->inner->kind != K_ANY)) {
        r->p = at;
        return fail_at(r, "%s", "len() takes a placeholder with text or a list");
    }
    skip_space(r);
    if (*r->p != ')')
        return fail_at(r, "%s", "expected ')' to close len(");
    r->p++;
    o->form = FORM_LEN;
    o->kind = K_NUM;
    return 0;
}

static int read_operand(struct reader *r, struct operand *o)
{
    skip_space(r);
    if (*r->p == '[')
        return read_placeholder(r, o);
    if (*r->p == '"' || *r->p == '\'')
        return read_string(r, o);
    if (strncmp(r->p, "len", 3) == 0 && (r->p[3] == '(' || isspace((unsigned char)r->p[3])))
        return read_len(r, o);
    return read_bare(r, o);
}

static int read_operator(struct reader *r, enum cmp *op)
{
    skip_space(r);
    for (int i = CMP_MATCHES; i >= CMP_EQ; i--) { /* "<=" is tried before "<" */
        size_t n = strlen(cmp_names[i]);
        if (strncmp(r->p, cmp_names[i], n) != 0)
            continue;
        if (i >= CMP_CONTAINS && r->p[n] && !isspace((unsigned char)r->p[n]))
            continue;
        *op = (enum cmp)i;
        r->p += n;
        return 0;
    }
    return fail_at(r, "%s", "expected an operator: == != < <= > >= contains matches");
}

static const char *kind_name(enum kind k)
{
    static const char *const names[] = {"a number", "a duration", "a percentage", "true or false",
                                        "text",     "a list",     "a JSON value"};
    return names[k];
}

static bool numeric(enum kind k)
{
    return k == K_NUM || k == K_TIME || k == K_PCT;
}

/* Whether l op r can be compared, both known at load time; err says why not. */
static int check_kinds(struct reader *r, const struct condition *c)
{
    enum kind l = c->left.kind, k = c->right.kind;
    char msg[160];
    if (c->op == CMP_CONTAINS || c->op == CMP_MATCHES) {
        if (l != K_STR && l != K_LIST && l != K_ANY)
            goto mismatch;
        if (c->right.form != FORM_LITERAL)
            return fail_at(r, "%s needs a string on its right", cmp_names[c->op]);
        return 0;
    }
    if (l == K_ANY || k == K_ANY)
        return 0;
    if (numeric(l) && numeric(k)) {
        bool bare_right = c->right.form == FORM_LITERAL && k == K_NUM;
        bool bare_left = c->left.form == FORM_LITERAL && l == K_NUM;
        if (l == k || bare_right || bare_left) /* a bare number takes the other side's unit */
            return 0;
        goto mismatch;
    }
    if (c->op != CMP_EQ && c->op != CMP_NE)
        return fail_at(r, "%s needs numbers on both sides", cmp_names[c->op]);
    if (l == k || (l == K_LIST && k == K_STR) || (l == K_STR && k == K_LIST))
        return 0;
mismatch:
    snprintf(msg, sizeof msg, "%s compares %s with %s", cmp_names[c->op], kind_name(l),
             kind_name(k));
    return fail_at(r, "%s", msg);
}

static void operand_clear(struct operand *o)
{
    for (size_t i = 0; i < o->n_path; i++)
        free(o->path[i].key);
    free(o->path);
    free(o->text);
    if (o->inner) {
        operand_clear(o->inner);
        free(o->inner);
    }
}

void condition_free(struct condition *c)
{
    if (!c)
        return;
    operand_clear(&c->left);
    operand_clear(&c->right);
    if (c->has_re)
        regfree(&c->re);
    free(c->text);
    free(c);
}

static int read_condition(struct reader *r, struct condition *c)
{
    if (read_operand(r, &c->left) != 0)
        return -1;
    skip_space(r);
    if (!*r->p) { /* a bare [CONNECTED] reads as [CONNECTED] == true */
        if (c->left.kind != K_BOOL)
            return fail_at(r, "%s", "expected an operator: == != < <= > >= contains matches");
        c->op = CMP_EQ;
        c->right = (struct operand){.form = FORM_LITERAL, .kind = K_BOOL, .b = true};
        return (c->right.text = strdup("true")) ? 0 : err_set(r->err, r->errlen, "out of memory");
    }
    if (read_operator(r, &c->op) != 0 || read_operand(r, &c->right) != 0)
        return -1;
    skip_space(r);
    if (*r->p)
        return fail_at(r, "%s", "unexpected text after the condition");
    if (check_kinds(r, c) != 0)
        return -1;
    if (c->op == CMP_MATCHES) {
        if (!regex_size_ok(c->right.text))
            return fail_at(r, "the regular expression repeats too much (a repetition of a "
                              "repetition such as a+*, or more than %d characters once its "
                              "repetitions are unrolled)",
                           REGEX_UNROLLED_MAX);
        int rc = regcomp(&c->re, c->right.text, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char why[100];
            regerror(rc, &c->re, why, sizeof why);
            return fail_at(r, "invalid regular expression: %s", why);
        }
        c->has_re = true;
    }
    return 0;
}

struct condition *condition_parse(const char *text, uint32_t placeholders, bool warning, char *err,
                                  size_t errlen)
{
    struct condition *c = calloc(1, sizeof *c);
    if (!c || !(c->text = strdup(text))) {
        free(c);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    c->warning = warning;
    struct reader r = {
        .start = text, .p = text, .allowed = placeholders, .err = err, .errlen = errlen};
    if (read_condition(&r, c) != 0) {
        condition_free(c);
        return NULL;
    }
    return c;
}

const char *condition_text(const struct condition *c)
{
    return c->text;
}

bool condition_is_warning(const struct condition *c)
{
    return c->warning;
}

/* ---- evaluating --------------------------------------------------------------------------- */

void condition_subject_init(struct condition_subject *s, const struct probe_result *result)
{
    *s = (struct condition_subject){.result = result};
}

void condition_subject_free(struct condition_subject *s)
{
    json_decref(s->body_json);
    s->body_json = NULL;
}

/* A value at run time. str points into the result, the JSON or text. */
struct value {
    enum kind kind;
    double num;
    bool b;
    const char *str;
    const char *const *list;
    size_t n;
    const json_t *json; /* K_ANY: an array or object */
    char text[40];
};

/* Why a value is missing, in missing (the message's VALUE part); returns false. */
static bool missing_value(char *missing, size_t len, const char *why)
{
    snprintf(missing, len, "%s", why);
    return false;
}

static bool json_value(const json_t *j, struct value *v)
{
    switch (json_typeof(j)) {
    case JSON_STRING:
        v->kind = K_STR, v->str = json_string_value(j);
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        v->kind = K_NUM, v->num = json_number_value(j);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        v->kind = K_BOOL, v->b = json_is_true(j);
        break;
    case JSON_NULL:
        v->kind = K_STR, v->str = "null";
        break;
    default:
        v->kind = K_ANY, v->json = j;
        break;
    }
    return true;
}

static bool body_value(const struct operand *o, struct condition_subject *s, struct value *v,
                       char *missing, size_t len)
{
    if (!s->body_parsed) {
        s->body_parsed = true;
        if (s->result->body)
            s->body_json = json_loadb(s->result->body, s->result->body_len,
                                      JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    }
    if (!s->body_json)
        return missing_value(missing, len, "the body is not JSON");
    const json_t *j = s->body_json;
    for (size_t i = 0; i < o->n_path; i++) {
        const struct path_seg *seg = &o->path[i];
        j = seg->key ? json_object_get(j, seg->key) : json_array_get(j, seg->index);
        if (!j)
            return missing_value(missing, len, "no such member in the body");
    }
    return json_value(j, v);
}

static bool placeholder_value(const struct operand *o, struct condition_subject *s, struct value *v,
                              char *missing, size_t len)
{
    const struct probe_result *r = s->result;
    v->kind = o->kind;
    switch (o->placeholder) {
    case PH_STATUS:
        v->num = r->status;
        break;
    case PH_EXIT_CODE:
        v->num = r->exit_code;
        break;
    case PH_RESPONSE_TIME:
        v->num = r->response_time_ms;
        break;
    case PH_CERT_EXPIRES_IN:
        if (!r->has_cert)
            return missing_value(missing, len, "no certificate");
        v->num = (double)r->cert_expires_in_ms;
        break;
    case PH_RTT:
        if (r->received == 0 && r->sent > 0)
            return missing_value(missing, len, "no answer");
        v->num = r->rtt_ms;
        break;
    case PH_LOSS:
        v->num = r->loss_pct;
        break;
    case PH_CONNECTED:
        v->b = r->connected;
        break;
    case PH_DNS_RCODE:
        v->str = r->dns_rcode;
        break;
    case PH_OUTPUT:
        v->str = r->output ? r->output : "";
        break;
    case PH_DNS_ANSWER:
        v->list = r->dns_answers, v->n = r->n_dns_answers;
        break;
    case PH_HEADER: {
        const json_t *h = r->headers ? json_object_get(r->headers, o->path[0].key) : NULL;
        if (!h && r->headers) { /* names are stored lower case; conditions may say Content-Type */
            const char *k;
            const json_t *val;
            json_object_foreach((json_t *)r->headers, k,
                                val) if (strcasecmp(k, o->path[0].key) == 0) h = val;
        }
        if (!json_is_string(h))
            return missing_value(missing, len, "no such header");
        v->str = json_string_value(h);
        break;
    }
    case PH_BODY:
        if (o->n_path)
            return body_value(o, s, v, missing, len);
        v->str = r->body ? r->body : "";
        break;
    default:
        return missing_value(missing, len, "not filled");
    }
    return true;
}

static bool operand_value(const struct operand *o, struct condition_subject *s, struct value *v,
                          char *missing, size_t len)
{
    *v = (struct value){.kind = o->kind};
    switch (o->form) {
    case FORM_LITERAL:
        v->num = o->num, v->b = o->b, v->str = o->text;
        return true;
    case FORM_PLACEHOLDER:
        return placeholder_value(o, s, v, missing, len);
    case FORM_LEN: {
        struct value in;
        if (!operand_value(o->inner, s, &in, missing, len))
            return false;
        v->kind = K_NUM;
        if (in.kind == K_STR)
            v->num = (double)strlen(in.str);
        else if (in.kind == K_LIST)
            v->num = (double)in.n;
        else if (in.kind == K_ANY)
            v->num = (double)(json_is_array(in.json) ? json_array_size(in.json)
                                                     : json_object_size(in.json));
        else
            return missing_value(missing, len, "not text or a list");
        return true;
    }
    }
    return false;
}

/* The value as the message shows it: 503, 312ms, 7%, "text" (cut), ["a", "b"]. */
static void value_describe(const struct value *v, char *out, size_t len)
{
    switch (v->kind) {
    case K_NUM:
        snprintf(out, len, "%g", v->num);
        break;
    case K_TIME: {
        static const struct {
            const char *unit;
            double ms;
        } units[] = {{"d", 86400e3}, {"h", 3600e3}, {"m", 60e3}, {"s", 1e3}};
        size_t i = 0;
        while (i < 4 && fabs(v->num) < units[i].ms)
            i++;
        if (i < 4)
            snprintf(out, len, "%.4g%s", v->num / units[i].ms, units[i].unit);
        else
            snprintf(out, len, "%.4gms", v->num);
        break;
    }
    case K_PCT:
        snprintf(out, len, "%g%%", v->num);
        break;
    case K_BOOL:
        snprintf(out, len, "%s", v->b ? "true" : "false");
        break;
    case K_STR:
        snprintf(out, len, "\"%.80s%s\"", v->str, strlen(v->str) > 80 ? "..." : "");
        break;
    case K_LIST: {
        size_t n = (size_t)snprintf(out, len, "[");
        for (size_t i = 0; i < v->n && n < len; i++)
            n += (size_t)snprintf(out + n, len - n, "%s\"%s\"", i ? ", " : "", v->list[i]);
        if (n < len)
            snprintf(out + n, len - n, "]");
        break;
    }
    case K_ANY: {
        char *dump = json_dumps(v->json, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(out, len, "%.80s", dump ? dump : "?");
        free(dump);
        break;
    }
    }
}

static bool compare_num(enum cmp op, double l, double r)
{
    switch (op) {
    case CMP_EQ:
        return l == r;
    case CMP_NE:
        return l != r;
    case CMP_LT:
        return l < r;
    case CMP_LE:
        return l <= r;
    case CMP_GT:
        return l > r;
    case CMP_GE:
        return l >= r;
    default:
        return false;
    }
}

/* One text against the right side: == != contains matches. */
static bool compare_text(const struct condition *c, const char *l, const char *r)
{
    switch (c->op) {
    case CMP_EQ:
        return strcmp(l, r) == 0;
    case CMP_NE:
        return strcmp(l, r) != 0;
    case CMP_CONTAINS:
        return strstr(l, r) != NULL;
    case CMP_MATCHES:
        return regexec(&c->re, l, 0, NULL, 0) == 0;
    default:
        return false;
    }
}

/* The comparison, or -1 with why in mismatch when the kinds met at run time do not fit. */
static int compare(const struct condition *c, const struct value *l, const struct value *r)
{
    if (numeric(l->kind) && numeric(r->kind))
        return compare_num(c->op, l->num, r->num);
    if (l->kind == K_BOOL && r->kind == K_BOOL && (c->op == CMP_EQ || c->op == CMP_NE))
        return (l->b == r->b) == (c->op == CMP_EQ);
    if (l->kind == K_LIST && r->kind == K_STR) {
        bool any = false;
        bool negate = c->op == CMP_NE;
        for (size_t i = 0; i < l->n && !any; i++) {
            struct condition positive = *c;
            positive.op = negate ? CMP_EQ : c->op;
            any = compare_text(&positive, l->list[i], r->str);
        }
        return negate ? !any : any;
    }
    if (l->kind == K_STR && r->kind == K_LIST) {
        for (size_t i = 0; i < r->n; i++)
            if (strcmp(l->str, r->list[i]) == 0)
                return c->op == CMP_EQ;
        return c->op == CMP_NE;
    }
    if (l->kind == K_STR && (r->kind == K_STR || c->op >= CMP_CONTAINS) &&
        (c->op == CMP_EQ || c->op == CMP_NE || c->op >= CMP_CONTAINS))
        return compare_text(c, l->str, r->str ? r->str : "");
    if (l->kind == K_ANY && c->op >= CMP_CONTAINS) {
        char *dump = json_dumps(l->json, JSON_COMPACT | JSON_ENCODE_ANY);
        bool ok = dump && compare_text(c, dump, r->str);
        free(dump);
        return ok;
    }
    return -1;
}

bool condition_eval(const struct condition *c, struct condition_subject *s, char *message,
                    size_t messagelen)
{
    struct value l, r;
    char why[200] = "";
    if (operand_value(&c->left, s, &l, why, sizeof why) &&
        operand_value(&c->right, s, &r, why, sizeof why)) {
        int rc = compare(c, &l, &r);
        if (rc == 1)
            return true;
        value_describe(&l, why, sizeof why);
        if (rc < 0) {
            size_t n = strlen(why);
            snprintf(why + n, sizeof why - n, " (%s, not %s)", kind_name(l.kind),
                     kind_name(r.kind));
        }
    }
    snprintf(message, messagelen, "%s failed: %s", c->text, why);
    return false;
}
