/* http.c — the `http` probe type on the libcurl multi interface driven by the loop: curl tells
 * which sockets to watch (CURLMOPT_SOCKETFUNCTION: a uv_poll each) and when to call it back
 * (CURLMOPT_TIMERFUNCTION: one uv_timer), and each run is one easy handle, taken from the env's
 * pool of idle ones (curl_easy_reset) rather than made anew. Options: `method` (GET), `headers`
 * ({Name: value}), `body`, `follow_redirects` (false), `tls_verify` (true), `max_body` (bytes
 * kept of the body, 1 MiB by default: the transfer stops there). The URL's host is resolved on
 * the env's c-ares channel and handed to curl (CURLOPT_RESOLVE), so no resolver thread runs
 * (a redirect to another host is the exception). Every run opens a fresh connection, so the
 * response time and the certificate are those of a real first contact.
 * Fills [STATUS], [BODY], [HEADER], [RESPONSE_TIME], [CERT_EXPIRES_IN] (from CURLINFO_CERTINFO)
 * and [CONNECTED]. */
#include "probe/probe_internal.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define HTTP_MAX_BODY_DEFAULT (1024 * 1024)
#define HTTP_MAX_BODY_LIMIT (64 * 1024 * 1024)
#define HTTP_IDLE_HANDLES 64
#define HTTP_MAX_REDIRECTS 10

struct http_options {
    char *url, *method, *body;
    char host[PROBE_HOST_MAX]; /* the URL's host, resolved on the env's channel before curl runs */
    long port;
    bool literal; /* host is an IP address: nothing to resolve */
    struct curl_slist *headers;
    bool follow_redirects, tls_verify, https;
    long max_body;
};

struct probe_curl {
    struct probe_env *env;
    CURLM *multi;
    uv_timer_t timer;
    CURL *idle[HTTP_IDLE_HANDLES];
    int n_idle;
};

/* A socket curl asked us to watch. */
struct curl_watch {
    uv_poll_t poll;
    curl_socket_t fd;
    struct probe_curl *curl;
    struct probe_env *env; /* curl may be freed first: close callbacks run in any order */
};

struct http_run {
    struct probe_env *env;
    const struct http_options *o;
    CURL *easy;
    struct probe_resolve *resolving;
    struct curl_slist *resolved; /* "host:port:address" for CURLOPT_RESOLVE */
    int timeout_ms;
    int64_t start_ns;
    probe_done_cb done;
    void *ctx;
    char *body;
    size_t body_len;
    bool body_full;
    json_t *headers;
    char error[CURL_ERROR_SIZE];
};

/* ---- options -------------------------------------------------------------------------------- */

static void http_free_options(void *options)
{
    struct http_options *o = options;
    if (!o)
        return;
    free(o->url);
    free(o->method);
    free(o->body);
    curl_slist_free_all(o->headers);
    free(o);
}

static bool header_ok(const char *name, const char *value)
{
    if (!*name)
        return false;
    for (const char *p = name; *p; p++)
        if (!isgraph((unsigned char)*p) || *p == ':')
            return false;
    return !strpbrk(value, "\r\n");
}

static int parse_headers(const json_t *def, struct http_options *o, const char **field, char *err,
                         size_t errlen)
{
    const json_t *h = json_object_get(def, "headers");
    if (!h || json_is_null(h))
        return 0;
    if (!json_is_object(h)) {
        *field = "headers";
        snprintf(err, errlen, "expected a map of header names to values");
        return -1;
    }
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)h, name, v)
    {
        if (!json_is_string(v) || !header_ok(name, json_string_value(v))) {
            *field = "headers";
            snprintf(err, errlen, "%.60s: expected a header name and a one-line string value",
                     name);
            return -1;
        }
        char line[2048];
        snprintf(line, sizeof line, "%s: %s", name, json_string_value(v));
        struct curl_slist *next = curl_slist_append(o->headers, line);
        if (!next) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        o->headers = next;
    }
    return 0;
}

/* The URL's host and port (curl's own URL parser), so that the host can be resolved on the
 * loop: libcurl would resolve it on a thread of its own. */
