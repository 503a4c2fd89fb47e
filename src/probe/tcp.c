/* tcp.c — probe_tcp: a non-blocking TCP connect bounded by poll. An accepted connection is ok;
 * a refusal (RST) is not ok but proves the host reachable; silence until the deadline, or an
 * ICMP error, is unreachable. See probe.h. */
#include "probe/probe_internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connects fd to t within timeout_ms: 0 connected, else the errno (ETIMEDOUT on silence). */
static int connect_within(int fd, const struct probe_target *t, int timeout_ms)
{
    if (connect(fd, (const struct sockaddr *)&t->sa, t->sa_len) == 0)
        return 0;
    if (errno != EINPROGRESS)
        return errno;
    int64_t deadline = probe_now_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        int64_t left = deadline - probe_now_ns();
        if (left <= 0)
            return ETIMEDOUT;
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int ready = poll(&pfd, 1, (int)((left + 999999) / 1000000));
        if (ready < 0 && errno != EINTR)
            return errno;
        if (ready > 0)
            break;
    }
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        return errno;
    return soerr;
}

static void set_port(struct probe_target *t, int port)
{
    if (t->family == AF_INET6)
        ((struct sockaddr_in6 *)&t->sa)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)&t->sa)->sin_port = htons((uint16_t)port);
}

int probe_tcp(const char *host, int port, int timeout_ms, struct tcp_result *out)
{
    memset(out, 0, sizeof *out);
    out->port = port;
    if (!host || !*host || port < 1 || port > 65535 || timeout_ms < 1) {
        snprintf(out->error, sizeof out->error,
                 "expected a host, a port 1..65535 and a timeout, got port %d", port);
        return -1;
    }
    struct probe_target t;
    if (probe_resolve(host, timeout_ms, &t, out->error, sizeof out->error) != 0)
        return -1;
    snprintf(out->addr, sizeof out->addr, "%s", t.addr);
    set_port(&t, port);
    int fd = socket(t.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        probe_strerror(errno, out->error, sizeof out->error);
        return -1;
    }
    int64_t start = probe_now_ns();
    int rc = connect_within(fd, &t, timeout_ms);
    double ms = probe_ns_to_ms(probe_now_ns() - start);
    close(fd);
    out->ok = rc == 0;
    out->reachable = rc == 0 || rc == ECONNREFUSED;
    if (out->reachable)
        out->connect_ms = ms;
    if (rc == ETIMEDOUT)
        snprintf(out->error, sizeof out->error, "timeout after %d ms", timeout_ms);
    else if (rc == ECONNREFUSED)
        snprintf(out->error, sizeof out->error, "connection refused");
    else if (rc != 0)
        probe_strerror(rc, out->error, sizeof out->error);
    return 0;
}
