/* http.h — the server's HTTP layer: libmicrohttpd in external-loop mode, its epoll fd polled by
 * libuv, so every handler runs on the loop thread that owns the server's state. Requests are
 * matched against a route table; bodies are collected up to a size limit (413 beyond it). Each
 * route says who may call it (its access column); the server's authorizer checks that in one
 * place, before the handler runs, so a new route cannot forget it.
 *
 * Everything that needs only the headers is decided before a byte of the body is read, in this
 * order: framing (one Content-Length, not with Transfer-Encoding: 400), the route (404, 405),
 * the declared length (413), the caller's credentials (401, 403, 429) and the memory left for
 * bodies in flight (503). A body that grows past its limit while it streams (chunked) is
 * answered 413 at once. A connection answered before its body was read is closed with a bounded
 * lingering drain, so the client reads the answer instead of a reset.
 *
 * Connections are limited per client address and in total, with a reserve for the addresses
 * agents proved the API key from (clients.h); headers must be complete within a deadline and a
 * body must keep a minimum rate, or the connection is closed (struct http_limits).
 *
 * A handler must answer exactly once, with one of the http_respond_* calls, either before it
 * returns or later (after http_suspend) from another callback on the loop thread. Request
 * fields stay valid until the response is sent. */
#ifndef FAULTLINE_HTTP_H
#define FAULTLINE_HTTP_H

#include <stdbool.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define HTTP_BODY_MAX 8192 /* unless a route says otherwise */

struct http_request;
struct http_server;
struct tls_credentials;

typedef void (*http_handler)(struct http_request *req, void *ctx);

/* Who may call a route. */
enum http_access {
    HTTP_PUBLIC, /* anyone */
    HTTP_AGENT,  /* agents: the fleet's API key */
    HTTP_ADMIN,  /* the admin: HTTP Basic */
    HTTP_AGENT_QUERY, /* as HTTP_AGENT, and also ?api_key=KEY (the uptime-rca-bot's clients) */
    HTTP_METRICS, /* a scraper: METRICS_TOKEN, or the admin (auth.h) */
};

struct http_route {
    const char *method; /* "GET", "POST" */
    const char *path;   /* exact path, or a prefix when it ends with '/' and prefix is set */
    bool prefix;
    enum http_access access;
    http_handler handler;
    size_t body_max; /* largest body accepted (413 beyond it); 0 = HTTP_BODY_MAX */
};

/* Decides whether req may reach a route of that access; when not, answers it (401, 403, ...)
 * and returns false. Called for every request before its handler. */
typedef bool (*http_authorizer)(struct http_request *req, enum http_access access, void *ctx);

/* Limits against clients that would exhaust the server; every field is required. */
struct http_limits {
    int max_connections;       /* open connections, all clients together */
    int max_per_addr;          /* open connections one address may hold (agents' excepted) */
    int agent_reserve;         /* of max_connections, held for agents' addresses */
    int64_t header_timeout_ms; /* a new connection's first request headers complete by then;
                                * also the grace before the body rate counts */
    int64_t idle_timeout_ms;   /* a kept-alive connection's next request headers by then */
    int min_body_rate;         /* bytes per second a body must average after the grace */
    size_t body_memory_max;    /* bytes of request bodies in flight, all requests together */
    int auth_max_failures;     /* failed authentications per address within auth_window_ms
                                * before 429 */
    int64_t auth_window_ms;
};

struct http_config {
    const char *addr; /* an IPv4 or IPv6 address to listen on */
    int port;
    const struct http_route *routes; /* terminated by a zero row */
    void *ctx;                       /* handed to every handler */
    http_authorizer authorize;       /* checks every route that is not HTTP_PUBLIC */
    void *authorize_ctx;
    struct http_limits limits;
    struct tls_credentials *tls; /* HTTPS with these (tls.h); NULL: plain HTTP */
    int hsts_max_age_s;          /* over HTTPS, Strict-Transport-Security: max-age=N; 0: none */
    /* Told of every answered request (may be NULL): its route (NULL when none matched), its
     * status and the seconds from its headers to the end of its answer. */
    void (*observe)(void *ctx, const struct http_route *route, int status, double seconds);
    void *observe_ctx;
};

/* Starts listening. What cfg points to must outlive the server. Returns NULL with err set
 * (e.g. port in use). */
struct http_server *http_server_start(uv_loop_t *loop, const struct http_config *cfg, char *err,
                                      size_t errlen);

/* Stops accepting, closes connections and handles; frees once libuv released them. */
void http_server_stop(struct http_server *srv);

/* The port it listens on: the configured one, or the one the system picked for port 0. */
int http_server_port(const struct http_server *srv);

