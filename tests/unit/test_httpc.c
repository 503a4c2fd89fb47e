/* test_httpc.c — httpc against a tiny HTTP server on 127.0.0.1 served by a thread in this test:
 * status and body, request headers and body as the server saw them, keep-alive reuse, refused
 * port, timeout, body cap, and httpc_close cancelling in-flight requests without leaking handles.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/admin_api.h"
#include "base/httpc.h"

/* ---- the fake server ------------------------------------------------------------------------ */

struct fake_server {
    int listen_fd;
    int port;
    pthread_t thread;
    atomic_bool stop;
    bool silent; /* reads requests, never answers */
    char *reply; /* whole HTTP response, owned */
    size_t reply_len;
    pthread_mutex_t mu;
    char seen[16384]; /* every request received, concatenated */
    size_t seen_len;
    int connections;
    int requests;
};

/* Length of the first complete request in buf, or 0 if more bytes are needed. */
static size_t request_length(const char *buf, size_t len)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head = (size_t)(end - buf) + 4;
    size_t body = 0;
    for (const char *p = buf; p < end; p = strstr(p, "\r\n") + 2)
        if (strncasecmp(p, "Content-Length:", 15) == 0)
            body = strtoul(p + 15, NULL, 10);
    return len >= head + body ? head + body : 0;
}

static void server_record(struct fake_server *s, const char *req, size_t n)
{
    pthread_mutex_lock(&s->mu);
    size_t room = sizeof s->seen - 1 - s->seen_len;
    size_t keep = n < room ? n : room;
    memcpy(s->seen + s->seen_len, req, keep);
    s->seen_len += keep;
    s->seen[s->seen_len] = '\0';
    s->requests++;
    pthread_mutex_unlock(&s->mu);
}

static void server_send(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        data += n;
        len -= (size_t)n;
    }
}

/* Serves requests on one connection until the peer closes it or the test stops. */
static void server_connection(struct fake_server *s, int fd)
{
    char buf[16384];
    size_t len = 0;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t n = recv(fd, buf + len, sizeof buf - len, 0);
        if (n <= 0)
            return;
        len += (size_t)n;
        size_t req;
        while ((req = request_length(buf, len)) > 0) {
            server_record(s, buf, req);
            if (!s->silent)
                server_send(fd, s->reply, s->reply_len);
            memmove(buf, buf + req, len - req);
            len -= req;
        }
    }
}

static void *server_main(void *arg)
{
    struct fake_server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->listen_fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&s->mu);
        s->connections++;
        pthread_mutex_unlock(&s->mu);
        server_connection(s, fd);
        close(fd);
    }
    return NULL;
}

/* Binds 127.0.0.1 on a free port; returns the fd and sets *port. */
static int loopback_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t alen = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static struct fake_server *server_start(const char *reply, size_t reply_len, bool silent)
{
    struct fake_server *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->listen_fd = loopback_listener(&s->port);
    assert_int_equal(listen(s->listen_fd, 16), 0);
    s->silent = silent;
    s->reply = malloc(reply_len + 1);
    memcpy(s->reply, reply, reply_len);
    s->reply_len = reply_len;
    pthread_mutex_init(&s->mu, NULL);
    assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
    return s;
}

static void server_stop(struct fake_server *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    pthread_mutex_destroy(&s->mu);
    free(s->reply);
    free(s);
}

#define REPLY_204 "HTTP/1.1 204 No Content\r\n\r\n"
#define REPLY_200 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"

/* ---- the client side ------------------------------------------------------------------------ */

struct result {
    int calls;
    long status;
    char error[512];
    bool has_error;
    char *body;
    size_t body_len;
    int body_cut;
    double elapsed_s;
};

static void on_done(const struct httpc_response *res, void *ctx)
{
    struct result *r = ctx;
    r->calls++;
    r->status = res->status;
    r->has_error = res->error != NULL;
    snprintf(r->error, sizeof r->error, "%s", res->error ? res->error : "");
    free(r->body);
    r->body = malloc(res->body_len + 1);
    memcpy(r->body, res->body, res->body_len + 1);
    r->body_len = res->body_len;
    r->body_cut = res->body_cut;
    r->elapsed_s = res->elapsed_s;
}

