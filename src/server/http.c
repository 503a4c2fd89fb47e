/* http.c — libmicrohttpd driven by libuv: MHD's epoll fd is watched with a uv_poll_t and MHD's
 * own timeouts with a uv_timer_t, so MHD_run runs on the loop thread; see http.h. Around MHD:
 * an accept policy and a record per connection (from MHD's connection notifications) for the
 * per-address limits (clients.h) and the deadlines, a sweep every second that enforces them,
 * the lingering close of connections answered before their body, and streamed answers (a
 * content-reader callback that suspends its connection while it has nothing to send). */
#include "server/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/num.h"
#include "server/json_input.h"
#include "server/clients.h"
#include "server/tls.h"

/* A connection answered before its body was read is drained this long, at most this many
 * bytes, before it is closed; at most LINGER_MAX of them at once (beyond, closed at once). */
#define LINGER_MS 2000
#define LINGER_BYTES (16 * 1024 * 1024)
#define LINGER_MAX 256
#define SWEEP_MS 1000
/* An address stays an agent's this long after its last valid API key (clients.h). */
#define AGENT_MEMORY_MS (60 * 60 * 1000)

/* Where a connection is in its current request. */
enum conn_phase {
    CONN_WAITING, /* for the headers of its next request, until deadline_ms */
    CONN_BODY,    /* the headers are in; its body streams (at min_body_rate after the grace) */
    CONN_HANDLED, /* answered, or with its handler */
};

/* One TCP connection (MHD's socket context), on the server's list for the sweep. */
struct http_conn {
    struct http_server *srv;
    struct http_conn *prev, *next;
    struct client_addr addr;
    char ip[INET6_ADDRSTRLEN]; /* for http_client_ip and the log */
    bool counted;              /* clients_connected succeeded */
    int fd;
    enum conn_phase phase;
    int64_t deadline_ms;   /* CONN_WAITING */
    int64_t body_since_ms; /* CONN_BODY */
    size_t body_received;
    bool closing; /* shut down by the sweep */
    bool linger;  /* answered before its body was read: drain before the close */
};

/* A closed connection's socket, drained until the client stops sending (see LINGER_*). */
struct http_linger {
    struct http_server *srv;
    struct http_linger *prev, *next;
    uv_poll_t poll;
    int fd;
    size_t drained;
    int64_t deadline_ms;
};

/* A streamed answer (http.h): its bytes not yet read by MHD are buf[off, len). */
struct http_stream {
    struct http_server *srv;
    struct http_stream *prev, *next; /* on srv->streams */
    struct MHD_Connection *conn;
    char ip[INET6_ADDRSTRLEN];
    char *buf;
    size_t off, len, cap, max;
    bool suspended; /* by the reader, for want of bytes */
    bool ended;     /* by http_stream_end: END_OF_STREAM once buf is sent */
    void (*on_close)(void *ctx);
    void *ctx;
};

struct http_server {
    uv_loop_t *loop;
    struct MHD_Daemon *daemon;
    uv_poll_t poll;
    uv_timer_t timer;
    uv_timer_t sweep;
    int open_handles;
    struct http_config cfg;
    struct MHD_Response *no_content;
    struct clients *clients;
    struct http_conn *conns;     /* every open connection */
    struct http_linger *lingers; /* every draining socket */
    struct http_stream *streams; /* every streamed answer */
    int linger_count;
    size_t body_memory; /* bytes reserved by bodies in flight */
    struct log_limit refused_log, closed_log;
    char hsts[48]; /* Strict-Transport-Security value; "" for none */
};

struct http_request {
    struct http_server *srv;
    struct MHD_Connection *conn;
    struct http_conn *hc; /* NULL only when its socket context could not be allocated */
    const struct http_route *route;
    const char *method;
    const char *path;
    char *body;
    size_t body_len, body_cap;
    size_t reserved; /* of srv->body_memory */
    size_t body_max;
    bool suspended;
    bool answered;
    struct MHD_Response *pending; /* answer given while suspended, queued on resume */
    unsigned pending_status;
    char client_ip[INET6_ADDRSTRLEN];
    char *auth_user, *auth_pass;
    char refusal[64];  /* the message of a refused body */
    uint64_t start_ns; /* uv_hrtime() when its headers were in */
    unsigned status;   /* of its answer; 0 until answered */
};

static void http_schedule(struct http_server *srv);
static void on_timer(uv_timer_t *t);
static void remember_client_ip(struct http_request *req);

static void queue(struct http_request *req, unsigned status, struct MHD_Response *resp)
{
    req->answered = true;
    req->status = status;
    if (req->suspended) {
        req->pending = resp;
        req->pending_status = status;
        req->suspended = false;
        MHD_resume_connection(req->conn);
        /* MHD only looks at resumed connections inside MHD_run: make one happen now. */
        uv_timer_start(&req->srv->timer, on_timer, 0, 0);
        return;
    }
    MHD_queue_response(req->conn, status, resp);
    MHD_destroy_response(resp);
}

