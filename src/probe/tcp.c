/* tcp.c — the `tcp` probe type: a non-blocking connect watched through the env's epoll fd
 * (sockwatch.c), then optionally a TLS handshake (GnuTLS on the connected socket; fills
 * [CERT_EXPIRES_IN]), `send` and `expect` (a banner substring, read into [BODY]). The socket is our
 * own rather than a uv_tcp_t so that GnuTLS can run on it directly. A refused connection proves the
 * host reachable (diagnostics and canaries read `reachable`); [CONNECTED] is true only when every
 * step succeeded.
 *
 * Cost per run: one struct tcp_run and its timer (the banner buffer only when `expect` is set);
 * a literal IP target is parsed once, at load time; a result known on the loop is reported at
 * once, one known inside start from the loop's next turn. The socket comes from sockwatch's
 * pool; after a bare connect (no send, expect or tls) it goes back to it, disconnected with a
 * reset. System calls for a bare connect: connect, one epoll_ctl, and connect(AF_UNSPEC) to
 * disconnect (socket and close only when the pool is empty or full). */
#include "probe/probe_internal.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define TCP_BANNER_MAX 4096

struct tcp_options {
    char *host; /* kept for every check: as long as it is, not PROBE_HOST_MAX */
    int port;
    bool literal; /* host is an IP address, already in target */
    struct probe_target target;
    char *send, *expect;
    size_t send_len;
    bool tls;
};

enum tcp_state {
    TCP_RESOLVING,  /* looking up host */
    TCP_CONNECTING, /* connect() in progress: waiting for the socket to be writable */
    TCP_HANDSHAKE,  /* TLS handshake */
    TCP_SENDING,    /* writing `send` */
    TCP_READING,    /* reading until `expect` shows up */
    TCP_ENDING,     /* the result is known: done runs from the timer */
};

struct tcp_run {
    struct probe_env *env;
    const struct tcp_options *o;
    probe_done_cb done;
    void *ctx;
    enum tcp_state state;
    int fd, family;
    struct sockwatch_client watcher;
    bool watched;  /* fd is in the env's epoll set (it leaves it when closed) */
    bool armed;    /* and waits for an event that has not come yet */
    bool starting; /* inside tcp_start: done must wait for the loop's next turn */
    uv_timer_t timer;
    bool finished, ok, reachable, has_cert;
    struct probe_resolve *resolving;
    gnutls_session_t tls;
    int timeout_ms;
    int64_t start_ns, connect_ns;
    int64_t cert_expires_in_ms;
    size_t sent, banner_len;
    char *banner;
    char addr[PROBE_ADDR_MAX];
    char error[PROBE_ERROR_MAX];
};

/* ---- options -------------------------------------------------------------------------------- */

static void tcp_free_options(void *options)
{
    struct tcp_options *o = options;
    if (!o)
        return;
    free(o->host);
    free(o->send);
    free(o->expect);
    free(o);
}

