/* resolve.c — c-ares on the loop: channels whose sockets are watched by uv_poll (the channel's
 * sock state callback opens and closes the watchers) and whose retries run on a uv_timer, and
 * probe_resolve, the lookup every probe uses to turn a host into an address. A lookup's own
 * timer enforces its deadline; c-ares may answer later, into a token the lookup has let go of.
 * See probe_internal.h. */
#include "probe/probe_internal.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARES_TRY_TIMEOUT_MS 1000
#define ARES_TRIES 2

struct ares_sock {
    uv_poll_t poll;
    ares_socket_t fd;
    struct probe_ares *owner;
    struct probe_env *env; /* the owner may be freed first: close callbacks run in any order */
    struct ares_sock *next;
};

struct probe_ares {
    struct probe_env *env;
    ares_channel channel;
    char *server; /* NULL: the system's resolvers (/etc/resolv.conf) */
    uv_timer_t timer;
    struct ares_sock *socks;
    struct probe_ares *next;
};

static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_init_status = ARES_SUCCESS; /* written once, under ares_once */

static void ares_global_init(void)
{
    ares_init_status = ares_library_init(ARES_LIB_INIT_ALL);
}

bool probe_parse_literal(const char *host, struct probe_target *out)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->sa;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        out->sa_len = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        out->sa_len = sizeof *v6;
    } else {
        return false;
    }
    out->family = out->sa.ss_family;
    probe_addr_text((struct sockaddr *)&out->sa, out->addr, sizeof out->addr);
    return true;
}

/* ---- channels on the loop ------------------------------------------------------------------- */

static void on_ares_timer(uv_timer_t *t);

void probe_ares_kick(struct probe_ares *a)
{
    struct timeval tv;
    struct timeval *next = ares_timeout(a->channel, NULL, &tv);
    if (!next) {
        uv_timer_stop(&a->timer);
        return;
    }
    uint64_t ms = (uint64_t)next->tv_sec * 1000 + (uint64_t)(next->tv_usec + 999) / 1000;
    uv_timer_start(&a->timer, on_ares_timer, ms, 0);
}

static void on_ares_timer(uv_timer_t *t)
{
    struct probe_ares *a = t->data;
    ares_process_fd(a->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    probe_ares_kick(a);
}

static void on_ares_socket(uv_poll_t *h, int status, int events)
{
    struct ares_sock *s = h->data;
    struct probe_ares *a = s->owner;
    bool read = status < 0 || (events & UV_READABLE);
    ares_process_fd(a->channel, read ? s->fd : ARES_SOCKET_BAD,
                    events & UV_WRITABLE ? s->fd : ARES_SOCKET_BAD);
    probe_ares_kick(a);
}

static void on_ares_sock_closed(uv_handle_t *h)
{
    struct ares_sock *s = h->data;
    struct probe_env *env = s->env;
    free(s);
    probe_env_release(env);
}

/* c-ares opens, watches and closes its sockets through here. */
static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    struct probe_ares *a = data;
    struct ares_sock **link = &a->socks;
    while (*link && (*link)->fd != fd)
        link = &(*link)->next;
    struct ares_sock *s = *link;
    if (!readable && !writable) {
        if (s) {
            *link = s->next;
            uv_poll_stop(&s->poll);
            uv_close((uv_handle_t *)&s->poll, on_ares_sock_closed);
        }
        return;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || uv_poll_init_socket(a->env->loop, &s->poll, fd) != 0) {
            free(s);
            return;
        }
        s->fd = fd;
        s->owner = a;
        s->env = a->env;
        s->poll.data = s;
        s->next = a->socks;
        a->socks = s;
        probe_env_hold(a->env);
        uv_unref((uv_handle_t *)&s->poll); /* c-ares may keep it open between queries: the
                                              queries' own timers keep the loop alive */
    }
    uv_poll_start(&s->poll, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0),
                  on_ares_socket);
}

struct probe_ares *probe_ares_channel(struct probe_env *env, const char *server, char *err,
                                      size_t errlen)
{
    for (struct probe_ares *a = env->ares; a; a = a->next)
        if ((!server && !a->server) || (server && a->server && !strcmp(server, a->server)))
            return a;
    pthread_once(&ares_once, ares_global_init);
    if (ares_init_status != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(ares_init_status));
        return NULL;
    }
    struct probe_ares *a = calloc(1, sizeof *a);
    if (!a || (server && !(a->server = strdup(server)))) {
        free(a);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->env = env;
    /* A named server's answer is the probe's result as it is (SERVFAIL, REFUSED...): no retry
     * elsewhere. */
    struct ares_options opts = {.timeout = ARES_TRY_TIMEOUT_MS,
                                .tries = ARES_TRIES,
                                .flags = server ? ARES_FLAG_NOCHECKRESP : 0,
                                .sock_state_cb = on_sock_state,
                                .sock_state_cb_data = a};
    int rc = ares_init_options(&a->channel, &opts,
                               ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB |
                                   ARES_OPT_FLAGS);
    if (rc == ARES_SUCCESS && server)
        rc = ares_set_servers_ports_csv(a->channel, server);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "%s%s%s: %s", server ? "server " : "", server ? server : "",
                 server ? "" : "c-ares", ares_strerror(rc));
        if (a->channel)
            ares_destroy(a->channel);
        free(a->server);
        free(a);
        return NULL;
    }
    uv_timer_init(env->loop, &a->timer);
    a->timer.data = a;
    a->next = env->ares;
    env->ares = a;
    return a;
}