static struct MHD_Response *response_with(const struct http_server *srv, const char *content_type,
                                          const char *body, size_t len,
                                          enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, mode);
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (srv->hsts[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_STRICT_TRANSPORT_SECURITY, srv->hsts);
    return resp;
}

static struct MHD_Response *make_response(const struct http_server *srv, const char *content_type,
                                          const char *body, size_t len)
{
    return response_with(srv, content_type, body, len, MHD_RESPMEM_MUST_COPY);
}

void http_respond_take(struct http_request *req, int status, const char *content_type,
                       const char *encoding, char *body, size_t len)
{
    struct MHD_Response *resp =
        response_with(req->srv, content_type, body, len, MHD_RESPMEM_MUST_FREE);
    if (encoding)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, encoding);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    queue(req, (unsigned)status, resp);
}

void http_respond(struct http_request *req, int status, const char *content_type, const char *body,
                  size_t len)
{
    queue(req, (unsigned)status, make_response(req->srv, content_type, body, len));
}

void http_respond_page(struct http_request *req, int status, const char *html, size_t len)
{
    struct MHD_Response *resp = make_response(req->srv, "text/html; charset=utf-8", html, len);
    MHD_add_response_header(resp, "Content-Security-Policy", HTTP_PAGE_CSP);
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    queue(req, (unsigned)status, resp);
}

void http_respond_json_text(struct http_request *req, int status, const char *json)
{
    http_respond(req, status, "application/json", json, strlen(json));
}

void http_respond_json(struct http_request *req, int status, json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(value);
    if (text)
        http_respond_json_text(req, status, text);
    else
        http_respond_error(req, 500, "internal error", NULL);
    free(text);
}

void http_respond_error(struct http_request *req, int status, const char *message,
                        const char *field)
{
    /* A message quoting a value from outside may hold bytes that are not UTF-8: show those as
     * \xNN rather than fail to encode the answer. */
    char shown[1024];
    size_t len = strlen(message);
    if (json_input_utf8_error(message, len) < len) {
        json_input_printable(message, len, shown, sizeof shown);
        message = shown;
    }
    json_t *obj = json_pack("{s:s}", "error", message);
    if (field)
        json_object_set_new(obj, "field", json_string(field));
    char *text = json_dumps(obj, JSON_COMPACT);
    http_respond_json_text(req, status, text ? text : "{\"error\":\"internal error\"}");
    free(text);
    json_decref(obj);
}

void http_respond_retry_after(struct http_request *req, int status, const char *message,
                              int64_t seconds)
{
    json_t *obj = json_pack("{s:s}", "error", message);
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    struct MHD_Response *resp =
        make_response(req->srv, "application/json", text ? text : "", text ? strlen(text) : 0);
    free(text);
    char value[24];
    snprintf(value, sizeof value, "%lld", (long long)(seconds > 0 ? seconds : 1));
    MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, value);
    queue(req, (unsigned)status, resp);
}

void http_respond_no_content(struct http_request *req)
{
    if (req->suspended) {
        http_respond(req, MHD_HTTP_NO_CONTENT, NULL, "", 0);
        return;
    }
    req->answered = true;
    req->status = MHD_HTTP_NO_CONTENT;
    MHD_queue_response(req->conn, MHD_HTTP_NO_CONTENT, req->srv->no_content);
}

void http_respond_auth_required(struct http_request *req, const char *realm)
{
    static const char body[] = "{\"error\":\"authentication required\"}";
    struct MHD_Response *resp = make_response(req->srv, "application/json", body, sizeof body - 1);
    req->answered = true;
    req->status = MHD_HTTP_UNAUTHORIZED;
    MHD_queue_basic_auth_fail_response(req->conn, realm, resp);
    MHD_destroy_response(resp);
}

void http_suspend(struct http_request *req)
{
    req->suspended = true;
    MHD_suspend_connection(req->conn);
}

/* ---- streamed answers ---- */

static void stream_wake(struct http_stream *s)
{
    if (!s->suspended)
        return;
    s->suspended = false;
    MHD_resume_connection(s->conn);
    uv_timer_start(&s->srv->timer, on_timer, 0, 0); /* resumed connections move in MHD_run */
}