static void *tcp_parse(const json_t *def, const char **field, char *err, size_t errlen)
{
    const char *target = probe_opt_target(def, field, err, errlen);
    if (!target)
        return NULL;
    struct tcp_options *o = calloc(1, sizeof *o);
    if (!o) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char host[PROBE_HOST_MAX];
    if (probe_opt_host_port(target, host, sizeof host, &o->port, err, errlen) != 0) {
        free(o);
        return NULL;
    }
    bool ok = true;
    o->host = probe_strdup(host, &ok);
    o->literal = probe_parse_literal(host, &o->target);
    if (o->literal)
        probe_target_set_port(&o->target, o->port);
    const char *send = NULL, *expect = NULL;
    if (probe_opt_string(def, "send", &send, field, err, errlen) < 0 ||
        probe_opt_string(def, "expect", &expect, field, err, errlen) < 0 ||
        probe_opt_bool(def, "tls", &o->tls, field, err, errlen) < 0) {
        tcp_free_options(o);
        return NULL;
    }
    o->send = probe_strdup(send, &ok);
    o->send_len = send ? strlen(send) : 0;
    o->expect = probe_strdup(expect, &ok);
    if (!ok) {
        tcp_free_options(o);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return o;
}

/* ---- TLS credentials, one per env ------------------------------------------------------------ */

void probe_tls_free_credentials(struct probe_env *env)
{
    if (env->tls_credentials)
        gnutls_certificate_free_credentials(env->tls_credentials);
    env->tls_credentials = NULL;
}

static gnutls_certificate_credentials_t tls_credentials(struct probe_env *env)
{
    if (!env->tls_credentials) {
        gnutls_certificate_credentials_t cred;
        if (gnutls_certificate_allocate_credentials(&cred) != GNUTLS_E_SUCCESS)
            return NULL;
        env->tls_credentials = cred;
    }
    return env->tls_credentials;
}

/* ---- the run --------------------------------------------------------------------------------- */

static void on_tcp_closed(uv_handle_t *h)
{
    struct tcp_run *r = h->data;
    struct probe_env *env = r->env;
    if (r->armed) /* timed out or cancelled: out of the set even if a fork holds the socket */
        sockwatch_forget(env, r->fd);
    if (r->fd >= 0)
        close(r->fd);
    free(r->banner);
    free(r);
    probe_env_release(env);
}

/* A bare connect: nothing said to the service. Only its socket goes back to the pool, ended with a
 * reset; one that talked (send, expect, tls) ends with a normal close, as a client would. */
static bool bare(const struct tcp_options *o)
{
    return !o->send && !o->expect && !o->tls;
}

static void tcp_end(struct tcp_run *r, bool report)
{
    if (r->finished)
        return;
    r->finished = true;
    probe_resolve_cancel(r->resolving);
    r->resolving = NULL;
    struct probe_result res = {.ran = true,
                               .connected = r->ok,
                               .reachable = r->reachable,
                               .timed_out = r->state != TCP_ENDING,
                               .has_cert = r->has_cert,
                               .cert_expires_in_ms = r->cert_expires_in_ms,
                               .body = r->banner,
                               .body_len = r->banner_len};
    res.response_time_ms =
        probe_ns_to_ms((r->connect_ns ? r->connect_ns : probe_now_ns()) - r->start_ns);
    if (r->tls)
        gnutls_deinit(r->tls);
    r->tls = NULL;
    /* Back to the pool before done, so that a run done starts takes it: a bare run that
     * succeeded is one whose connect succeeded, reported by the epoll set. An armed socket waits
     * for the close callback (on_tcp_closed). */
    if (r->fd >= 0 && !r->armed) {
        sockwatch_release(r->env, r->fd, r->family, r->ok && bare(r->o));
        r->fd = -1;
    }
    if (report) {
        snprintf(res.error, sizeof res.error, "%s", r->error);
        snprintf(res.addr, sizeof res.addr, "%s", r->addr);
        r->done(&res, r->ctx);
    }
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, on_tcp_closed);
}

static void on_tcp_timer(uv_timer_t *t)
{
    struct tcp_run *r = t->data;
    if (r->state != TCP_ENDING)
        snprintf(r->error, sizeof r->error, "timeout after %d ms%s", r->timeout_ms,
                 r->state == TCP_CONNECTING  ? " (connecting)"
                 : r->state == TCP_HANDSHAKE ? " (TLS handshake)"
                 : r->state == TCP_READING   ? " (waiting for the expected answer)"
                 : r->state == TCP_RESOLVING ? " (resolving)"
                                             : "");
    tcp_end(r, true);
}

/* The result is known: done runs now, or from the loop's next turn when inside start. An event
 * that still comes for the socket before it is closed finds the run ENDING and is ignored. */
static void tcp_finish(struct tcp_run *r, bool ok)
{
    r->ok = ok;
    r->state = TCP_ENDING;
    if (r->starting)
        uv_timer_start(&r->timer, on_tcp_timer, 0, 0);
    else
        tcp_end(r, true);
}

static void tcp_fail_errno(struct tcp_run *r, int errnum)
{
    if (errnum == ECONNREFUSED)
        snprintf(r->error, sizeof r->error, "connection refused");
    else
        probe_strerror(errnum, r->error, sizeof r->error);
    tcp_finish(r, false);
}