static void result_free(struct result *r)
{
    free(r->body);
    r->body = NULL;
}

static char url_buf[128];

static const char *url_for(int port, const char *path)
{
    snprintf(url_buf, sizeof url_buf, "http://127.0.0.1:%d%s", port, path);
    return url_buf;
}

/* Closes the client, lets libuv release its handles and checks nothing is left. */
static void close_and_check(uv_loop_t *loop, struct httpc *c)
{
    httpc_close(c);
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void test_post_204(void **state)
{
    struct fake_server *s = server_start(REPLY_204, strlen(REPLY_204), false);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct httpc *c = httpc_new(&loop);
    assert_non_null(c);
    const char *headers[] = {"Authorization: Bearer k3y", "Content-Type: application/json", NULL};
    const char *body = "{\"name\":\"gpu-01\"}";
    char *url = strdup(url_for(s->port, "/api/v1/heartbeat"));
    char *body_copy = strdup(body);
    struct httpc_request req = {.method = "POST",
                                .url = url,
                                .headers = headers,
                                .body = body_copy,
                                .body_len = strlen(body),
                                .timeout_ms = 5000};
    struct result r = {0};
    assert_int_equal(httpc_start(c, &req, on_done, &r), 0);
    /* The request was copied: scribbling over ours must not change what is sent. */
    memset(body_copy, 'X', strlen(body));
    memset(url, 'X', strlen(url));
    free(body_copy);
    free(url);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 204);
    assert_false(r.has_error);
    assert_int_equal(r.body_len, 0);
    assert_string_equal(r.body, "");
    pthread_mutex_lock(&s->mu);
    assert_non_null(strstr(s->seen, "POST /api/v1/heartbeat HTTP/1.1\r\n"));
    assert_non_null(strstr(s->seen, "\r\nAuthorization: Bearer k3y\r\n"));
    assert_non_null(strstr(s->seen, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(s->seen, "\r\nContent-Length: 17\r\n"));
    assert_null(strstr(s->seen, "Expect:"));
    assert_non_null(strstr(s->seen, "\r\n\r\n{\"name\":\"gpu-01\"}"));
    pthread_mutex_unlock(&s->mu);
    close_and_check(&loop, c);
    result_free(&r);
    server_stop(s);
}

struct chain {
    struct httpc *client;
    const char *url;
    struct result results[2];
    int started;
};

static void on_chain_done(const struct httpc_response *res, void *ctx)
{
    struct chain *ch = ctx;
    on_done(res, &ch->results[ch->started - 1]);
    if (ch->started < 2) {
        struct httpc_request req = {.method = "GET", .url = ch->url, .timeout_ms = 5000};
        ch->started++;
        assert_int_equal(httpc_start(ch->client, &req, on_chain_done, ch), 0);
    }
}

/* Two requests in a row (the second started from the first's callback) share one connection. */
static void test_keep_alive_reuse(void **state)
{
    struct fake_server *s = server_start(REPLY_200, strlen(REPLY_200), false);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct chain ch = {.client = httpc_new(&loop), .started = 1};
    ch.url = url_for(s->port, "/x");
    struct httpc_request req = {.url = ch.url, .timeout_ms = 5000};
    assert_int_equal(httpc_start(ch.client, &req, on_chain_done, &ch), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ch.results[i].calls, 1);
        assert_int_equal(ch.results[i].status, 200);
        assert_string_equal(ch.results[i].body, "hello");
        result_free(&ch.results[i]);
    }
    pthread_mutex_lock(&s->mu);
    assert_int_equal(s->requests, 2);
    assert_int_equal(s->connections, 1);
    assert_non_null(strstr(s->seen, "GET /x HTTP/1.1\r\n"));
    pthread_mutex_unlock(&s->mu);
    close_and_check(&loop, ch.client);
    server_stop(s);
}