/* MHD asks for the next bytes: what is buffered, or the end, or nothing for now (the
 * connection is then suspended until a write or the end wakes it). */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct http_stream *s = cls;
    size_t n = s->len - s->off;
    if (n == 0) {
        if (s->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        s->off = s->len = 0;
        s->suspended = true;
        MHD_suspend_connection(s->conn);
        return 0;
    }
    if (n > max)
        n = max;
    memcpy(out, s->buf + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

/* MHD is done with the answer: the connection ended. */
static void stream_free(void *cls)
{
    struct http_stream *s = cls;
    if (s->prev)
        s->prev->next = s->next;
    else if (s->srv->streams == s)
        s->srv->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (s->on_close)
        s->on_close(s->ctx);
    free(s->buf);
    free(s);
}

static int stream_append(struct http_stream *s, const char *data, size_t len)
{
    if (s->off > 0 && s->off == s->len)
        s->off = s->len = 0;
    if (s->len + len > s->cap) {
        if (s->off > 0) { /* the sent part first makes room */
            memmove(s->buf, s->buf + s->off, s->len - s->off);
            s->len -= s->off;
            s->off = 0;
        }
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + len)
            cap *= 2;
        char *bigger = cap > s->cap ? realloc(s->buf, cap) : s->buf;
        if (!bigger)
            return -1;
        s->buf = bigger;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    return 0;
}

struct http_stream *http_respond_stream(struct http_request *req, const char *content_type,
                                        size_t buffer_max, void (*on_close)(void *ctx), void *ctx)
{
    struct http_stream *s = calloc(1, sizeof *s);
    struct MHD_Response *resp =
        s ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, s,
                                              stream_free)
          : NULL;
    if (!resp) {
        free(s);
        http_respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "server out of memory", NULL);
        return NULL;
    }
    *s = (struct http_stream){.srv = req->srv, .conn = req->conn, .max = buffer_max,
                              .on_close = on_close, .ctx = ctx};
    /* A fixed kernel send buffer, so that what a slow client holds back is counted by the
     * stream's bound instead of hiding in a buffer the kernel grows up to tcp_wmem (4 MiB). */
    int sndbuf = (int)(buffer_max < 65536 ? buffer_max : 65536);
    if (req->hc)
        setsockopt(req->hc->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    snprintf(s->ip, sizeof s->ip, "%s", http_client_ip(req));
    s->next = req->srv->streams;
    if (s->next)
        s->next->prev = s;
    req->srv->streams = s;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close"); /* once it ends */
    if (req->srv->hsts[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_STRICT_TRANSPORT_SECURITY, req->srv->hsts);
    queue(req, MHD_HTTP_OK, resp);
    return s;
}

int http_stream_write(struct http_stream *s, const char *data, size_t len)
{
    if (s->ended || s->len - s->off + len > s->max || stream_append(s, data, len) != 0)
        return -1;
    stream_wake(s);
    return 0;
}

void http_stream_end(struct http_stream *s, const char *last)
{
    if (s->ended)
        return;
    if (last)
        stream_append(s, last, strlen(last)); /* past max: the last words fit or are dropped */
    s->ended = true;
    stream_wake(s);
}

const char *http_stream_client_ip(const struct http_stream *s)
{
    return s->ip;
}

const char *http_method(const struct http_request *req)
{
    return req->method;
}

const char *http_path(const struct http_request *req)
{
    return req->path;
}

const char *http_header(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_body(const struct http_request *req, size_t *len)
{
    *len = req->body_len;
    return req->body ? req->body : "";
}

const char *http_client_ip(struct http_request *req)
{
    if (req->hc)
        return req->hc->ip;
    if (!req->client_ip[0])
        remember_client_ip(req);
    return req->client_ip;
}

void http_client_agent_seen(struct http_request *req)
{
    if (req->hc)
        clients_agent_seen(req->srv->clients, &req->hc->addr, (int64_t)uv_now(req->srv->loop));
}

int http_client_auth_failed(struct http_request *req)
{
    return req->hc ? clients_auth_failed(req->srv->clients, &req->hc->addr,
                                         (int64_t)uv_now(req->srv->loop))
                   : 0;
}

int64_t http_client_auth_wait_ms(struct http_request *req)
{
    return req->hc ? clients_auth_wait_ms(req->srv->clients, &req->hc->addr,
                                          (int64_t)uv_now(req->srv->loop))
                   : 0;
}

int64_t http_client_auth_window_ms(const struct http_request *req)
{
    return req->srv->cfg.limits.auth_window_ms;
}

bool http_basic_auth(struct http_request *req, const char **user, const char **pass)
{
    if (!req->auth_user)
        req->auth_user = MHD_basic_auth_get_username_password(req->conn, &req->auth_pass);
    *user = req->auth_user;
    *pass = req->auth_pass;
    return req->auth_user && req->auth_pass;
}

/* "203.0.113.7" or "2001:db8::7"; IPv4 clients of a dual-stack socket shown as plain IPv4. */
static void format_client_ip(const struct sockaddr *sa, char out[INET6_ADDRSTRLEN])
{
    if (sa && sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  INET6_ADDRSTRLEN);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
            inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], out, INET6_ADDRSTRLEN);
        else
            inet_ntop(AF_INET6, &sin6->sin6_addr, out, INET6_ADDRSTRLEN);
    }
}