/* Request accessors. */
const char *http_method(const struct http_request *req);
const char *http_path(const struct http_request *req);
const char *http_header(const struct http_request *req, const char *name); /* NULL if absent */
const char *http_query(const struct http_request *req, const char *name);  /* NULL if absent */
const char *http_body(const struct http_request *req, size_t *len);
const char *http_client_ip(struct http_request *req); /* "203.0.113.7", formatted on first use */

/* The client's address, as the per-address limits see it (clients.h). The authorizer reports
 * here: a valid API key makes the address an agent's (it may use the connection reserve); a
 * wrong credential counts against the address and returns its failures in the current window.
 * http_client_auth_wait_ms is 0 when the address may try credentials now, else the ms it must
 * wait (answer 429 with http_respond_retry_after). */
void http_client_agent_seen(struct http_request *req);
int http_client_auth_failed(struct http_request *req);
int64_t http_client_auth_wait_ms(struct http_request *req);
int64_t http_client_auth_window_ms(const struct http_request *req);

/* Credentials from an "Authorization: Basic" header; returns false if none. The strings are
 * owned by the request. */
bool http_basic_auth(struct http_request *req, const char **user, const char **pass);

/* Keeps the connection open after the handler returns; answer later with http_respond_*. */
void http_suspend(struct http_request *req);

/* Answers. body is copied. */
void http_respond(struct http_request *req, int status, const char *content_type, const char *body,
                  size_t len);
void http_respond_json_text(struct http_request *req, int status, const char *json);
/* Answers with value as JSON; takes the reference (NULL answers 500). */
void http_respond_json(struct http_request *req, int status, json_t *value);
/* {"error": message} (and "field" when field is not NULL). */
void http_respond_error(struct http_request *req, int status, const char *message,
                        const char *field);
/* Answers with body, which it takes (malloc'd; freed once sent), with Content-Encoding:
 * encoding unless NULL, and Vary: Accept-Encoding. */
void http_respond_take(struct http_request *req, int status, const char *content_type,
                       const char *encoding, char *body, size_t len);
/* An HTML page (text/html; charset=utf-8) with the headers that keep it from being framed or
 * from running anything but its own inline styles: Content-Security-Policy (HTTP_PAGE_CSP),
 * Referrer-Policy: no-referrer and X-Frame-Options: DENY. */
#define HTTP_PAGE_CSP                                                                              \
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "       \
    "frame-ancestors 'none'"
void http_respond_page(struct http_request *req, int status, const char *html, size_t len);
/* {"error": message} with Retry-After: seconds (429, 503). */
void http_respond_retry_after(struct http_request *req, int status, const char *message,
                              int64_t seconds);
/* 204 No Content, from a response built once. */
void http_respond_no_content(struct http_request *req);
/* 401 with WWW-Authenticate: Basic realm=... */
void http_respond_auth_required(struct http_request *req, const char *realm);

/* ---- streamed answers (server-sent events) ----
 * A stream is a 200 answer whose body is written piece by piece for as long as the client
 * stays (chunked). What is written waits in the stream's own buffer until the client reads it;
 * the buffer is bounded, so a client that stops reading costs at most buffer_max bytes and never
 * holds up the loop or another client. While its buffer is empty the connection is suspended
 * (MHD neither polls nor times it out). Loop thread only. */
struct http_stream;

/* Answers req (suspended or not) with 200 and a stream of content_type. on_close(ctx) runs once
 * when the connection ends (the client left, the stream was ended, or the server stops); the
 * stream is freed right after it, so the owner forgets it there. Returns the stream, or NULL
 * after answering 503 (out of memory). */
struct http_stream *http_respond_stream(struct http_request *req, const char *content_type,
                                        size_t buffer_max, void (*on_close)(void *ctx),
                                        void *ctx);
/* Appends len bytes to the stream's buffer. Returns 0, or -1 (nothing appended) when they do
 * not fit in buffer_max; the caller then usually ends the stream with http_stream_end. */
int http_stream_write(struct http_stream *s, const char *data, size_t len);
/* Sends last (may be NULL; it may exceed buffer_max) after what is buffered, then closes the
 * connection; on_close follows. */
void http_stream_end(struct http_stream *s, const char *last);
/* The client's address ("203.0.113.7"). */
const char *http_stream_client_ip(const struct http_stream *s);

/* Query parameters. Each returns 0 and sets *out (to fallback when the parameter is absent), or
 * -1 with "NAME: expected ..., got \"VALUE\"" in err; the caller answers 400 naming NAME. */
int http_query_int(struct http_request *req, const char *name, int min, int max, int fallback,
                   int *out, char *err, size_t errlen);
/* An ISO 8601 time with a zone (clock_parse_iso) as wall-clock ms; absent: 0. */
int http_query_time(struct http_request *req, const char *name, int64_t *out, char *err,
                    size_t errlen);

#endif
