/* http.h — the server's HTTP layer: libmicrohttpd in external-loop mode, its epoll fd polled by
 * libuv, so every handler runs on the loop thread that owns the server's state. Requests are
 * matched against a route table; bodies are collected up to a size limit (413 beyond it).
 *
 * A handler must answer exactly once, with one of the http_respond_* calls, either before it
 * returns or later (after http_suspend) from another callback on the loop thread. Request
 * fields stay valid until the response is sent. */
#ifndef FAULTLINE_HTTP_H
#define FAULTLINE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#define HTTP_BODY_MAX 8192 /* unless a route says otherwise */

struct http_request;
struct http_server;

typedef void (*http_handler)(struct http_request *req, void *ctx);

struct http_route {
    const char *method; /* "GET", "POST" */
    const char *path;   /* exact path, or a prefix when it ends with '/' and prefix is set */
    bool prefix;
    http_handler handler;
    size_t body_max; /* largest body accepted (413 beyond it); 0 = HTTP_BODY_MAX */
};

/* Starts listening on addr:port. routes (terminated by a zero row) and ctx must outlive the
 * server. Returns NULL with err set (e.g. port in use). */
struct http_server *http_server_start(uv_loop_t *loop, const char *addr, int port,
                                      const struct http_route *routes, void *ctx, char *err,
                                      size_t errlen);

/* Stops accepting, closes connections and handles; frees once libuv released them. */
void http_server_stop(struct http_server *srv);

/* Request accessors. */
const char *http_method(const struct http_request *req);
const char *http_path(const struct http_request *req);
const char *http_header(const struct http_request *req, const char *name); /* NULL if absent */
const char *http_query(const struct http_request *req, const char *name);  /* NULL if absent */
const char *http_body(const struct http_request *req, size_t *len);
const char *http_client_ip(struct http_request *req); /* "203.0.113.7", formatted on first use */

/* Credentials from an "Authorization: Basic" header; returns false if none. The strings are
 * owned by the request. */
bool http_basic_auth(struct http_request *req, const char **user, const char **pass);

/* Keeps the connection open after the handler returns; answer later with http_respond_*. */
void http_suspend(struct http_request *req);

/* Answers. body is copied. */
void http_respond(struct http_request *req, int status, const char *content_type,
                  const char *body, size_t len);
void http_respond_json_text(struct http_request *req, int status, const char *json);
/* {"error": message} (and "field" when field is not NULL). */
void http_respond_error(struct http_request *req, int status, const char *message,
                        const char *field);
/* 204 No Content, from a response built once. */
void http_respond_no_content(struct http_request *req);
/* 401 with WWW-Authenticate: Basic realm=... */
void http_respond_auth_required(struct http_request *req, const char *realm);

#endif