static void remember_client_ip(struct http_request *req)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    format_client_ip(info ? info->client_addr : NULL, req->client_ip);
}

/* ---- what the headers decide (see http.h): framing, route, length, credentials, memory ---- */

struct framing {
    int content_lengths;
    int transfer_encodings;
    const char *last_coding; /* the last Transfer-Encoding header's value */
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct framing *f = cls;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        f->content_lengths++;
    } else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        f->transfer_encodings++;
        f->last_coding = value ? value : "";
    }
    return MHD_YES;
}

/* Whether the last coding of a Transfer-Encoding value ("gzip, chunked") is chunked. */
static bool chunked_last(const char *value)
{
    const char *comma = strrchr(value, ',');
    const char *last = comma ? comma + 1 : value;
    last += strspn(last, " \t");
    size_t len = strcspn(last, " \t");
    return len == 7 && !strncasecmp(last, "chunked", 7);
}

/* RFC 9112 section 6.3: a length given twice, a length with a transfer coding, or a body
 * whose end is not the end of a chunked coding make the body's end ambiguous (request
 * smuggling); such a request is refused, and its connection closed. libmicrohttpd reads only a
 * single "chunked" (anything else waited for the client to close). */
static bool framing_ok(struct http_request *req)
{
    struct framing f = {0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_framing, &f);
    const char *problem = NULL, *field = MHD_HTTP_HEADER_CONTENT_LENGTH;
    int status = MHD_HTTP_BAD_REQUEST;
    if (f.content_lengths > 1) {
        problem = "Content-Length given more than once";
    } else if (f.content_lengths && f.transfer_encodings) {
        problem = "Content-Length and Transfer-Encoding together";
    } else if (f.transfer_encodings) {
        field = MHD_HTTP_HEADER_TRANSFER_ENCODING;
        if (!chunked_last(f.last_coding)) {
            problem = "Transfer-Encoding: chunked must be the last coding";
        } else if (f.transfer_encodings > 1 || strchr(f.last_coding, ',')) {
            problem = "Transfer-Encoding: only chunked is supported";
            status = MHD_HTTP_NOT_IMPLEMENTED;
        }
    }
    if (problem)
        http_respond_error(req, status, problem, field);
    return !problem;
}

/* Finds the route; on a path match with the wrong method answers 405 and returns NULL. */
static const struct http_route *route_find(struct http_request *req)
{
    bool path_known = false;
    for (const struct http_route *r = req->srv->cfg.routes; r->path; r++) {
        bool match = r->prefix ? strncmp(req->path, r->path, strlen(r->path)) == 0
                               : strcmp(req->path, r->path) == 0;
        if (!match)
            continue;
        if (strcmp(req->method, r->method) == 0 ||
            (strcmp(req->method, "HEAD") == 0 && strcmp(r->method, "GET") == 0))
            return r;
        path_known = true;
    }
    if (path_known)
        http_respond_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", NULL);
    else
        http_respond_error(req, MHD_HTTP_NOT_FOUND, "not found", NULL);
    return NULL;
}

/* The body limit of the route a request is for: its own, or HTTP_BODY_MAX. */
static size_t route_body_max(const struct http_server *srv, const char *method, const char *path)
{
    for (const struct http_route *r = srv->cfg.routes; r->path; r++)
        if (r->body_max && !strcmp(r->method, method) &&
            (r->prefix ? !strncmp(path, r->path, strlen(r->path)) : !strcmp(path, r->path)))
            return r->body_max;
    return HTTP_BODY_MAX;
}

/* The declared Content-Length (0 when none or chunked). */
static size_t declared_length(const struct http_request *req)
{
    const char *cl =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;
    return n > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)n;
}

