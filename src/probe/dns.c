/* dns.c — name resolution with a deadline through c-ares: probe_dns (how long the system's
 * resolvers take, probe.h) and probe_resolve (the address the other probes send to,
 * probe_internal.h). One c-ares channel per call, driven by poll on the calling thread, so calls
 * on several threads never share state. */
#include "probe/probe_internal.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* What one lookup found. */
struct lookup {
    bool done;
    int status; /* ARES_SUCCESS or the c-ares error */
    struct probe_target found;
};

static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_init_status = ARES_SUCCESS; /* written once, under ares_once */

static void ares_global_init(void)
{
    ares_init_status = ares_library_init(ARES_LIB_INIT_ALL);
}

/* Keeps the first IPv4 address, else the first IPv6 one. */
static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    struct lookup *l = arg;
    l->done = true;
    l->status = status;
    if (status != ARES_SUCCESS || !res)
        goto out;
    const struct ares_addrinfo_node *pick = NULL;
    for (const struct ares_addrinfo_node *n = res->nodes; n; n = n->ai_next) {
        if (n->ai_family == AF_INET && (!pick || pick->ai_family != AF_INET))
            pick = n;
        else if (n->ai_family == AF_INET6 && !pick)
            pick = n;
    }
    if (!pick || pick->ai_addrlen > sizeof l->found.sa) {
        l->status = ARES_ENODATA;
        goto out;
    }
    memset(&l->found, 0, sizeof l->found);
    memcpy(&l->found.sa, pick->ai_addr, pick->ai_addrlen);
    l->found.sa_len = pick->ai_addrlen;
    l->found.family = pick->ai_family;
    probe_addr_text(pick->ai_addr, l->found.addr, sizeof l->found.addr);
out:
    if (res)
        ares_freeaddrinfo(res);
}

/* Waits on the channel's sockets until the lookup is done or deadline_ns passes. */
static void drive_channel(ares_channel channel, struct lookup *l, int64_t deadline_ns)
{
    while (!l->done) {
        int64_t left_ns = deadline_ns - probe_now_ns();
        if (left_ns <= 0) {
            ares_cancel(channel); /* calls on_addrinfo with ARES_ECANCELLED */
            l->done = true;
            l->status = ARES_ETIMEOUT;
            return;
        }
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        /* The bits of ares_getsock, read unsigned: its WRITABLE macro shifts 1 into the sign. */
        unsigned mask = (unsigned)ares_getsock(channel, socks, ARES_GETSOCK_MAXNUM);
        struct pollfd pfds[ARES_GETSOCK_MAXNUM];
        nfds_t n = 0;
        for (unsigned i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
            bool readable = (mask >> i) & 1u;
            bool writable = (mask >> (i + ARES_GETSOCK_MAXNUM)) & 1u;
            if (readable || writable)
                pfds[n++] = (struct pollfd){
                    .fd = socks[i],
                    .events = (short)((readable ? POLLIN : 0) | (writable ? POLLOUT : 0))};
        }
        struct timeval max_tv = {.tv_sec = left_ns / 1000000000,
                                 .tv_usec = (left_ns % 1000000000) / 1000};
        struct timeval tv_buf;
        struct timeval *tv = ares_timeout(channel, &max_tv, &tv_buf);
        int wait_ms = (int)(tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000);
        int ready = poll(pfds, n, wait_ms);
        if (ready <= 0) {
            ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts, retries */
            continue;
        }
        for (nfds_t i = 0; i < n && !l->done; i++) {
            short r = pfds[i].revents;
            if (!r)
                continue;
            ares_process_fd(channel,
                            r & (POLLIN | POLLERR | POLLHUP) ? pfds[i].fd : ARES_SOCKET_BAD,
                            r & POLLOUT ? pfds[i].fd : ARES_SOCKET_BAD);
        }
    }
}

/* Resolves name within timeout_ms: ARES_SUCCESS and l->found, or the c-ares error. */
static int lookup_name(const char *name, int timeout_ms, struct lookup *l)
{
    memset(l, 0, sizeof *l);
    pthread_once(&ares_once, ares_global_init);
    if (ares_init_status != ARES_SUCCESS)
        return ares_init_status;
    struct ares_options opts = {.timeout = timeout_ms / 2 > 100 ? timeout_ms / 2 : 100, .tries = 2};
    ares_channel channel;
    int rc = ares_init_options(&channel, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (rc != ARES_SUCCESS)
        return rc;
    struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC};
    int64_t deadline = probe_now_ns() + (int64_t)timeout_ms * 1000000;
    ares_getaddrinfo(channel, name, NULL, &hints, on_addrinfo, l);
    drive_channel(channel, l, deadline);
    ares_destroy(channel);
    return l->status;
}

/* An IP literal as a target, or false. */
static bool parse_literal(const char *host, struct probe_target *out)
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

static void lookup_error(const char *name, int status, int timeout_ms, char *err, size_t errlen)
{
    if (status == ARES_ETIMEOUT)
        snprintf(err, errlen, "resolving %.100s: timeout after %d ms", name, timeout_ms);
    else
        snprintf(err, errlen, "resolving %.100s: %s", name, ares_strerror(status));
}

int probe_resolve(const char *host, int timeout_ms, struct probe_target *out, char *err,
                  size_t errlen)
{
    if (parse_literal(host, out))
        return 0;
    struct lookup l;
    int status = lookup_name(host, timeout_ms, &l);
    if (status != ARES_SUCCESS) {
        lookup_error(host, status, timeout_ms, err, errlen);
        return -1;
    }
    *out = l.found;
    return 0;
}

int probe_dns(const char *name, int timeout_ms, struct dns_result *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name ? name : "");
    if (!name || !*name || timeout_ms < 1) {
        snprintf(out->error, sizeof out->error, "expected a name to resolve and a timeout");
        return -1;
    }
    struct probe_target t;
    int64_t start = probe_now_ns();
    if (parse_literal(name, &t)) { /* nothing to resolve */
        out->ok = true;
        snprintf(out->addr, sizeof out->addr, "%s", t.addr);
        return 0;
    }
    struct lookup l;
    int status = lookup_name(name, timeout_ms, &l);
    out->ms = probe_ns_to_ms(probe_now_ns() - start);
    if (status != ARES_SUCCESS) {
        lookup_error(name, status, timeout_ms, out->error, sizeof out->error);
        return 0; /* the probe ran: the resolvers did not answer with an address */
    }
    out->ok = true;
    snprintf(out->addr, sizeof out->addr, "%s", l.found.addr);
    return 0;
}