static int url_host_port(const char *url, struct http_options *o, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;
    int rc = -1;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        size_t len = strlen(host);
        if (host[0] == '[' && len > 2) /* an IPv6 literal */
            snprintf(o->host, sizeof o->host, "%.*s", (int)(len - 2), host + 1);
        else
            snprintf(o->host, sizeof o->host, "%s", host);
        o->port = strtol(port, NULL, 10);
        struct probe_target t;
        o->literal = probe_parse_literal(o->host, &t);
        rc = 0;
    } else {
        snprintf(err, errlen, "\"%.80s\" is not a URL curl can read", url);
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

static void *http_parse(const json_t *def, const char **field, char *err, size_t errlen)
{
    const char *target = probe_opt_target(def, field, err, errlen);
    if (!target)
        return NULL;
    bool https = !strncasecmp(target, "https://", 8);
    if (!https && strncasecmp(target, "http://", 7)) {
        snprintf(err, errlen, "\"%.80s\" is not a URL (expected http://... or https://...)",
                 target);
        return NULL;
    }
    struct http_options *o = calloc(1, sizeof *o);
    if (!o) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (url_host_port(target, o, err, errlen) != 0) {
        free(o);
        return NULL;
    }
    o->https = https;
    o->tls_verify = true;
    o->max_body = HTTP_MAX_BODY_DEFAULT;
    const char *method = "GET", *body = NULL;
    bool ok = true;
    if (probe_opt_string(def, "method", &method, field, err, errlen) < 0 ||
        probe_opt_string(def, "body", &body, field, err, errlen) < 0 ||
        probe_opt_bool(def, "follow_redirects", &o->follow_redirects, field, err, errlen) < 0 ||
        probe_opt_bool(def, "tls_verify", &o->tls_verify, field, err, errlen) < 0 ||
        probe_opt_int(def, "max_body", 0, HTTP_MAX_BODY_LIMIT, &o->max_body, field, err, errlen) <
            0 ||
        parse_headers(def, o, field, err, errlen) < 0) {
        http_free_options(o);
        return NULL;
    }
    for (const char *p = method; *p; p++)
        if (!isupper((unsigned char)*p))
            method = "";
    if (!*method) {
        *field = "method";
        snprintf(err, errlen, "expected an HTTP method in capitals (GET, POST, HEAD, ...)");
        http_free_options(o);
        return NULL;
    }
    o->url = probe_strdup(target, &ok);
    o->method = probe_strdup(method, &ok);
    o->body = probe_strdup(body, &ok);
    if (!ok) {
        http_free_options(o);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return o;
}

/* ---- the multi handle on the loop ------------------------------------------------------------ */

static void check_done(struct probe_curl *c);

static void on_curl_timer(uv_timer_t *t)
{
    struct probe_curl *c = t->data;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

static int on_curl_timer_change(CURLM *multi, long timeout_ms, void *userp)
{
    struct probe_curl *c = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_curl_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static void on_curl_io(uv_poll_t *h, int status, int events)
{
    struct curl_watch *w = h->data;
    struct probe_curl *c = w->curl;
    int flags = (status < 0 ? CURL_CSELECT_ERR : 0) | (events & UV_READABLE ? CURL_CSELECT_IN : 0) |
                (events & UV_WRITABLE ? CURL_CSELECT_OUT : 0);
    int running;
    curl_multi_socket_action(c->multi, w->fd, flags, &running);
    check_done(c);
}

static void on_watch_closed(uv_handle_t *h)
{
    struct curl_watch *w = h->data;
    struct probe_env *env = w->env;
    free(w);
    probe_env_release(env);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct probe_curl *c = userp;
    struct curl_watch *w = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (w) {
            curl_multi_assign(c->multi, fd, NULL);
            uv_poll_stop(&w->poll);
            uv_close((uv_handle_t *)&w->poll, on_watch_closed);
        }
        return 0;
    }
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w || uv_poll_init_socket(c->env->loop, &w->poll, fd) != 0) {
            free(w);
            return -1;
        }
        w->fd = fd;
        w->curl = c;
        w->env = c->env;
        w->poll.data = w;
        probe_env_hold(c->env);
        curl_multi_assign(c->multi, fd, w);
    }
    int events = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
    uv_poll_start(&w->poll, events, on_curl_io);
    return 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_global(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static struct probe_curl *curl_of(struct probe_env *env)
{
    if (env->curl)
        return env->curl;
    pthread_once(&curl_once, curl_global);
    struct probe_curl *c = calloc(1, sizeof *c);
    if (!c || !(c->multi = curl_multi_init())) {
        free(c);
        return NULL;
    }
    c->env = env;
    uv_timer_init(env->loop, &c->timer);
    c->timer.data = c;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer_change);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    env->curl = c;
    return c;
}

static void on_curl_timer_closed(uv_handle_t *h)
{
    struct probe_curl *c = h->data;
    struct probe_env *env = c->env;
    free(c);
    probe_env_release(env);
}

void probe_curl_close(struct probe_env *env)
{
    struct probe_curl *c = env->curl;
    if (!c)
        return;
    env->curl = NULL;
    for (int i = 0; i < c->n_idle; i++)
        curl_easy_cleanup(c->idle[i]);
    curl_multi_cleanup(c->multi); /* removes its sockets through on_curl_socket */
    probe_env_hold(env);
    uv_close((uv_handle_t *)&c->timer, on_curl_timer_closed);
}

static CURL *take_easy(struct probe_curl *c)
{
    if (c->n_idle > 0) {
        CURL *e = c->idle[--c->n_idle];
        curl_easy_reset(e);
        return e;
    }
    return curl_easy_init();
}

/* An easy handle done with (removed from the multi handle) goes back to the pool. */
static void keep_idle(struct probe_curl *c, CURL *e)
{
    if (c->n_idle < HTTP_IDLE_HANDLES)
        c->idle[c->n_idle++] = e;
    else
        curl_easy_cleanup(e);
}

static void give_back(struct probe_curl *c, CURL *e)
{
    curl_multi_remove_handle(c->multi, e);
    keep_idle(c, e);
}

/* ---- the run --------------------------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    struct http_run *r = userp;
    size_t len = size * n;
    size_t room = (size_t)r->o->max_body - r->body_len;
    size_t take = len < room ? len : room;
    if (take > 0) {
        char *grown = realloc(r->body, r->body_len + take + 1);
        if (!grown)
            return 0;
        r->body = grown;
        memcpy(r->body + r->body_len, data, take);
        r->body_len += take;
        r->body[r->body_len] = '\0';
    }
    if (take < len) { /* max_body reached: stop the transfer here */
        r->body_full = true;
        return 0;
    }
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
    struct http_run *r = userp;
    size_t len = size * n;
    if (len >= 5 && !strncmp(data, "HTTP/", 5)) { /* a new response (after a redirect) */
        json_object_clear(r->headers);
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon || colon == data)
        return len;
    char name[128];
    size_t nlen =
        (size_t)(colon - data) < sizeof name - 1 ? (size_t)(colon - data) : sizeof name - 1;
    for (size_t i = 0; i < nlen; i++)
        name[i] = (char)tolower((unsigned char)data[i]);
    name[nlen] = '\0';
    const char *v = colon + 1, *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    json_t *value = json_stringn(v, (size_t)(end - v));
    if (value)
        json_object_set_new(r->headers, name, value);
    return len;
}

