/* httpc.c — the libcurl multi interface stepped by the libuv loop: curl tells us which sockets
 * to watch (one uv_poll_t each) and when to wake it (one uv_timer_t); we hand readiness back
 * with curl_multi_socket_action and finish transfers on CURLMSG_DONE. See httpc.h. */
#include "base/httpc.h"

#include <curl/curl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTPC_BODY_CAP (1024 * 1024)
#define HTTPC_DEFAULT_TIMEOUT_MS 30000L

/* One transfer. Owned by the client from httpc_start until its done callback has returned. */
struct httpc_xfer {
    CURL *easy; /* NULL when starting failed before an easy handle existed */
    struct curl_slist *headers;
    char *body; /* response body, NUL-terminated, at most body_cap bytes kept */
    size_t body_len, body_cap;
    int body_cut; /* more came than body_cap */
    uint64_t started_ns;
    httpc_done_cb done;
    void *ctx;
    struct httpc_xfer *prev, *next;
    char error[CURL_ERROR_SIZE]; /* curl's error buffer, or why starting failed */
};

/* One socket curl asked us to watch. Freed in its close callback. */
struct httpc_sock {
    uv_poll_t poll;
    struct httpc *client;
    curl_socket_t fd;
    struct httpc_sock *prev, *next;
};

struct httpc {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;          /* curl's timeout */
    uv_timer_t defer;          /* completes transfers that failed to start, one loop turn later */
    struct httpc_xfer *active; /* added to the multi handle */
    struct httpc_xfer *failed; /* waiting for the defer timer */
    struct httpc_sock *socks;
    int open_handles; /* uv handles not yet through their close callback */
    bool closing;
};

/* Intrusive doubly linked lists: the same two helpers serve transfers and sockets. */
#define LIST_PUSH(head, item)                                                                      \
    do {                                                                                           \
        (item)->prev = NULL;                                                                       \
        (item)->next = (head);                                                                     \
        if (head)                                                                                  \
            (head)->prev = (item);                                                                 \
        (head) = (item);                                                                           \
    } while (0)

#define LIST_UNLINK(head, item)                                                                    \
    do {                                                                                           \
        if ((item)->prev)                                                                          \
            (item)->prev->next = (item)->next;                                                     \
        else                                                                                       \
            (head) = (item)->next;                                                                 \
        if ((item)->next)                                                                          \
            (item)->next->prev = (item)->prev;                                                     \
        (item)->prev = (item)->next = NULL;                                                        \
    } while (0)

static pthread_once_t httpc_global_once = PTHREAD_ONCE_INIT;
static CURLcode httpc_global_rc = CURLE_FAILED_INIT;

static void httpc_global_init(void)
{
    httpc_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- transfers ---------------------------------------------------------------------------- */

static void httpc_xfer_free(struct httpc_xfer *x)
{
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    free(x->body);
    free(x);
}

/* Calls done exactly once with what the transfer got, then frees it. The transfer must already
 * be off every list and out of the multi handle. */
static void httpc_xfer_finish(struct httpc_xfer *x, long status, const char *error)
{
    curl_off_t retry_after = 0;
    if (!x->easy || curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &retry_after) != CURLE_OK ||
        retry_after < 0)
        retry_after = 0;
    struct httpc_response res = {
        .retry_after_s = retry_after > LONG_MAX ? LONG_MAX : (long)retry_after,
        .status = status,
        .error = error,
        .body = x->body ? x->body : "",
        .body_len = x->body_len,
        .body_cut = x->body_cut,
        .elapsed_s = (double)(uv_hrtime() - x->started_ns) / 1e9,
    };
    x->done(&res, x->ctx);
    httpc_xfer_free(x);
}

static size_t httpc_on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct httpc_xfer *x = userp;
    size_t n = size * nmemb;
    size_t room = x->body_cap - x->body_len;
    size_t keep = n < room ? n : room;
    if (keep < n)
        x->body_cut = 1;
    if (keep == 0)
        return n; /* over the cap: read on, keep nothing */
    char *grown = realloc(x->body, x->body_len + keep + 1);
    if (!grown)
        return 0; /* curl fails the transfer with a write error */
    memcpy(grown + x->body_len, data, keep);
    x->body = grown;
    x->body_len += keep;
    x->body[x->body_len] = '\0';
    return n;
}

static bool httpc_has_header(const char *const *headers, const char *name)
{
    size_t n = strlen(name);
    for (; headers && *headers; headers++)
        if (strncasecmp(*headers, name, n) == 0 && (*headers)[n] == ':')
            return true;
    return false;
}

/* Copies the request's headers; adds "Expect:" so curl never waits for 100-continue. */
static int httpc_xfer_set_headers(struct httpc_xfer *x, const char *const *headers)
{
    for (const char *const *h = headers; h && *h; h++) {
        struct curl_slist *l = curl_slist_append(x->headers, *h);
        if (!l)
            return -1;
        x->headers = l;
    }
    if (!httpc_has_header(headers, "Expect")) {
        struct curl_slist *l = curl_slist_append(x->headers, "Expect:");
        if (!l)
            return -1;
        x->headers = l;
    }
    return curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers) == CURLE_OK ? 0 : -1;
}