static void test_refused(void **state)
{
    int port;
    close(loopback_listener(&port)); /* bound, never listened, now free: connect is refused */
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct httpc *c = httpc_new(&loop);
    struct httpc_request req = {.method = "POST",
                                .url = url_for(port, "/"),
                                .body = "{}",
                                .body_len = 2,
                                .timeout_ms = 5000};
    struct result r = {0};
    assert_int_equal(httpc_start(c, &req, on_done, &r), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 0);
    assert_true(r.has_error);
    assert_true(strlen(r.error) > 0);
    close_and_check(&loop, c);
    result_free(&r);
}

static void test_timeout(void **state)
{
    struct fake_server *s = server_start("", 0, true);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct httpc *c = httpc_new(&loop);
    struct httpc_request req = {.url = url_for(s->port, "/slow"), .timeout_ms = 300};
    struct result r = {0};
    assert_int_equal(httpc_start(c, &req, on_done, &r), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 0);
    assert_true(r.has_error);
    assert_non_null(strstr(r.error, "timed out"));
    assert_true(r.elapsed_s >= 0.25 && r.elapsed_s < 3.0);
    close_and_check(&loop, c);
    result_free(&r);
    server_stop(s);
}

/* Only the first 1 MiB of a 2 MiB body is kept; the exchange still completes. */
static void test_body_cap(void **state)
{
    size_t body_len = 2u << 20;
    char head[128];
    int hl =
        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", body_len);
    char *reply = malloc((size_t)hl + body_len);
    memcpy(reply, head, (size_t)hl);
    memset(reply + hl, 'x', body_len);
    struct fake_server *s = server_start(reply, (size_t)hl + body_len, false);
    free(reply);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct httpc *c = httpc_new(&loop);
    struct httpc_request req = {.url = url_for(s->port, "/big"), .timeout_ms = 10000};
    struct result r = {0};
    assert_int_equal(httpc_start(c, &req, on_done, &r), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 200);
    assert_false(r.has_error);
    assert_int_equal(r.body_len, 1u << 20);
    assert_int_equal(strlen(r.body), 1u << 20);
    assert_int_equal(r.body_cut, 1);
    /* A request may keep more: the whole body, nothing cut. */
    req.max_body = 3u << 20;
    assert_int_equal(httpc_start(c, &req, on_done, &r), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.calls, 2);
    assert_int_equal(r.body_len, body_len);
    assert_int_equal(r.body_cut, 0);
    close_and_check(&loop, c);
    result_free(&r);
    server_stop(s);
}

struct cancel_case {
    struct httpc *client;
    struct fake_server *server;
    const char *url;
    struct result first, second;
};

/* Starting another request from a cancelled callback gets "cancelled" too, still exactly once. */
static void on_cancelled(const struct httpc_response *res, void *ctx)
{
    struct cancel_case *cc = ctx;
    on_done(res, &cc->first);
    struct httpc_request req = {.url = cc->url, .timeout_ms = 5000};
    assert_int_equal(httpc_start(cc->client, &req, on_done, &cc->second), 0);
}

