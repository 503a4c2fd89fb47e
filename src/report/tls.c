/* tls.c — the report's "tls" section: for each REPORT_TLS endpoint (host:port), the days left
 * on the certificate it presents, read from a GnuTLS handshake (the chain is not verified: an
 * expiring or self-signed certificate is what this section is for). Each endpoint runs on its own
 * thread with the report's 3 s network limit for the connect and the handshake.
 *
 * This will move to the probe table's "tcp" type with `tls: true` (src/probe/probe_type.h) once it
 * has landed; report_tls_check is the one function to swap. */
#include "report/report_internal.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"

#define REPORT_TLS_MAX CONFIG_TARGETS_MAX

struct report_tls_check {
    struct config_target target;
    char label[300];
    int64_t not_after_s; /* 0: unknown */
    char error[256];
};

/* A connected socket to host:port within the deadline, or -1 with error set. */
static int report_tls_connect(struct report_tls_check *c, int64_t deadline)
{
    char port[8];
    snprintf(port, sizeof port, "%d", c->target.port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai = NULL;
    int rc = getaddrinfo(c->target.host, port, &hints, &ai);
    if (rc != 0) {
        snprintf(c->error, sizeof c->error, "%.100s: %s", c->target.host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int left = (int)(deadline - clock_mono_ms());
        int so_error = ETIMEDOUT;
        socklen_t len = sizeof so_error;
        if (left > 0 && poll(&p, 1, left) == 1)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
        errno = so_error;
    } else if (fd >= 0) {
        errno = 0;
    }
    freeaddrinfo(ai);
    if (fd < 0 || errno != 0) {
        snprintf(c->error, sizeof c->error, "connect: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* The peer's first certificate's expiry, from a handshake on fd within the deadline. */
static void report_tls_handshake(struct report_tls_check *c, int fd, int64_t deadline)
{
    gnutls_session_t s = NULL;
    gnutls_certificate_credentials_t cred = NULL;
    int rc = gnutls_certificate_allocate_credentials(&cred);
    if (rc >= 0)
        rc = gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
    if (rc >= 0)
        rc = gnutls_set_default_priority(s);
    if (rc >= 0)
        rc = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
    if (rc >= 0 && !config_check_ip(c->target.host))
        gnutls_server_name_set(s, GNUTLS_NAME_DNS, c->target.host, strlen(c->target.host));
    if (rc >= 0) {
        gnutls_transport_set_int(s, fd);
        while ((rc = gnutls_handshake(s)) == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
            int left = (int)(deadline - clock_mono_ms());
            struct pollfd p = {.fd = fd,
                               .events = gnutls_record_get_direction(s) ? POLLOUT : POLLIN};
            if (left <= 0 || poll(&p, 1, left) <= 0) {
                rc = GNUTLS_E_TIMEDOUT;
                break;
            }
        }
    }
    unsigned int n = 0;
    const gnutls_datum_t *certs = rc >= 0 ? gnutls_certificate_get_peers(s, &n) : NULL;
    gnutls_x509_crt_t crt = NULL;
    if (rc < 0)
        snprintf(c->error, sizeof c->error, "TLS handshake: %s", gnutls_strerror(rc));
    else if (!certs || n == 0)
        snprintf(c->error, sizeof c->error, "TLS: the server sent no certificate");
    else if (gnutls_x509_crt_init(&crt) < 0 ||
             gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) < 0)
        snprintf(c->error, sizeof c->error, "TLS: the server's certificate does not parse");
    else
        c->not_after_s = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (s)
        gnutls_deinit(s);
    if (cred)
        gnutls_certificate_free_credentials(cred);
}

static void *report_tls_check_run(void *arg)
{
    struct report_tls_check *c = arg;
    int64_t deadline = clock_mono_ms() + REPORT_NET_TIMEOUT_MS;
    int fd = report_tls_connect(c, deadline);
    if (fd >= 0) {
        report_tls_handshake(c, fd, deadline);
        close(fd);
    }
    return NULL;
}

static json_t *report_tls_json(const struct report_tls_check *c, int64_t now_ms)
{
    if (c->not_after_s <= 0)
        return json_pack("{s:s, s:n, s:n, s:s}", "endpoint", c->label, "days_left", "not_after",
                         "error", c->error);
    char iso[CLOCK_ISO_LEN];
    clock_format_iso(c->not_after_s * 1000, iso, sizeof iso);
    return json_pack("{s:s, s:I, s:s, s:n}", "endpoint", c->label, "days_left",
                     (json_int_t)floor((double)(c->not_after_s * 1000 - now_ms) / 86400000.0),
                     "not_after", iso, "error");
}

static void report_tls_collect(struct report_job *job)
{
    struct config_target targets[REPORT_TLS_MAX];
    char err[256];
    const char *list = job->opts->settings->tls;
    int n = config_split_targets(list ? list : "", targets, REPORT_TLS_MAX, err, sizeof err);
    if (n < 0) {
        report_fail(job, "REPORT_TLS: %s", err);
        n = 0;
    }
    struct report_tls_check checks[REPORT_TLS_MAX] = {0};
    pthread_t threads[REPORT_TLS_MAX];
    bool started[REPORT_TLS_MAX];
    for (int i = 0; i < n; i++) {
        checks[i].target = targets[i];
        if (!checks[i].target.port)
            checks[i].target.port = 443;
        snprintf(checks[i].label, sizeof checks[i].label,
                 strchr(targets[i].host, ':') ? "[%s]:%d" : "%s:%d", targets[i].host,
                 checks[i].target.port);
        started[i] = pthread_create(&threads[i], NULL, report_tls_check_run, &checks[i]) == 0;
        if (!started[i])
            report_tls_check_run(&checks[i]);
    }
    json_t *endpoints = json_array();
    int64_t now_ms = clock_wall_ms();
    for (int i = 0; i < n; i++) {
        if (started[i])
            pthread_join(threads[i], NULL);
        if (checks[i].error[0])
            report_fail(job, "%s: %s", checks[i].label, checks[i].error);
        json_array_append_new(endpoints, report_tls_json(&checks[i], now_ms));
    }
    json_object_set_new(job->data, "endpoints", endpoints);
}

const struct report_section report_tls = {"tls", false, report_tls_collect};