/* The leaf certificate's "Expire date" from CURLINFO_CERTINFO, in ms from now. */
static bool cert_expiry(CURL *e, int64_t *ms)
{
    struct curl_certinfo *ci = NULL;
    if (curl_easy_getinfo(e, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci || ci->num_of_certs < 1)
        return false;
    for (struct curl_slist *s = ci->certinfo[0]; s; s = s->next) {
        if (strncasecmp(s->data, "Expire date:", 12))
            continue;
        struct tm tm = {0};
        const char *v = s->data + 12;
        /* OpenSSL: "Dec  3 14:00:00 2026 GMT"; GnuTLS and others: "2026-12-03 14:00:00 GMT" */
        if (!strptime(v, "%b %d %H:%M:%S %Y", &tm) && !strptime(v, "%Y-%m-%d %H:%M:%S", &tm))
            return false;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        *ms = ((int64_t)timegm(&tm) - now.tv_sec) * 1000 - now.tv_nsec / 1000000;
        return true;
    }
    return false;
}

static void http_free_run(struct http_run *r)
{
    probe_resolve_cancel(r->resolving);
    curl_slist_free_all(r->resolved);
    json_decref(r->headers);
    free(r->body);
    free(r);
}

static void http_report(struct http_run *r, CURLcode code)
{
    struct probe_result res = {.ran = true};
    long status = 0;
    curl_off_t total_us = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME_T, &total_us);
    bool stopped_at_cap = code == CURLE_WRITE_ERROR && r->body_full;
    res.status = (int)status;
    res.connected = status > 0 && (code == CURLE_OK || stopped_at_cap);
    res.response_time_ms = (double)total_us / 1000.0;
    res.timed_out = code == CURLE_OPERATION_TIMEDOUT;
    res.body = r->body ? r->body : "";
    res.body_len = r->body_len;
    res.headers = r->headers;
    res.has_cert = r->o->https && cert_expiry(r->easy, &res.cert_expires_in_ms);
    char *ip = NULL;
    if (curl_easy_getinfo(r->easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip)
        snprintf(res.addr, sizeof res.addr, "%s", ip);
    if (code != CURLE_OK && !stopped_at_cap)
        snprintf(res.error, sizeof res.error, "%.150s",
                 r->error[0] ? r->error : curl_easy_strerror(code));
    r->done(&res, r->ctx);
}

/* Reports each finished transfer. A done callback may close the env (the CLI does, after its
 * one probe): then the multi handle is gone, and so is the pool the easy handle would go to. */
static void check_done(struct probe_curl *c)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct http_run *r = NULL;
        CURL *e = msg->easy_handle;
        CURLcode code = msg->data.result;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
        struct probe_env *env = r->env;
        curl_multi_remove_handle(c->multi, e); /* msg is gone with it */
        http_report(r, code);
        bool closed = env->curl != c;
        if (closed)
            curl_easy_cleanup(e);
        else
            keep_idle(c, e);
        http_free_run(r);
        if (closed)
            return;
    }
}