/* Closes the client once the server has the request, so it is surely in flight. */
static void on_close_timer(uv_timer_t *t)
{
    struct cancel_case *cc = t->data;
    pthread_mutex_lock(&cc->server->mu);
    int seen = cc->server->requests;
    pthread_mutex_unlock(&cc->server->mu);
    if (seen == 0)
        return;
    httpc_close(cc->client);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_close_cancels(void **state)
{
    struct fake_server *s = server_start("", 0, true);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct cancel_case cc = {.client = httpc_new(&loop), .server = s};
    cc.url = url_for(s->port, "/hang");
    struct httpc_request req = {.url = cc.url, .timeout_ms = 10000};
    assert_int_equal(httpc_start(cc.client, &req, on_cancelled, &cc), 0);
    uv_timer_t timer;
    uv_timer_init(&loop, &timer);
    timer.data = &cc;
    uv_timer_start(&timer, on_close_timer, 10, 10);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(cc.first.calls, 1);
    assert_string_equal(cc.first.error, "cancelled");
    assert_int_equal(cc.first.status, 0);
    assert_int_equal(cc.second.calls, 1);
    assert_string_equal(cc.second.error, "cancelled");
    assert_int_equal(uv_loop_close(&loop), 0);
    pthread_mutex_lock(&s->mu);
    assert_int_equal(s->requests, 1);
    pthread_mutex_unlock(&s->mu);
    result_free(&cc.first);
    result_free(&cc.second);
    server_stop(s);
}

static void test_close_idle_and_null(void **state)
{
    httpc_close(NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    close_and_check(&loop, httpc_new(&loop));
}

/* A URL curl refuses still ends in exactly one callback with an error. */
static void test_bad_url(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct httpc *c = httpc_new(&loop);
    struct httpc_request req = {.url = "ftp://127.0.0.1/x", .timeout_ms = 1000};
    struct result r = {0};
    assert_int_equal(httpc_start(c, &req, on_done, &r), 0);
    assert_int_equal(r.calls, 0); /* never from inside httpc_start */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 0);
    assert_true(r.has_error);
    close_and_check(&loop, c);
    result_free(&r);
}

/* A request curl rejects while it is being set up (a URL over curl's 8 MB input limit) is
 * reported from a later loop turn, not from inside httpc_start. */
static void test_start_failure_deferred(void **state)
{
    size_t n = 9u << 20;
    char *url = malloc(n + 1);
    memcpy(url, "http://127.0.0.1/", 17);
    memset(url + 17, 'a', n - 17);
    url[n] = '\0';
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct httpc *c = httpc_new(&loop);
    struct httpc_request req = {.url = url};
    struct result r = {0};
    assert_int_equal(httpc_start(c, &req, on_done, &r), 0);
    free(url);
    assert_int_equal(r.calls, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 0);
    assert_true(r.has_error);
    close_and_check(&loop, c);
    result_free(&r);
}

/* The admin API's URL: credentials from the URL (percent-decoded) win over the environment's;
 * without a user, "admin"; the base keeps no credentials nor trailing '/'; not http(s): -1. */
static void test_admin_server_parse(void **state)
{
    struct admin_server s;
    setenv("FAULTLINE_ADMIN_USER", "ops", 1);
    setenv("FAULTLINE_ADMIN_PASSWORD", "envpass", 1);
    assert_int_equal(admin_server_parse("http://al%40ice:p%3Ass@127.0.0.1:5000/", &s), 0);
    assert_string_equal(s.base, "http://127.0.0.1:5000");
    assert_string_equal(s.auth, "Authorization: Basic YWxAaWNlOnA6c3M="); /* al@ice:p:ss */
    assert_int_equal(admin_server_parse("https://monitor.example:8443", &s), 0);
    assert_string_equal(s.base, "https://monitor.example:8443");
    assert_string_equal(s.auth, "Authorization: Basic b3BzOmVudnBhc3M="); /* ops:envpass */
    unsetenv("FAULTLINE_ADMIN_USER");
    assert_int_equal(admin_server_parse("http://h:1", &s), 0);
    assert_string_equal(s.auth, "Authorization: Basic YWRtaW46ZW52cGFzcw=="); /* admin:envpass */
    unsetenv("FAULTLINE_ADMIN_PASSWORD");
    assert_int_equal(admin_server_parse("ftp://h", &s), -1);
    assert_int_equal(admin_server_parse("http://h /x", &s), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_204),
        cmocka_unit_test(test_keep_alive_reuse),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_admin_server_parse),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_body_cap),
        cmocka_unit_test(test_close_cancels),
        cmocka_unit_test(test_close_idle_and_null),
        cmocka_unit_test(test_bad_url),
        cmocka_unit_test(test_start_failure_deferred),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
