/* http.c — libmicrohttpd driven by libuv: MHD's epoll fd is watched with a uv_poll_t and MHD's
 * own timeouts with a uv_timer_t, so MHD_run runs on the loop thread; see http.h. */
#include "server/http.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/num.h"
#include "server/json_input.h"

struct http_server {
    uv_loop_t *loop;
    struct MHD_Daemon *daemon;
    uv_poll_t poll;
    uv_timer_t timer;
    int open_handles;
    struct http_config cfg;
    struct MHD_Response *no_content;
};

struct http_request {
    struct http_server *srv;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    char *body;
    size_t body_len, body_cap;
    bool started;   /* the first call of the access handler has been seen */
    bool too_large; /* body over body_max: discarded, answered 413 */
    size_t body_max;
    bool suspended;
    bool answered;
    struct MHD_Response *pending; /* answer given while suspended, queued on resume */
    unsigned pending_status;
    char client_ip[INET6_ADDRSTRLEN];
    char *auth_user, *auth_pass;
};

static void http_schedule(struct http_server *srv);
static void on_timer(uv_timer_t *t);
static void remember_client_ip(struct http_request *req);

static void queue(struct http_request *req, unsigned status, struct MHD_Response *resp)
{
    req->answered = true;
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

static struct MHD_Response *make_response(const char *content_type, const char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    return resp;
}

void http_respond(struct http_request *req, int status, const char *content_type, const char *body,
                  size_t len)
{
    queue(req, (unsigned)status, make_response(content_type, body, len));
}

void http_respond_page(struct http_request *req, int status, const char *html, size_t len)
{
    struct MHD_Response *resp = make_response("text/html; charset=utf-8", html, len);
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

void http_respond_no_content(struct http_request *req)
{
    if (req->suspended) {
        http_respond(req, MHD_HTTP_NO_CONTENT, NULL, "", 0);
        return;
    }
    req->answered = true;
    MHD_queue_response(req->conn, MHD_HTTP_NO_CONTENT, req->srv->no_content);
}

void http_respond_auth_required(struct http_request *req, const char *realm)
{
    static const char body[] = "{\"error\":\"authentication required\"}";
    struct MHD_Response *resp = make_response("application/json", body, sizeof body - 1);
    req->answered = true;
    MHD_queue_basic_auth_fail_response(req->conn, realm, resp);
    MHD_destroy_response(resp);
}

void http_suspend(struct http_request *req)
{
    req->suspended = true;
    MHD_suspend_connection(req->conn);
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
    if (!req->client_ip[0])
        remember_client_ip(req);
    return req->client_ip;
}

bool http_basic_auth(struct http_request *req, const char **user, const char **pass)
{
    if (!req->auth_user)
        req->auth_user = MHD_basic_auth_get_username_password(req->conn, &req->auth_pass);
    *user = req->auth_user;
    *pass = req->auth_pass;
    return req->auth_user && req->auth_pass;
}

static void remember_client_ip(struct http_request *req)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = info ? info->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                  req->client_ip, sizeof req->client_ip);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
        /* IPv4 clients of a dual-stack socket are shown as plain IPv4. */
        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
            inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], req->client_ip, sizeof req->client_ip);
        else
            inet_ntop(AF_INET6, &sin6->sin6_addr, req->client_ip, sizeof req->client_ip);
    }
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

static void dispatch(struct http_request *req)
{
    if (req->too_large) {
        char msg[64];
        snprintf(msg, sizeof msg, "body larger than %zu bytes", req->body_max);
        http_respond_error(req, 413, msg, NULL);
        return;
    }
    const struct http_route *route = route_find(req);
    struct http_server *srv = req->srv;
    if (route && (route->access == HTTP_PUBLIC ||
                  srv->cfg.authorize(req, route->access, srv->cfg.authorize_ctx)))
        route->handler(req, srv->cfg.ctx);
    if (!req->answered && !req->suspended) {
        log_error("http: handler for %s %s gave no answer", req->method, req->path);
        http_respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error", NULL);
    }
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

static bool declared_too_large(struct MHD_Connection *conn, size_t body_max)
{
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return cl && strtoull(cl, NULL, 10) > body_max;
}

static void body_append(struct http_request *req, const char *data, size_t len)
{
    if (req->too_large || req->body_len + len > req->body_max) {
        req->too_large = true;
        return;
    }
    if (req->body_len + len + 1 > req->body_cap) {
        /* Heartbeats are a few hundred bytes: start small enough for malloc's fast path. */
        size_t cap = req->body_cap ? req->body_cap * 2 : 512;
        while (cap < req->body_len + len + 1)
            cap *= 2;
        char *bigger = realloc(req->body, cap);
        if (!bigger) {
            req->too_large = true;
            return;
        }
        req->body = bigger;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, data, len);
    req->body_len += len;
    req->body[req->body_len] = '\0';
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct http_request *req = *con_cls;
    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        req->srv = cls;
        req->conn = conn;
        req->method = method;
        req->path = url;
        req->body_max = route_body_max(cls, method, url);
        *con_cls = req;
        if (declared_too_large(conn, req->body_max)) {
            req->too_large = true;
            dispatch(req);
        }
        return MHD_YES;
    }
    if (req->pending) { /* resumed after an asynchronous answer */
        MHD_queue_response(conn, req->pending_status, req->pending);
        MHD_destroy_response(req->pending);
        req->pending = NULL;
        return MHD_YES;
    }
    if (req->answered)
        return MHD_YES;
    if (*upload_data_size > 0) {
        body_append(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    dispatch(req);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    struct http_request *req = *con_cls;
    if (!req)
        return;
    if (req->pending)
        MHD_destroy_response(req->pending);
    free(req->body);
    MHD_free(req->auth_user);
    MHD_free(req->auth_pass);
    free(req);
    *con_cls = NULL;
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
    struct http_server *srv = calloc(1, sizeof *srv);
    srv->loop = loop;
    srv->cfg = *cfg;
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, &ss,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)120, MHD_OPTION_CONNECTION_LIMIT, (unsigned)20000,
        /* MHD clears a connection's pool for every request: 16 KiB instead of the default
         * 32 KiB measured 96k -> 114k heartbeats/s (BENCHMARKS.md); 8 KiB gained nothing. */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)1024, MHD_OPTION_END);
    if (!srv->daemon) {
        snprintf(err, errlen, "cannot listen on %s port %d (in use, or not an address here?)", addr,
                 port);
        free(srv);
        return NULL;
    }
    srv->no_content = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    uv_poll_init(loop, &srv->poll, info->epoll_fd);
    uv_timer_init(loop, &srv->timer);
    srv->poll.data = srv->timer.data = srv;
    srv->open_handles = 2;
    uv_poll_start(&srv->poll, UV_READABLE, on_poll);
    http_schedule(srv);
    return srv;
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
    MHD_stop_daemon(srv->daemon);
    MHD_destroy_response(srv->no_content);
    uv_close((uv_handle_t *)&srv->poll, on_handle_closed);
    uv_close((uv_handle_t *)&srv->timer, on_handle_closed);
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
    snprintf(err, errlen, "%s: expected an ISO 8601 UTC time, got \"%.40s\"", name, text);
    return -1;
}