static void set_options(struct http_run *r, int timeout_ms)
{
    const struct http_options *o = r->o;
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, o->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->error);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "faultline-probe/" FAULTLINE_VERSION);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, o->follow_redirects ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)HTTP_MAX_REDIRECTS);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, o->tls_verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, o->tls_verify ? 2L : 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (o->https)
        curl_easy_setopt(e, CURLOPT_CERTINFO, 1L);
    if (o->headers)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, o->headers);
    if (!strcmp(o->method, "HEAD"))
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (strcmp(o->method, "GET"))
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, o->method);
    if (o->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, o->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(o->body));
        if (!strcmp(o->method, "GET"))
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "GET");
    }
}

/* Hands the transfer to the multi handle, with what is left of the timeout. */
static int http_begin(struct http_run *r, char *err, size_t errlen)
{
    int left = r->timeout_ms - (int)((probe_now_ns() - r->start_ns) / 1000000);
    set_options(r, left > 0 ? left : 1);
    if (r->resolved)
        curl_easy_setopt(r->easy, CURLOPT_RESOLVE, r->resolved);
    if (curl_multi_add_handle(r->env->curl->multi, r->easy) != CURLM_OK) {
        snprintf(err, errlen, "cannot start the transfer");
        return -1;
    }
    return 0;
}

/* Ends a run that never reached curl: its result says why. */
static void http_fail(struct http_run *r, const char *why)
{
    struct probe_result res = {.ran = true};
    struct probe_curl *c = r->env->curl;
    snprintf(res.error, sizeof res.error, "%s", why);
    r->done(&res, r->ctx);
    if (r->env->curl == c) /* else the env was closed by done: the pool is gone */
        give_back(c, r->easy);
    else
        curl_easy_cleanup(r->easy);
    http_free_run(r);
}

static void on_http_resolved(int status, const struct probe_target *t, const char *err, void *ctx)
{
    struct http_run *r = ctx;
    r->resolving = NULL;
    if (status != 0) {
        http_fail(r, err);
        return;
    }
    char entry[PROBE_HOST_MAX + PROBE_ADDR_MAX + 16];
    bool v6 = t->family == AF_INET6;
    snprintf(entry, sizeof entry, "%s:%ld:%s%s%s", r->o->host, r->o->port, v6 ? "[" : "", t->addr,
             v6 ? "]" : "");
    char why[PROBE_ERROR_MAX] = "out of memory";
    r->resolved = curl_slist_append(NULL, entry);
    if (!r->resolved || http_begin(r, why, sizeof why) != 0)
        http_fail(r, why);
}

static struct probe_run *http_start(struct probe_env *env, const void *options, int timeout_ms,
                                    probe_done_cb done, void *ctx, char *err, size_t errlen)
{
    struct probe_curl *c = curl_of(env);
    struct http_run *r = c ? calloc(1, sizeof *r) : NULL;
    if (r) {
        r->headers = json_object();
        r->easy = take_easy(c);
    }
    if (!r || !r->headers || !r->easy) {
        if (r && r->easy)
            give_back(c, r->easy);
        if (r)
            http_free_run(r);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->env = env;
    r->o = options;
    r->done = done;
    r->ctx = ctx;
    r->timeout_ms = timeout_ms;
    r->start_ns = probe_now_ns();
    if (r->o->literal) {
        if (http_begin(r, err, errlen) != 0) {
            give_back(c, r->easy);
            http_free_run(r);
            return NULL;
        }
    } else if (!(r->resolving = probe_resolve(env, r->o->host, timeout_ms, on_http_resolved, r))) {
        give_back(c, r->easy);
        http_free_run(r);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return (struct probe_run *)r;
}

static void http_cancel(struct probe_run *run)
{
    struct http_run *r = (struct http_run *)run;
    give_back(r->env->curl, r->easy);
    http_free_run(r);
}

static const char *const http_members[] = {"target",           "method",     "headers",  "body",
                                           "follow_redirects", "tls_verify", "max_body", NULL};

const struct probe_type probe_type_http = {
    .name = "http",
    .placeholders = PH_BIT(PH_STATUS) | PH_BIT(PH_BODY) | PH_BIT(PH_HEADER) |
                    PH_BIT(PH_RESPONSE_TIME) | PH_BIT(PH_CERT_EXPIRES_IN) | PH_BIT(PH_CONNECTED),
    .default_condition = "[STATUS] < 400",
    .parse = http_parse,
    .free_options = http_free_options,
    .start = http_start,
    .cancel = http_cancel,
    .members = http_members,
};