void *probe_ares_handle(struct probe_ares *a)
{
    return a->channel;
}

static void on_ares_timer_closed(uv_handle_t *h)
{
    struct probe_ares *a = h->data;
    struct probe_env *env = a->env;
    free(a->server);
    free(a);
    probe_env_release(env);
}

void probe_ares_close_all(struct probe_env *env)
{
    while (env->ares) {
        struct probe_ares *a = env->ares;
        env->ares = a->next;
        ares_destroy(a->channel); /* pending queries end with ARES_EDESTRUCTION */
        probe_env_hold(env);
        uv_close((uv_handle_t *)&a->timer, on_ares_timer_closed);
    }
}

/* ---- probe_resolve -------------------------------------------------------------------------- */

/* What c-ares calls back into; the lookup lets go of it (r = NULL) when it ends first. */
struct resolve_token {
    struct probe_resolve *r;
};

struct probe_resolve {
    struct probe_env *env;
    uv_timer_t timer;
    struct resolve_token *token;
    probe_resolve_cb cb;
    void *ctx;
    bool answered;
    int status; /* ARES_SUCCESS or the c-ares error, once answered */
    int timeout_ms;
    struct probe_target found;
    char err[PROBE_ERROR_MAX];
    char host[PROBE_HOST_MAX];
};

/* Keeps the first IPv4 address, else the first IPv6 one. */
static int pick_address(const struct ares_addrinfo *res, struct probe_target *out)
{
    const struct ares_addrinfo_node *pick = NULL;
    for (const struct ares_addrinfo_node *n = res ? res->nodes : NULL; n; n = n->ai_next) {
        if (n->ai_family == AF_INET && (!pick || pick->ai_family != AF_INET))
            pick = n;
        else if (n->ai_family == AF_INET6 && !pick)
            pick = n;
    }
    if (!pick || pick->ai_addrlen > sizeof out->sa)
        return ARES_ENODATA;
    memset(out, 0, sizeof *out);
    memcpy(&out->sa, pick->ai_addr, pick->ai_addrlen);
    out->sa_len = pick->ai_addrlen;
    out->family = pick->ai_family;
    probe_addr_text(pick->ai_addr, out->addr, sizeof out->addr);
    return ARES_SUCCESS;
}

static void on_resolve_timer(uv_timer_t *t);

/* The answer goes to the caller from the loop, never from inside probe_resolve. */
static void answer_later(struct probe_resolve *r, int status)
{
    r->answered = true;
    r->status = status;
    uv_timer_start(&r->timer, on_resolve_timer, 0, 0);
}

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    struct resolve_token *token = arg;
    struct probe_resolve *r = token->r;
    free(token);
    if (r) {
        r->token = NULL;
        answer_later(r, status == ARES_SUCCESS ? pick_address(res, &r->found) : status);
    }
    if (res)
        ares_freeaddrinfo(res);
}

static void on_resolve_closed(uv_handle_t *h)
{
    struct probe_resolve *r = h->data;
    struct probe_env *env = r->env;
    free(r);
    probe_env_release(env);
}

static void resolve_end(struct probe_resolve *r)
{
    if (r->token)
        r->token->r = NULL;
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, on_resolve_closed);
}

/* Fires at once when answered, or at the deadline. */
static void on_resolve_timer(uv_timer_t *t)
{
    struct probe_resolve *r = t->data;
    if (!r->answered) {
        r->status = ARES_ETIMEOUT;
        snprintf(r->err, sizeof r->err, "resolving %.100s: timeout after %d ms", r->host,
                 r->timeout_ms);
    } else if (r->status != ARES_SUCCESS && !r->err[0]) {
        snprintf(r->err, sizeof r->err, "resolving %.100s: %s", r->host, ares_strerror(r->status));
    }
    r->cb(r->status == ARES_SUCCESS ? 0 : -1, &r->found, r->err, r->ctx);
    resolve_end(r);
}

struct probe_resolve *probe_resolve(struct probe_env *env, const char *host, int timeout_ms,
                                    probe_resolve_cb cb, void *ctx)
{
    struct probe_resolve *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->env = env;
    r->cb = cb;
    r->ctx = ctx;
    r->timeout_ms = timeout_ms;
    snprintf(r->host, sizeof r->host, "%s", host);
    uv_timer_init(env->loop, &r->timer);
    r->timer.data = r;
    probe_env_hold(env);
    if (probe_parse_literal(host, &r->found)) {
        answer_later(r, ARES_SUCCESS);
        return r;
    }
    struct probe_ares *a = probe_ares_channel(env, NULL, r->err, sizeof r->err);
    r->token = a ? malloc(sizeof *r->token) : NULL;
    if (!r->token) {
        if (a)
            snprintf(r->err, sizeof r->err, "out of memory");
        answer_later(r, ARES_ENOMEM);
        return r;
    }
    r->token->r = r;
    uv_timer_start(&r->timer, on_resolve_timer, (uint64_t)timeout_ms, 0);
    struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC};
    ares_getaddrinfo(a->channel, host, NULL, &hints, on_addrinfo, r->token);
    probe_ares_kick(a);
    return r;
}

void probe_resolve_cancel(struct probe_resolve *r)
{
    if (r)
        resolve_end(r);
}