/* Waits for one of events (EPOLLIN, EPOLLOUT) on the socket: on_tcp_io follows. */
static void watch(struct tcp_run *r, uint32_t events)
{
    int rc = sockwatch_arm(r->env, r->fd, r->watched, events, &r->watcher);
    if (rc != 0) {
        char why[PROBE_ERROR_MAX - 40];
        probe_strerror(-rc, why, sizeof why);
        snprintf(r->error, sizeof r->error, "cannot watch the socket: %s", why);
        tcp_finish(r, false);
        return;
    }
    r->watched = r->armed = true;
}

static void step(struct tcp_run *r);

static void cert_expiry(struct tcp_run *r)
{
    unsigned n = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(r->tls, &n);
    gnutls_x509_crt_t crt;
    if (!certs || n == 0 || gnutls_x509_crt_init(&crt) != GNUTLS_E_SUCCESS)
        return;
    if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == GNUTLS_E_SUCCESS) {
        time_t not_after = gnutls_x509_crt_get_expiration_time(crt);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        r->has_cert = not_after != (time_t)-1;
        r->cert_expires_in_ms = ((int64_t)not_after - now.tv_sec) * 1000 - now.tv_nsec / 1000000;
    }
    gnutls_x509_crt_deinit(crt);
}

static int tls_begin(struct tcp_run *r)
{
    gnutls_certificate_credentials_t cred = tls_credentials(r->env);
    if (!cred || gnutls_init(&r->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK) != GNUTLS_E_SUCCESS)
        return -1;
    gnutls_set_default_priority(r->tls);
    gnutls_credentials_set(r->tls, GNUTLS_CRD_CERTIFICATE, cred);
    if (!r->o->literal)
        gnutls_server_name_set(r->tls, GNUTLS_NAME_DNS, r->o->host, strlen(r->o->host));
    gnutls_transport_set_int(r->tls, r->fd);
    return 0;
}

/* After a step: the next one (TLS, send, expect) or the end. */
static void advance(struct tcp_run *r)
{
    if (r->state == TCP_CONNECTING && r->o->tls) {
        r->state = TCP_HANDSHAKE;
        if (tls_begin(r) != 0) {
            snprintf(r->error, sizeof r->error, "TLS: cannot set up a session");
            tcp_finish(r, false);
            return;
        }
    } else if (r->state < TCP_SENDING && r->o->send) {
        r->state = TCP_SENDING;
    } else if (r->state < TCP_READING && r->o->expect) {
        r->state = TCP_READING;
        r->banner = malloc(TCP_BANNER_MAX + 1);
        if (!r->banner) {
            snprintf(r->error, sizeof r->error, "out of memory");
            tcp_finish(r, false);
            return;
        }
        r->banner[0] = '\0';
    } else {
        tcp_finish(r, true);
        return;
    }
    step(r);
}

static void tls_wait(struct tcp_run *r)
{
    watch(r, gnutls_record_get_direction(r->tls) ? EPOLLOUT : EPOLLIN);
}

static void do_handshake(struct tcp_run *r)
{
    int rc = gnutls_handshake(r->tls);
    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
        tls_wait(r);
    } else if (rc < 0) {
        snprintf(r->error, sizeof r->error, "TLS handshake: %s", gnutls_strerror(rc));
        tcp_finish(r, false);
    } else {
        cert_expiry(r);
        advance(r);
    }
}

static void do_send(struct tcp_run *r)
{
    while (r->sent < r->o->send_len) {
        const char *p = r->o->send + r->sent;
        size_t left = r->o->send_len - r->sent;
        ssize_t n =
            r->tls ? gnutls_record_send(r->tls, p, left) : send(r->fd, p, left, MSG_NOSIGNAL);
        if (n >= 0) {
            r->sent += (size_t)n;
        } else if (r->tls ? n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED
                          : errno == EAGAIN || errno == EINTR) {
            if (r->tls)
                tls_wait(r);
            else
                watch(r, EPOLLOUT);
            return;
        } else {
            if (r->tls)
                snprintf(r->error, sizeof r->error, "send: %s", gnutls_strerror((int)n));
            else
                probe_strerror(errno, r->error, sizeof r->error);
            tcp_finish(r, false);
            return;
        }
    }
    advance(r);
}