static bool has_body(const struct http_request *req)
{
    return declared_length(req) > 0 ||
           MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/* Whether the body may grow to total bytes: 0 (its memory then taken from the budget for bodies
 * in flight), or the status to refuse it with, its message in req->refusal. Bodies within
 * HTTP_BODY_MAX are not counted: the connection limit bounds them. */
static int body_admit(struct http_request *req, size_t total)
{
    struct http_server *srv = req->srv;
    if (total > req->body_max) {
        snprintf(req->refusal, sizeof req->refusal, "body larger than %zu bytes", req->body_max);
        return MHD_HTTP_CONTENT_TOO_LARGE;
    }
    if (req->body_max <= HTTP_BODY_MAX || total <= req->reserved)
        return 0;
    size_t more = total - req->reserved;
    if (srv->body_memory + more > srv->cfg.limits.body_memory_max) {
        snprintf(req->refusal, sizeof req->refusal,
                 "server busy: too many request bodies in flight");
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    }
    srv->body_memory += more;
    req->reserved = total;
    return 0;
}

/* Answers a refusal of body_admit (or of memory) from the headers. */
static void refuse(struct http_request *req, int status)
{
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
        http_respond_retry_after(req, status, req->refusal, 1);
    else
        http_respond_error(req, status, req->refusal, NULL);
}

/* Refuses a body while it streams. libmicrohttpd 0.9 takes no answer between the headers and
 * the end of the body, so the answer is written to the socket here, and MHD told to close the
 * connection, which then lingers (conn_closed). Over TLS the socket is not ours to write: there
 * the connection is only closed. */
static enum MHD_Result refuse_mid_body(struct http_request *req, int status)
{
    req->answered = true;
    if (!req->hc || MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION))
        return MHD_NO;
    json_t *obj = json_pack("{s:s}", "error", req->refusal);
    char *json = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    char text[512];
    int len = snprintf(text, sizeof text,
                       "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\nCache-Control: no-store\r\n"
                       "X-Content-Type-Options: nosniff\r\n%s\r\n%s",
                       status, MHD_get_reason_phrase_for((unsigned)status), json ? strlen(json) : 0,
                       status == MHD_HTTP_SERVICE_UNAVAILABLE ? "Retry-After: 1\r\n" : "",
                       json ? json : "");
    free(json);
    if (len > 0 && (size_t)len < sizeof text &&
        send(req->hc->fd, text, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT) == len)
        req->hc->linger = true;
    req->hc->phase = CONN_HANDLED;
    return MHD_NO;
}

/* Runs every check the headers allow; true when the request may go on to its body. */
static bool request_screen(struct http_request *req)
{
    struct http_server *srv = req->srv;
    if (!framing_ok(req))
        return false;
    size_t declared = declared_length(req);
    if (declared > req->body_max) {
        refuse(req, body_admit(req, declared));
        return false;
    }
    req->route = route_find(req);
    if (!req->route)
        return false;
    if (req->route->access != HTTP_PUBLIC &&
        !srv->cfg.authorize(req, req->route->access, srv->cfg.authorize_ctx))
        return false;
    int status = body_admit(req, declared);
    if (status)
        refuse(req, status);
    return status == 0;
}

/* ---- the body ---- */

/* Appends a piece of the body; returns 0, or the status to refuse it with (body_admit). */
static int body_append(struct http_request *req, const char *data, size_t len)
{
    int status = body_admit(req, req->body_len + len);
    if (status)
        return status;
    if (req->body_len + len + 1 > req->body_cap) {
        /* Heartbeats are a few hundred bytes: start small enough for malloc's fast path. */
        size_t cap = req->body_cap ? req->body_cap * 2 : 512;
        while (cap < req->body_len + len + 1)
            cap *= 2;
        char *bigger = realloc(req->body, cap);
        if (!bigger) {
            snprintf(req->refusal, sizeof req->refusal, "server out of memory");
            return MHD_HTTP_SERVICE_UNAVAILABLE;
        }
        req->body = bigger;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, data, len);
    req->body_len += len;
    req->body[req->body_len] = '\0';
    return 0;
}

static void request_run(struct http_request *req)
{
    if (req->hc)
        req->hc->phase = CONN_HANDLED;
    req->route->handler(req, req->srv->cfg.ctx);
    if (!req->answered && !req->suspended) {
        log_error("http: handler for %s %s gave no answer", req->method, req->path);
        http_respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error", NULL);
    }
}

/* An answer before the body was read: the connection will close; drain it first. */
static void answered_early(struct http_request *req)
{
    if (!req->hc)
        return;
    req->hc->phase = CONN_HANDLED;
    req->hc->linger = has_body(req);
}

static enum MHD_Result request_begin(struct http_server *srv, struct MHD_Connection *conn,
                                     const char *url, const char *method, void **con_cls)
{
    struct http_request *req = calloc(1, sizeof *req);
    if (!req)
        return MHD_NO;
    req->srv = srv;
    req->conn = conn;
    req->method = method;
    req->path = url;
    req->start_ns = uv_hrtime();
    req->body_max = route_body_max(srv, method, url);
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    req->hc = info ? info->socket_context : NULL;
    *con_cls = req;
    if (req->hc) {
        req->hc->phase = CONN_BODY;
        req->hc->body_since_ms = (int64_t)uv_now(srv->loop);
        req->hc->body_received = 0;
    }
    if (!request_screen(req))
        answered_early(req);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct http_request *req = *con_cls;
    if (!req)
        return request_begin(cls, conn, url, method, con_cls);
    if (req->pending) { /* resumed after an asynchronous answer */
        MHD_queue_response(conn, req->pending_status, req->pending);
        MHD_destroy_response(req->pending);
        req->pending = NULL;
        return MHD_YES;
    }
    size_t len = *upload_data_size;
    *upload_data_size = 0;
    if (req->answered)
        return MHD_YES;
    if (len > 0) {
        if (req->hc)
            req->hc->body_received += len;
        int status = body_append(req, upload_data, len);
        return status ? refuse_mid_body(req, status) : MHD_YES;
    }
    request_run(req);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    struct http_request *req = *con_cls;
    if (!req)
        return;
    struct http_server *srv = cls;
    srv->body_memory -= req->reserved;
    if (srv->cfg.observe && req->status)
        srv->cfg.observe(srv->cfg.observe_ctx, req->route, (int)req->status,
                         (double)(uv_hrtime() - req->start_ns) / 1e9);
    if (req->hc) {
        req->hc->phase = CONN_WAITING;
        req->hc->deadline_ms = (int64_t)uv_now(srv->loop) + srv->cfg.limits.idle_timeout_ms;
    }
    if (req->pending)
        MHD_destroy_response(req->pending);
    free(req->body);
    MHD_free(req->auth_user);
    MHD_free(req->auth_pass);
    free(req);
    *con_cls = NULL;
}