/* Method and body. The body is copied by curl (CURLOPT_COPYPOSTFIELDS). */
static CURLcode httpc_xfer_set_method(CURL *easy, const struct httpc_request *req)
{
    const char *method = req->method ? req->method : "GET";
    bool has_body = req->body != NULL || strcmp(method, "POST") == 0;
    CURLcode rc = CURLE_OK;
    if (has_body) {
        rc = curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
    } else if (strcmp(method, "HEAD") == 0) {
        return curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") == 0) {
        return curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    }
    if (rc == CURLE_OK && strcmp(method, has_body ? "POST" : "GET") != 0)
        rc = curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
    return rc;
}

/* An https:// URL may only be fetched over TLS, verified (curl's defaults, stated here so that
 * they cannot drift) against ca_file or the system's CAs. */
static CURLcode httpc_xfer_set_tls(CURL *easy, const struct httpc_request *req)
{
    bool https = req->url && strncmp(req->url, "https://", 8) == 0;
    CURLcode rc = curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, https ? "https" : "http,https");
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (rc == CURLE_OK && req->ca_file)
        rc = curl_easy_setopt(easy, CURLOPT_CAINFO, req->ca_file);
    return rc;
}

/* Creates the easy handle and copies the request into it. Returns 0, or -1 with x->error set. */
static int httpc_xfer_setup(struct httpc_xfer *x, const struct httpc_request *req)
{
    x->easy = curl_easy_init();
    if (!x->easy) {
        snprintf(x->error, sizeof x->error, "curl_easy_init failed");
        return -1;
    }
    CURL *e = x->easy;
    long timeout = req->timeout_ms > 0 ? req->timeout_ms : HTTPC_DEFAULT_TIMEOUT_MS;
    CURLcode rc = curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->error);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(e, CURLOPT_URL, req->url ? req->url : "");
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, httpc_on_body);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(e, CURLOPT_USERAGENT, "faultline/" FAULTLINE_VERSION);
    if (rc == CURLE_OK)
        rc = httpc_xfer_set_tls(e, req);
    if (rc == CURLE_OK)
        rc = httpc_xfer_set_method(e, req);
    if (rc != CURLE_OK) {
        if (!x->error[0])
            snprintf(x->error, sizeof x->error, "%s", curl_easy_strerror(rc));
        return -1;
    }
    if (httpc_xfer_set_headers(x, req->headers) != 0) {
        snprintf(x->error, sizeof x->error, "out of memory copying headers");
        return -1;
    }
    return 0;
}

/* Finishes an exchange curl reported done: HTTP status, or the transport error. */
static void httpc_xfer_done(struct httpc *c, struct httpc_xfer *x, CURLcode result)
{
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(c->multi, x->easy);
    LIST_UNLINK(c->active, x);
    const char *error = NULL;
    if (result != CURLE_OK) {
        if (!x->error[0])
            snprintf(x->error, sizeof x->error, "%s", curl_easy_strerror(result));
        error = x->error;
    }
    httpc_xfer_finish(x, status, error);
}

/* Reaps finished transfers. A done callback may close the client, which ends the walk. */
static void httpc_check_done(struct httpc *c)
{
    CURLMsg *msg;
    int left;
    while (!c->closing && (msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURLcode result = msg->data.result;
        char *priv = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        httpc_xfer_done(c, (struct httpc_xfer *)(void *)priv, result);
    }
}

/* ---- sockets and timers curl asks for ------------------------------------------------------ */

static void httpc_on_handle_closed(uv_handle_t *h)
{
    struct httpc *c = h->data;
    if (h->type == UV_POLL)
        free(h); /* the poll is the first member of struct httpc_sock */
    if (--c->open_handles > 0)
        return;
    /* Requests started after httpc_close returned still get their callback. */
    while (c->failed) {
        struct httpc_xfer *x = c->failed;
        LIST_UNLINK(c->failed, x);
        httpc_xfer_finish(x, 0, x->error);
    }
    curl_multi_cleanup(c->multi);
    free(c);
}

static void httpc_sock_close(struct httpc *c, struct httpc_sock *s)
{
    LIST_UNLINK(c->socks, s);
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, httpc_on_handle_closed);
}

static void httpc_on_poll(uv_poll_t *p, int status, int events)
{
    struct httpc_sock *s = (struct httpc_sock *)p;
    struct httpc *c = s->client;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    httpc_check_done(c);
}