static void do_read(struct tcp_run *r)
{
    for (;;) {
        size_t room = TCP_BANNER_MAX - r->banner_len;
        ssize_t n = r->tls ? gnutls_record_recv(r->tls, r->banner + r->banner_len, room)
                           : recv(r->fd, r->banner + r->banner_len, room, 0);
        if (n > 0) {
            r->banner_len += (size_t)n;
            r->banner[r->banner_len] = '\0';
            if (memmem(r->banner, r->banner_len, r->o->expect, strlen(r->o->expect))) {
                tcp_finish(r, true);
                return;
            }
            if (r->banner_len < TCP_BANNER_MAX)
                continue;
        } else if (n < 0 && (r->tls ? n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED
                                    : errno == EAGAIN || errno == EINTR)) {
            if (r->tls)
                tls_wait(r);
            else
                watch(r, EPOLLIN);
            return;
        }
        snprintf(r->error, sizeof r->error, "\"%.60s\" not in the answer (%zu bytes%s)",
                 r->o->expect, r->banner_len,
                 r->banner_len == TCP_BANNER_MAX ? ", the most read" : ", then closed");
        tcp_finish(r, false);
        return;
    }
}

static void step(struct tcp_run *r)
{
    if (r->state == TCP_HANDSHAKE)
        do_handshake(r);
    else if (r->state == TCP_SENDING)
        do_send(r);
    else if (r->state == TCP_READING)
        do_read(r);
}

