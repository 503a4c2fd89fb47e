/* httpc.h — non-blocking HTTP client on the libuv loop (libcurl multi interface driven by
 * uv_poll and uv_timer). Used by the agent for heartbeats and by alert channels; nothing here
 * blocks the loop. An https:// URL is fetched over verified TLS only: never plain HTTP.
 *
 * Ownership: httpc_start copies the request (URL, headers, body) before returning. The response
 * passed to the callback, and its body, are valid only during the callback. */
#ifndef FAULTLINE_HTTPC_H
#define FAULTLINE_HTTPC_H

#include <stddef.h>
#include <uv.h>

struct httpc_request {
    const char *method; /* "GET", "POST", ... */
    const char *url;
    const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
    const char *body;           /* may be NULL */
    size_t body_len;
    long timeout_ms;     /* whole transfer; 0 = 30 s */
    const char *ca_file; /* PEM file of the CAs an https:// server must chain to; NULL: the
                          * system's. The certificate and its name are always verified. */
    size_t max_body;     /* bytes of the answer's body kept; 0 = 1 MiB */
};

struct httpc_response {
    long status;       /* HTTP status, 0 when no response came */
    const char *error; /* NULL on a completed exchange, else what went wrong (transport) */
    const char *body;  /* NUL-terminated, at most the request's max_body (1 MiB) kept */
    int body_cut;      /* 1 when the answer's body was longer than what was kept */
    size_t body_len;
    double elapsed_s;
    long retry_after_s; /* the answer's Retry-After in seconds (a delay or a date), 0 if none */
};

typedef void (*httpc_done_cb)(const struct httpc_response *res, void *ctx);

struct httpc;

struct httpc *httpc_new(uv_loop_t *loop);

/* Starts a request; done is called exactly once, on the loop thread (also on failure to start,
 * from a later loop turn). Returns 0, or -1 if out of memory (done is then not called). */
int httpc_start(struct httpc *client, const struct httpc_request *req, httpc_done_cb done,
                void *ctx);

/* Aborts requests in flight (their callbacks run with error "cancelled"), closes the handles,
 * and frees the client once libuv has released them. NULL is a no-op. */
void httpc_close(struct httpc *client);

#endif