/* ---- connections: admission, deadlines, the lingering close ---- */

static enum MHD_Result on_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
    struct http_server *srv = cls;
    struct client_addr addr;
    if (client_addr_from_sockaddr(sa, &addr) != 0)
        return MHD_YES;
    enum clients_verdict v = clients_admit(srv->clients, &addr, (int64_t)uv_now(srv->loop));
    if (v == CLIENTS_ADMIT)
        return MHD_YES;
    char note[64];
    if (log_limit_pass(&srv->refused_log, (int64_t)uv_now(srv->loop), note, sizeof note)) {
        char ip[INET6_ADDRSTRLEN] = "";
        format_client_ip(sa, ip);
        const struct http_limits *lim = &srv->cfg.limits;
        if (v == CLIENTS_ADDR_FULL)
            log_warn("http: refused a connection from %s: it holds %d already "
                     "(HTTP_MAX_CONNECTIONS_PER_ADDR)%s",
                     ip, lim->max_per_addr, note);
        else
            log_warn("http: refused a connection from %s: %d open, the last %d are kept for "
                     "agents (HTTP_AGENT_RESERVE)%s",
                     ip, clients_open_total(srv->clients), lim->agent_reserve, note);
    }
    return MHD_NO;
}

static void conn_opened(struct http_server *srv, struct MHD_Connection *conn, void **socket_ctx)
{
    const union MHD_ConnectionInfo *addr =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const union MHD_ConnectionInfo *fd =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct http_conn *hc = calloc(1, sizeof *hc);
    *socket_ctx = hc;
    if (!hc || !addr || !fd) /* without its record the connection still works, uncapped */
        return;
    hc->srv = srv;
    hc->fd = fd->connect_fd;
    hc->phase = CONN_WAITING;
    hc->deadline_ms = (int64_t)uv_now(srv->loop) + srv->cfg.limits.header_timeout_ms;
    format_client_ip(addr->client_addr, hc->ip);
    hc->counted = client_addr_from_sockaddr(addr->client_addr, &hc->addr) == 0 &&
                  clients_connected(srv->clients, &hc->addr) == 0;
    hc->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = hc;
    srv->conns = hc;
}

static void linger_start(struct http_server *srv, int fd);

static void conn_closed(struct http_server *srv, struct http_conn *hc)
{
    if (!hc)
        return;
    if (hc->srv) {
        if (hc->prev)
            hc->prev->next = hc->next;
        else
            srv->conns = hc->next;
        if (hc->next)
            hc->next->prev = hc->prev;
        if (hc->counted)
            clients_disconnected(srv->clients, &hc->addr);
        if (hc->linger && !hc->closing)
            linger_start(srv, hc->fd);
    }
    free(hc);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode toe)
{
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        conn_opened(cls, conn, socket_ctx);
    else
        conn_closed(cls, *socket_ctx);
}

static void linger_end(struct http_linger *l);

static void on_linger_readable(uv_poll_t *p, int status, int events)
{
    struct http_linger *l = p->data;
    char buf[16384];
    for (;;) {
        ssize_t n = read(l->fd, buf, sizeof buf);
        if (n > 0 && (l->drained += (size_t)n) < LINGER_BYTES)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && status == 0)
            return;
        linger_end(l);
        return;
    }
}

static void on_linger_closed(uv_handle_t *h)
{
    struct http_linger *l = h->data;
    struct http_server *srv = l->srv;
    close(l->fd);
    free(l);
    if (--srv->open_handles == 0)
        free(srv);
}

static void linger_end(struct http_linger *l)
{
    struct http_server *srv = l->srv;
    if (l->prev)
        l->prev->next = l->next;
    else
        srv->lingers = l->next;
    if (l->next)
        l->next->prev = l->prev;
    srv->linger_count--;
    uv_poll_stop(&l->poll);
    uv_close((uv_handle_t *)&l->poll, on_linger_closed);
}