static void on_tcp_io(struct sockwatch_client *c, uint32_t events)
{
    struct tcp_run *r = (struct tcp_run *)((char *)c - offsetof(struct tcp_run, watcher));
    r->armed = false;
    if (r->finished || r->state == TCP_ENDING) /* timed out or cancelled: its socket closes */
        return;
    if (r->state != TCP_CONNECTING) {
        step(r);
        return;
    }
    int soerr = 0; /* writable with neither error nor hang-up: connected */
    socklen_t len = sizeof soerr;
    if ((events & (EPOLLERR | EPOLLHUP)) &&
        getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = errno;
    r->connect_ns = probe_now_ns();
    if (soerr != 0) {
        r->reachable = soerr == ECONNREFUSED;
        tcp_fail_errno(r, soerr);
        return;
    }
    r->reachable = true;
    advance(r);
}

static void tcp_connect(struct tcp_run *r, const struct probe_target *t)
{
    snprintf(r->addr, sizeof r->addr, "%s", t->addr);
    r->family = t->family;
    r->fd = sockwatch_socket(r->env, t->family, &r->watched);
    if (r->fd < 0) {
        tcp_fail_errno(r, errno);
        return;
    }
    r->state = TCP_CONNECTING;
    if (connect(r->fd, (const struct sockaddr *)&t->sa, t->sa_len) == 0 || errno == EINPROGRESS) {
        watch(r, EPOLLOUT);
        return;
    }
    r->connect_ns = probe_now_ns();
    r->reachable = errno == ECONNREFUSED;
    tcp_fail_errno(r, errno);
}

static void on_tcp_resolved(int status, const struct probe_target *t, const char *err, void *ctx)
{
    struct tcp_run *r = ctx;
    r->resolving = NULL;
    if (status != 0) {
        snprintf(r->error, sizeof r->error, "%s", err);
        tcp_finish(r, false);
        return;
    }
    struct probe_target target = *t;
    probe_target_set_port(&target, r->o->port);
    tcp_connect(r, &target);
}

static struct probe_run *tcp_start(struct probe_env *env, const void *options, int timeout_ms,
                                   probe_done_cb done, void *ctx, char *err, size_t errlen)
{
    struct tcp_run *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->env = env;
    r->o = options;
    r->done = done;
    r->ctx = ctx;
    r->fd = -1;
    r->timeout_ms = timeout_ms;
    r->start_ns = probe_now_ns();
    r->watcher.on_event = on_tcp_io;
    r->starting = true;
    uv_timer_init(env->loop, &r->timer);
    r->timer.data = r;
    probe_env_hold(env);
    uv_timer_start(&r->timer, on_tcp_timer, (uint64_t)timeout_ms, 0);
    if (r->o->literal) {
        tcp_connect(r, &r->o->target);
    } else {
        r->state = TCP_RESOLVING;
        r->resolving = probe_resolve(env, r->o->host, timeout_ms, on_tcp_resolved, r);
        if (!r->resolving) {
            snprintf(r->error, sizeof r->error, "out of memory");
            tcp_finish(r, false);
        }
    }
    r->starting = false;
    return (struct probe_run *)r;
}

static void tcp_cancel(struct probe_run *run)
{
    tcp_end((struct tcp_run *)run, false);
}

static const char *const tcp_members[] = {"target", "send", "expect", "tls", NULL};

const struct probe_type probe_type_tcp = {
    .name = "tcp",
    .placeholders = PH_BIT(PH_CONNECTED) | PH_BIT(PH_RESPONSE_TIME) | PH_BIT(PH_BODY) |
                    PH_BIT(PH_CERT_EXPIRES_IN),
    .default_condition = "[CONNECTED] == true",
    .parse = tcp_parse,
    .free_options = tcp_free_options,
    .start = tcp_start,
    .cancel = tcp_cancel,
    .members = tcp_members,
};

/* ---- probe_tcp_start: a plain connect, as diagnostics and canaries record it ------------------
 */

struct probe_tcp_run {
    struct tcp_options o; /* host and port only */
    struct probe_run *run;
    tcp_done_cb done;
    void *ctx;
    struct tcp_result result;
};

static void probe_tcp_free(struct probe_tcp_run *t)
{
    free(t->o.host);
    free(t);
}

static void on_connect_done(const struct probe_result *r, void *ctx)
{
    struct probe_tcp_run *t = ctx;
    struct tcp_result *out = &t->result;
    if (r->addr[0])
        snprintf(out->addr, sizeof out->addr, "%s", r->addr);
    out->ok = r->connected;
    out->reachable = r->reachable;
    out->connect_ms = r->reachable ? r->response_time_ms : 0;
    snprintf(out->error, sizeof out->error, "%s", r->error);
    t->done(out, t->ctx);
    probe_tcp_free(t); /* the run reads its options no more once done has run */
}

struct probe_tcp_run *probe_tcp_start(struct probe_env *env, const char *host, int port,
                                      int timeout_ms, tcp_done_cb done, void *ctx,
                                      struct tcp_result *failed)
{
    *failed = (struct tcp_result){.port = port};
    if (!host || !*host || port < 1 || port > 65535 || timeout_ms < 1) {
        snprintf(failed->error, sizeof failed->error,
                 "expected a host, a port 1..65535 and a timeout");
        return NULL;
    }
    struct probe_tcp_run *t = calloc(1, sizeof *t);
    if (t)
        t->o.host = strdup(host);
    if (!t || !t->o.host) {
        free(t);
        snprintf(failed->error, sizeof failed->error, "out of memory");
        return NULL;
    }
    t->o.port = port;
    t->o.literal = probe_parse_literal(host, &t->o.target);
    if (t->o.literal) {
        probe_target_set_port(&t->o.target, port);
        snprintf(failed->addr, sizeof failed->addr, "%s", t->o.target.addr);
    }
    t->done = done;
    t->ctx = ctx;
    t->result = *failed;
    t->run =
        tcp_start(env, &t->o, timeout_ms, on_connect_done, t, failed->error, sizeof failed->error);
    if (!t->run) {
        probe_tcp_free(t);
        return NULL;
    }
    return t;
}

void probe_tcp_cancel(struct probe_tcp_run *t)
{
    if (!t)
        return;
    tcp_cancel(t->run);
    probe_tcp_free(t);
}