static struct httpc_sock *httpc_sock_new(struct httpc *c, curl_socket_t fd)
{
    struct httpc_sock *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
        free(s);
        return NULL;
    }
    s->poll.data = c;
    s->client = c;
    s->fd = fd;
    c->open_handles++;
    LIST_PUSH(c->socks, s);
    curl_multi_assign(c->multi, fd, s);
    return s;
}

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching one socket. */
static int httpc_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct httpc *c = userp;
    struct httpc_sock *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(c->multi, fd, NULL);
            httpc_sock_close(c, s);
        }
        return 0;
    }
    if (c->closing)
        return 0;
    if (!s && !(s = httpc_sock_new(c, fd)))
        return -1;
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    return uv_poll_start(&s->poll, events, httpc_on_poll) == 0 ? 0 : -1;
}

static void httpc_on_timeout(uv_timer_t *t)
{
    struct httpc *c = t->data;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    httpc_check_done(c);
}

/* CURLMOPT_TIMERFUNCTION: curl wants a wake-up in timeout_ms (0: on the next loop turn), or
 * none (-1). Acting here directly is not allowed: we are inside a curl call. */
static int httpc_on_timer_set(CURLM *multi, long timeout_ms, void *userp)
{
    struct httpc *c = userp;
    if (timeout_ms < 0 || c->closing)
        return uv_timer_stop(&c->timer) == 0 ? 0 : -1;
    return uv_timer_start(&c->timer, httpc_on_timeout, (uint64_t)timeout_ms, 0) == 0 ? 0 : -1;
}

/* ---- deferred failures ---------------------------------------------------------------------- */

static void httpc_on_defer(uv_timer_t *t)
{
    struct httpc *c = t->data;
    while (!c->closing && c->failed) {
        struct httpc_xfer *x = c->failed;
        LIST_UNLINK(c->failed, x);
        httpc_xfer_finish(x, 0, x->error);
    }
}

static void httpc_fail_later(struct httpc *c, struct httpc_xfer *x)
{
    if (x->easy) {
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
    }
    LIST_PUSH(c->failed, x);
    if (!c->closing)
        uv_timer_start(&c->defer, httpc_on_defer, 0, 0);
}

/* ---- public interface ----------------------------------------------------------------------- */

struct httpc *httpc_new(uv_loop_t *loop)
{
    pthread_once(&httpc_global_once, httpc_global_init);
    if (httpc_global_rc != CURLE_OK)
        return NULL;
    struct httpc *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->loop = loop;
    c->multi = curl_multi_init();
    if (!c->multi) {
        free(c);
        return NULL;
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, httpc_on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, httpc_on_timer_set);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    uv_timer_init(loop, &c->timer);
    uv_timer_init(loop, &c->defer);
    c->timer.data = c->defer.data = c;
    c->open_handles = 2;
    return c;
}

int httpc_start(struct httpc *client, const struct httpc_request *req, httpc_done_cb done,
                void *ctx)
{
    struct httpc_xfer *x = calloc(1, sizeof *x);
    if (!x)
        return -1;
    x->done = done;
    x->ctx = ctx;
    x->body_cap = req->max_body ? req->max_body : HTTPC_BODY_CAP;
    x->started_ns = uv_hrtime();
    if (client->closing) {
        snprintf(x->error, sizeof x->error, "cancelled");
        httpc_fail_later(client, x);
        return 0;
    }
    if (httpc_xfer_setup(x, req) != 0) {
        httpc_fail_later(client, x);
        return 0;
    }
    CURLMcode mrc = curl_multi_add_handle(client->multi, x->easy);
    if (mrc != CURLM_OK) {
        snprintf(x->error, sizeof x->error, "%s", curl_multi_strerror(mrc));
        httpc_fail_later(client, x);
        return 0;
    }
    LIST_PUSH(client->active, x);
    return 0;
}

/* Completes every transfer: those in flight as "cancelled", those that failed to start with their
 * own error. A callback may start another request; it lands on the failed list and is drained
 * here too. */
static void httpc_drain(struct httpc *c)
{
    while (c->active || c->failed) {
        struct httpc_xfer *x;
        if (c->active) {
            x = c->active;
            LIST_UNLINK(c->active, x);
            curl_multi_remove_handle(c->multi, x->easy);
            snprintf(x->error, sizeof x->error, "cancelled");
        } else {
            x = c->failed;
            LIST_UNLINK(c->failed, x);
        }
        httpc_xfer_finish(x, 0, x->error);
    }
}

void httpc_close(struct httpc *client)
{
    if (!client || client->closing)
        return;
    client->closing = true;
    uv_timer_stop(&client->timer);
    uv_timer_stop(&client->defer);
    httpc_drain(client);
    while (client->socks)
        httpc_sock_close(client, client->socks);
    /* The multi handle lives until the last close callback: a done callback up the stack may
     * still be returning into httpc_check_done. */
    curl_multi_setopt(client->multi, CURLMOPT_SOCKETFUNCTION, NULL);
    curl_multi_setopt(client->multi, CURLMOPT_TIMERFUNCTION, NULL);
    uv_close((uv_handle_t *)&client->timer, httpc_on_handle_closed);
    uv_close((uv_handle_t *)&client->defer, httpc_on_handle_closed);
}