/* Called while MHD still holds fd: a duplicate keeps the socket open past MHD's close, so the
 * answer is sent in full and the client's remaining body read away instead of reset. */
static void linger_start(struct http_server *srv, int fd)
{
    if (srv->linger_count >= LINGER_MAX)
        return;
    struct http_linger *l = calloc(1, sizeof *l);
    if (!l)
        return;
    l->fd = dup(fd);
    if (l->fd < 0 || uv_poll_init(srv->loop, &l->poll, l->fd) != 0) {
        if (l->fd >= 0)
            close(l->fd);
        free(l);
        return;
    }
    shutdown(l->fd, SHUT_WR);
    l->srv = srv;
    l->poll.data = l;
    l->deadline_ms = (int64_t)uv_now(srv->loop) + LINGER_MS;
    l->next = srv->lingers;
    if (srv->lingers)
        srv->lingers->prev = l;
    srv->lingers = l;
    srv->linger_count++;
    srv->open_handles++;
    uv_poll_start(&l->poll, UV_READABLE | UV_DISCONNECT, on_linger_readable);
}

/* Why a connection is past its time, or NULL. */
static const char *conn_overdue(const struct http_conn *hc, const struct http_limits *lim,
                                int64_t now)
{
    if (hc->phase == CONN_WAITING && now > hc->deadline_ms)
        return "request headers not complete in time (HTTP_HEADER_TIMEOUT, HTTP_IDLE_TIMEOUT)";
    int64_t rated = now - hc->body_since_ms - lim->header_timeout_ms;
    if (hc->phase == CONN_BODY && rated > 0 &&
        (double)hc->body_received < (double)lim->min_body_rate * (double)rated / 1000.0)
        return "body slower than HTTP_MIN_BODY_RATE";
    return NULL;
}

/* Every SWEEP_MS: closes connections past their deadline, ends lingering drains past theirs,
 * and lets the per-address table forget. */
static void on_sweep(uv_timer_t *t)
{
    struct http_server *srv = t->data;
    int64_t now = (int64_t)uv_now(srv->loop);
    for (struct http_conn *hc = srv->conns; hc; hc = hc->next) {
        const char *why = hc->closing ? NULL : conn_overdue(hc, &srv->cfg.limits, now);
        if (!why)
            continue;
        /* MHD sees the end of the stream at its next run and closes the connection. */
        shutdown(hc->fd, SHUT_RDWR);
        hc->closing = true;
        char note[64];
        if (log_limit_pass(&srv->closed_log, now, note, sizeof note))
            log_info("http: closed a connection from %s: %s%s", hc->ip, why, note);
    }
    for (struct http_linger *l = srv->lingers, *next; l; l = next) {
        next = l->next;
        if (now > l->deadline_ms)
            linger_end(l);
    }
    clients_sweep(srv->clients, now);
}

static void on_timer(uv_timer_t *t)
{
    struct http_server *srv = t->data;
    MHD_run(srv->daemon);
    http_schedule(srv);
}

/* Arms the timer for MHD's next timeout (connection idle limits, resumed connections). */
static void http_schedule(struct http_server *srv)
{
    MHD_UNSIGNED_LONG_LONG timeout;
    if (MHD_get_timeout(srv->daemon, &timeout) == MHD_YES)
        uv_timer_start(&srv->timer, on_timer, timeout, 0);
    else
        uv_timer_stop(&srv->timer);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct http_server *srv = p->data;
    MHD_run(srv->daemon);
    http_schedule(srv);
}

static int parse_listen(const char *addr, int port, struct sockaddr_storage *ss, unsigned *flags)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        *flags |= IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr) ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
        return 0;
    }
    return -1;
}

/* The server's state before MHD starts; NULL when out of memory. */
static struct http_server *server_new(uv_loop_t *loop, const struct http_config *cfg)
{
    struct http_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return NULL;
    srv->loop = loop;
    srv->cfg = *cfg;
    srv->clients = clients_new(&(struct clients_limits){
        .max_connections = cfg->limits.max_connections,
        .max_per_addr = cfg->limits.max_per_addr,
        .agent_reserve = cfg->limits.agent_reserve,
        .auth_max_failures = cfg->limits.auth_max_failures,
        .auth_window_ms = cfg->limits.auth_window_ms,
        .agent_memory_ms = AGENT_MEMORY_MS,
    });
    if (!srv->clients) {
        free(srv);
        return NULL;
    }
    srv->refused_log = srv->closed_log = (struct log_limit){.interval_ms = 1000, .burst = 5};
    return srv;
}

/* HTTPS: MHD's TLS flag, the certificate callback (tls.h) and the HSTS value; plain HTTP:
 * nothing (opts holds only its end). */
static int use_tls(struct http_server *srv, unsigned *flags, struct MHD_OptionItem opts[2],
                   char *err, size_t errlen)
{
    opts[0] = opts[1] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    if (!srv->cfg.tls)
        return 0;
    if (MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK) != MHD_YES) {
        snprintf(err, errlen, "TLS_CERT: this libmicrohttpd was built without HTTPS support");
        return -1;
    }
    *flags |= MHD_USE_TLS;
    opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0,
                                      (void *)tls_credentials_callback(srv->cfg.tls)};
    if (srv->cfg.hsts_max_age_s > 0)
        snprintf(srv->hsts, sizeof srv->hsts, "max-age=%d", srv->cfg.hsts_max_age_s);
    return 0;
}

struct http_server *http_server_start(uv_loop_t *loop, const struct http_config *cfg, char *err,
                                      size_t errlen)
{
    const char *addr = cfg->addr;
    int port = cfg->port;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO;
    struct sockaddr_storage ss;
    if (parse_listen(addr, port, &ss, &flags) != 0) {
        snprintf(err, errlen, "LISTEN_ADDR: expected an IPv4 or IPv6 address, got \"%s\"", addr);
        return NULL;
    }
    struct http_server *srv = server_new(loop, cfg);
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    struct MHD_OptionItem tls_opts[2];
    if (use_tls(srv, &flags, tls_opts, err, errlen) != 0) {
        clients_free(srv->clients);
        free(srv);
        return NULL;
    }
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)port, on_accept, srv, on_request, srv, MHD_OPTION_SOCK_ADDR, &ss,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        srv, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)((cfg->limits.idle_timeout_ms + 999) / 1000),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->limits.max_connections,
        /* MHD clears a connection's pool for every request: 16 KiB instead of the default
         * 32 KiB measured 96k -> 114k heartbeats/s (BENCHMARKS.md); 8 KiB gained nothing. */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)1024, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    if (!srv->daemon) {
        snprintf(err, errlen, "cannot listen on %s port %d (in use, or not an address here?)", addr,
                 port);
        clients_free(srv->clients);
        free(srv);
        return NULL;
    }
    srv->no_content = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (srv->hsts[0])
        MHD_add_response_header(srv->no_content, MHD_HTTP_HEADER_STRICT_TRANSPORT_SECURITY,
                                srv->hsts);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    uv_poll_init(loop, &srv->poll, info->epoll_fd);
    uv_timer_init(loop, &srv->timer);
    uv_timer_init(loop, &srv->sweep);
    srv->poll.data = srv->timer.data = srv->sweep.data = srv;
    srv->open_handles = 3;
    uv_poll_start(&srv->poll, UV_READABLE, on_poll);
    uv_timer_start(&srv->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    http_schedule(srv);
    return srv;
}

int http_server_port(const struct http_server *srv)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct http_server *srv = h->data;
    if (--srv->open_handles == 0)
        free(srv);
}

void http_server_stop(struct http_server *srv)
{
    if (!srv)
        return;
    uv_poll_stop(&srv->poll);
    uv_timer_stop(&srv->timer);
    uv_timer_stop(&srv->sweep);
    /* MHD must not stop with suspended connections: streams end first (their owners hear of it
     * through on_close as MHD closes them). */
    for (struct http_stream *s = srv->streams; s; s = s->next) {
        s->ended = true;
        if (s->suspended) {
            s->suspended = false;
            MHD_resume_connection(s->conn);
        }
    }
    if (srv->streams)
        MHD_run(srv->daemon);
    MHD_stop_daemon(srv->daemon); /* closes every connection (conn_closed) */
    MHD_destroy_response(srv->no_content);
    while (srv->lingers)
        linger_end(srv->lingers);
    clients_free(srv->clients);
    srv->clients = NULL;
    uv_close((uv_handle_t *)&srv->poll, on_handle_closed);
    uv_close((uv_handle_t *)&srv->timer, on_handle_closed);
    uv_close((uv_handle_t *)&srv->sweep, on_handle_closed);
}

/* ---- query parameters ---- */

int http_query_int(struct http_request *req, const char *name, int min, int max, int fallback,
                   int *out, char *err, size_t errlen)
{
    const char *text = http_query(req, name);
    *out = fallback;
    if (!text)
        return 0;
    char expected[64];
    snprintf(expected, sizeof expected, "a number from %d to %d", min, max);
    int64_t v;
    if (num_parse_int64(name, text, min, max, expected, &v, err, errlen) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

int http_query_time(struct http_request *req, const char *name, int64_t *out, char *err,
                    size_t errlen)
{
    const char *text = http_query(req, name);
    *out = 0;
    if (!text || clock_parse_iso(text, out) == 0)
        return 0;
    snprintf(err, errlen, "%s: expected an ISO 8601 time with Z or a +HH:MM offset, got \"%.40s\"",
             name, text);
    return -1;
}
