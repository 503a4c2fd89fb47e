/* icmp.c — the env's ICMP sockets, one per address family, shared by every ping and trace of
 * the loop: a table of methods (raw, icmp-datagram, udp-recverr), each able to open a socket,
 * send a probe with a chosen TTL to any address and read what comes back, tried in that order
 * unless FAULTLINE_ICMP_METHOD names one. The socket is watched by a uv_poll; each answer is
 * matched to its probe by echo id (raw sockets see every ICMP packet on the host), sequence
 * number (UDP: destination port) and a random cookie carried in every probe, then handed to
 * the client (struct icmp_client) that took that sequence number. See probe_internal.h. */
#include "probe/probe_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* ICMPv4 types (RFC 792) and the raw-socket filter option of <linux/icmp.h>. */
#define ICMP4_ECHO_REPLY 0
#define ICMP4_DEST_UNREACH 3
#define ICMP4_ECHO_REQUEST 8
#define ICMP4_TIME_EXCEEDED 11
#define ICMP4_FILTER_OPTION 1

#define ECHO_HEADER_LEN 8
#define PROBE_PAYLOAD_LEN 16 /* cookie (8), sequence (2), zero padding */
#define UDP_BASE_PORT 33434  /* the traceroute ports: nothing listens there */
#define PACKET_MAX 1500

/* One socket of one method, for one address family, owned by the env. */
struct icmp_socket {
    const struct icmp_method *method;
    struct probe_env *env;
    int fd;
    int family;
    uint16_t id;       /* echo identifier (raw sockets: ours; datagram: the kernel's) */
    uint8_t cookie[8]; /* random bytes in every probe, checked in answers that quote them */
    uv_poll_t poll;
    struct icmp_client **owner; /* [ICMP_SEQ_MAX + 1]: who took each sequence number */
    int next_seq;
};

/* A packet read from the socket that answers one of our probes. */
struct icmp_packet {
    enum icmp_packet_kind kind;
    int seq;
    char from[PROBE_ADDR_MAX];
};

/* A method: how probes are sent and answers read. Every slot MUST be set. */
struct icmp_method {
    enum probe_method id;
    const char *name;
    /* Creates s->fd (non-blocking) with the options the method needs; returns 0 or -errno. */
    int (*open)(struct icmp_socket *s);
    /* Sends probe seq to dst with TTL ttl (0: default); returns 0 or -errno. */
    int (*send)(struct icmp_socket *s, const struct probe_target *dst, int seq, int ttl);
    /* Reads one queued packet or error: 1 an answer to one of our probes (in *p), 0 something
     * else was consumed, -1 nothing is queued. */
    int (*recv)(struct icmp_socket *s, struct icmp_packet *p);
};

void probe_strerror(int errnum, char *buf, size_t len)
{
    char tmp[128];
    snprintf(buf, len, "%s", strerror_r(errnum, tmp, sizeof tmp));
}

void probe_addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
    buf[0] = '\0';
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)len);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)len);
}

static bool is_v6(const struct icmp_socket *s)
{
    return s->family == AF_INET6;
}

/* ---- shared pieces -------------------------------------------------------------------------- */

static void random_bytes(void *buf, size_t len)
{
    if (getrandom(buf, len, GRND_NONBLOCK) == (ssize_t)len)
        return;
    /* No entropy yet (early boot): the clock and an address still differ between calls. */
    uint64_t x = (uint64_t)probe_now_ns() ^ (uint64_t)(uintptr_t)buf;
    for (size_t i = 0; i < len; i++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        ((uint8_t *)buf)[i] = (uint8_t)(x >> 56);
    }
}

static uint16_t read_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void write_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t inet_checksum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += read_be16(p + i);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Our probe payload: the cookie and the sequence number. */
static void fill_payload(const struct icmp_socket *s, int seq, uint8_t *payload)
{
    memset(payload, 0, PROBE_PAYLOAD_LEN);
    memcpy(payload, s->cookie, sizeof s->cookie);
    write_be16(payload + sizeof s->cookie, (uint16_t)seq);
}

/* Whether a payload that came back (possibly cut short by a router quoting only 8 bytes) is
 * ours: every byte that is there must match. */
static bool payload_matches(const struct icmp_socket *s, const uint8_t *payload, size_t len,
                            int seq)
{
    uint8_t expected[PROBE_PAYLOAD_LEN];
    fill_payload(s, seq, expected);
    return memcmp(payload, expected, len < sizeof expected ? len : sizeof expected) == 0;
}

/* An echo request: header (type, code, checksum, id, seq) and payload. Returns its length. */
static size_t build_echo(const struct icmp_socket *s, int seq, uint8_t *pkt)
{
    pkt[0] = is_v6(s) ? ICMP6_ECHO_REQUEST : ICMP4_ECHO_REQUEST;
    pkt[1] = 0;
    write_be16(pkt + 2, 0);
    write_be16(pkt + 4, s->id);
    write_be16(pkt + 6, (uint16_t)seq);
    fill_payload(s, seq, pkt + ECHO_HEADER_LEN);
    return ECHO_HEADER_LEN + PROBE_PAYLOAD_LEN;
}

static int set_ttl(const struct icmp_socket *s, int ttl)
{
    if (ttl <= 0)
        ttl = 64;
    int rc = is_v6(s) ? setsockopt(s->fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl)
                      : setsockopt(s->fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    return rc == 0 ? 0 : -errno;
}

static int send_to(const struct icmp_socket *s, const void *buf, size_t len,
                   const struct sockaddr_storage *dst, socklen_t dst_len)
{
    if (sendto(s->fd, buf, len, 0, (const struct sockaddr *)dst, dst_len) < 0)
        return -errno;
    return 0;
}

static int open_socket(struct icmp_socket *s, int type, int protocol)
{
    s->fd = socket(s->family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    return s->fd < 0 ? -errno : 0;
}

static int enable_recverr(const struct icmp_socket *s)
{
    int on = 1;
    int rc = is_v6(s) ? setsockopt(s->fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on)
                      : setsockopt(s->fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
    return rc == 0 ? 0 : -errno;
}

/* Sorts an ICMP error by type: time exceeded, unreachable, or 0 for what a probe ignores
 * (packet too big, parameter problem, ...). */
static int classify_error(const struct icmp_socket *s, int type)
{
    int time_exceeded = is_v6(s) ? ICMP6_TIME_EXCEEDED : ICMP4_TIME_EXCEEDED;
    int unreachable = is_v6(s) ? ICMP6_DST_UNREACH : ICMP4_DEST_UNREACH;
    if (type == time_exceeded)
        return ICMP_PACKET_TIME_EXCEEDED;
    if (type == unreachable)
        return ICMP_PACKET_UNREACH;
    return 0;
}

/* An ICMP error from the socket's error queue (IP_RECVERR). */
struct queued_error {
    bool from_icmp; /* not a local error */
    int type;
    char offender[PROBE_ADDR_MAX];
    struct sockaddr_storage original_dst; /* where the probe went, with its port */
    uint8_t payload[256];                 /* what the error quoted of our probe */
    size_t payload_len;
};

/* Returns 1 with *e filled, or -1 when the queue is empty. */
static int read_error_queue(const struct icmp_socket *s, struct queued_error *e)
{
    char control[512];
    struct iovec iov = {.iov_base = e->payload, .iov_len = sizeof e->payload};
    struct msghdr msg = {.msg_name = &e->original_dst,
                         .msg_namelen = sizeof e->original_dst,
                         .msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control,
                         .msg_controllen = sizeof control};
    ssize_t n = recvmsg(s->fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (n < 0)
        return -1;
    e->payload_len = (size_t)n;
    e->from_icmp = false;
    e->offender[0] = '\0';
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        bool v4 = c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR;
        bool v6 = c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR;
        if (!v4 && !v6)
            continue;
        const struct sock_extended_err *ee = (const void *)CMSG_DATA(c);
        e->from_icmp = ee->ee_origin == SO_EE_ORIGIN_ICMP || ee->ee_origin == SO_EE_ORIGIN_ICMP6;
        e->type = ee->ee_type;
        probe_addr_text(SO_EE_OFFENDER(ee), e->offender, sizeof e->offender);
    }
    return 1;
}

/* Reads one datagram from the normal queue: 1 read, -1 nothing (a pending socket error that
 * recvfrom returns instead is consumed, 0). */
static int read_datagram(const struct icmp_socket *s, uint8_t *buf, size_t cap, size_t *len,
                         struct sockaddr_storage *from)
{
    socklen_t from_len = sizeof *from;
    ssize_t n = recvfrom(s->fd, buf, cap, MSG_DONTWAIT, (struct sockaddr *)from, &from_len);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : 0;
    *len = (size_t)n;
    return 1;
}

static int packet(struct icmp_packet *p, int kind, int seq, const char *from)
{
    p->kind = (enum icmp_packet_kind)kind;
    p->seq = seq;
    snprintf(p->from, sizeof p->from, "%s", from);
    return 1;
}

/* Checks a quoted or echoed ICMP echo header and payload: our type, id (when check_id) and
 * cookie. Sets *seq. */
static bool echo_is_ours(const struct icmp_socket *s, const uint8_t *icmp, size_t len, int type,
                         bool check_id, int *seq)
{
    if (len < ECHO_HEADER_LEN || icmp[0] != type)
        return false;
    if (check_id && read_be16(icmp + 4) != s->id)
        return false;
    *seq = read_be16(icmp + 6);
    return *seq <= ICMP_SEQ_MAX &&
           payload_matches(s, icmp + ECHO_HEADER_LEN, len - ECHO_HEADER_LEN, *seq);
}

/* ---- raw: SOCK_RAW, root or CAP_NET_RAW ------------------------------------------------------ */

static int raw_open(struct icmp_socket *s)
{
    int rc = open_socket(s, SOCK_RAW, is_v6(s) ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
    if (rc != 0)
        return rc;
    /* Only the types a probe reads: a raw socket otherwise gets every ICMP packet the host sees,
     * our own echo requests on loopback included. */
    if (is_v6(s)) {
        struct icmp6_filter filter;
        ICMP6_FILTER_SETBLOCKALL(&filter);
        ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
        ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &filter);
        ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &filter);
        rc = setsockopt(s->fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter);
    } else {
        uint32_t blocked =
            ~((1u << ICMP4_ECHO_REPLY) | (1u << ICMP4_DEST_UNREACH) | (1u << ICMP4_TIME_EXCEEDED));
        rc = setsockopt(s->fd, SOL_RAW, ICMP4_FILTER_OPTION, &blocked, sizeof blocked);
    }
    return rc == 0 ? 0 : -errno;
}

static int raw_send(struct icmp_socket *s, const struct probe_target *dst, int seq, int ttl)
{
    uint8_t pkt[ECHO_HEADER_LEN + PROBE_PAYLOAD_LEN];
    size_t len = build_echo(s, seq, pkt);
    if (!is_v6(s)) /* the kernel fills the ICMPv6 checksum, never the ICMPv4 one */
        write_be16(pkt + 2, inet_checksum(pkt, len));
    int rc = set_ttl(s, ttl);
    return rc != 0 ? rc : send_to(s, pkt, len, &dst->sa, dst->sa_len);
}

/* The probe an ICMPv4 error quotes: the original IP header, then our echo request. */
static bool raw4_quoted_probe(const struct icmp_socket *s, const uint8_t *inner, size_t len,
                              int *seq)
{
    if (len < 20 || (inner[0] >> 4) != 4 || inner[9] != IPPROTO_ICMP)
        return false;
    size_t ihl = (size_t)(inner[0] & 0x0f) * 4;
    if (ihl < 20 || len < ihl)
        return false;
    return echo_is_ours(s, inner + ihl, len - ihl, ICMP4_ECHO_REQUEST, true, seq);
}

/* The probe an ICMPv6 error quotes: the original IPv6 header, then our echo request. */
static bool raw6_quoted_probe(const struct icmp_socket *s, const uint8_t *inner, size_t len,
                              int *seq)
{
    if (len < 40 || (inner[0] >> 4) != 6 || inner[6] != IPPROTO_ICMPV6)
        return false;
    return echo_is_ours(s, inner + 40, len - 40, ICMP6_ECHO_REQUEST, true, seq);
}

static int raw_recv(struct icmp_socket *s, struct icmp_packet *p)
{
    uint8_t buf[PACKET_MAX];
    size_t len;
    struct sockaddr_storage from_sa;
    int rc = read_datagram(s, buf, sizeof buf, &len, &from_sa);
    if (rc != 1)
        return rc;
    char from[PROBE_ADDR_MAX];
    probe_addr_text((struct sockaddr *)&from_sa, from, sizeof from);
    const uint8_t *icmp = buf;
    if (!is_v6(s)) { /* IPv4 raw sockets read the IP header too */
        size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
        if (len < ihl + ECHO_HEADER_LEN)
            return 0;
        icmp = buf + ihl;
        len -= ihl;
    }
    if (len < ECHO_HEADER_LEN)
        return 0;
    int seq;
    int reply = is_v6(s) ? ICMP6_ECHO_REPLY : ICMP4_ECHO_REPLY;
    if (icmp[0] == reply)
        return echo_is_ours(s, icmp, len, reply, true, &seq)
                   ? packet(p, ICMP_PACKET_REPLY, seq, from)
                   : 0;
    int kind = classify_error(s, icmp[0]);
    bool ours = is_v6(s) ? raw6_quoted_probe(s, icmp + 8, len - 8, &seq)
                         : raw4_quoted_probe(s, icmp + 8, len - 8, &seq);
    return kind && ours ? packet(p, kind, seq, from) : 0;
}

/* ---- icmp-datagram: SOCK_DGRAM/IPPROTO_ICMP, net.ipv4.ping_group_range ----------------------- */

static int dgram_open(struct icmp_socket *s)
{
    int rc = open_socket(s, SOCK_DGRAM, is_v6(s) ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
    return rc != 0 ? rc : enable_recverr(s);
}

static int dgram_send(struct icmp_socket *s, const struct probe_target *dst, int seq, int ttl)
{
    uint8_t pkt[ECHO_HEADER_LEN + PROBE_PAYLOAD_LEN];
    size_t len = build_echo(s, seq, pkt); /* the kernel sets id and checksum */
    int rc = set_ttl(s, ttl);
    return rc != 0 ? rc : send_to(s, pkt, len, &dst->sa, dst->sa_len);
}

static int dgram_recv(struct icmp_socket *s, struct icmp_packet *p)
{
    struct queued_error e;
    int seq;
    int request = is_v6(s) ? ICMP6_ECHO_REQUEST : ICMP4_ECHO_REQUEST;
    if (read_error_queue(s, &e) == 1) {
        /* The error queue holds the ICMP part of the probe the error quotes. */
        int kind = e.from_icmp ? classify_error(s, e.type) : 0;
        if (!kind || !echo_is_ours(s, e.payload, e.payload_len, request, false, &seq))
            return 0;
        return packet(p, kind, seq, e.offender);
    }
    uint8_t buf[PACKET_MAX];
    size_t len;
    struct sockaddr_storage from_sa;
    int rc = read_datagram(s, buf, sizeof buf, &len, &from_sa);
    if (rc != 1)
        return rc;
    char from[PROBE_ADDR_MAX];
    probe_addr_text((struct sockaddr *)&from_sa, from, sizeof from);
    int reply = is_v6(s) ? ICMP6_ECHO_REPLY : ICMP4_ECHO_REPLY;
    /* The kernel hands this socket only replies carrying its id. */
    if (!echo_is_ours(s, buf, len, reply, false, &seq))
        return 0;
    return packet(p, ICMP_PACKET_REPLY, seq, from);
}

/* ---- udp-recverr: UDP to a closed port, ICMP errors from the error queue, any user ---------- */

static int udp_open(struct icmp_socket *s)
{
    int rc = open_socket(s, SOCK_DGRAM, IPPROTO_UDP);
    return rc != 0 ? rc : enable_recverr(s);
}

static void set_port(struct sockaddr_storage *sa, uint16_t port)
{
    if (sa->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
    else
        ((struct sockaddr_in *)sa)->sin_port = htons(port);
}

void probe_target_set_port(struct probe_target *t, int port)
{
    set_port(&t->sa, (uint16_t)port);
}

static int get_port(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    if (sa->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    return -1;
}

static int udp_send(struct icmp_socket *s, const struct probe_target *target, int seq, int ttl)
{
    uint8_t payload[PROBE_PAYLOAD_LEN];
    fill_payload(s, seq, payload);
    struct sockaddr_storage dst = target->sa;
    set_port(&dst, (uint16_t)(UDP_BASE_PORT + seq));
    int rc = set_ttl(s, ttl);
    return rc != 0 ? rc : send_to(s, payload, sizeof payload, &dst, target->sa_len);
}

static int udp_recv(struct icmp_socket *s, struct icmp_packet *p)
{
    struct queued_error e;
    if (read_error_queue(s, &e) == 1) {
        /* The original destination port tells the probe; the payload, when quoted, confirms.
         * Port unreachable is how the target answers. */
        int seq = get_port(&e.original_dst) - UDP_BASE_PORT;
        int kind = e.from_icmp ? classify_error(s, e.type) : 0;
        if (!kind || seq < 0 || seq > ICMP_SEQ_MAX ||
            !payload_matches(s, e.payload, e.payload_len, seq))
            return 0;
        return packet(p, kind, seq, e.offender);
    }
    uint8_t buf[PACKET_MAX];
    size_t len;
    struct sockaddr_storage from_sa;
    int rc = read_datagram(s, buf, sizeof buf, &len, &from_sa);
    if (rc != 1)
        return rc;
    /* Something listens on the port and answered: the target is there all the same. */
    char from[PROBE_ADDR_MAX];
    probe_addr_text((struct sockaddr *)&from_sa, from, sizeof from);
    int seq = get_port(&from_sa) - UDP_BASE_PORT;
    if (seq < 0 || seq > ICMP_SEQ_MAX)
        return 0;
    return packet(p, ICMP_PACKET_REPLY, seq, from);
}

/* ---- the table ------------------------------------------------------------------------------- */

static const struct icmp_method icmp_methods[] = {
    {PROBE_METHOD_RAW, "raw", raw_open, raw_send, raw_recv},
    {PROBE_METHOD_DGRAM, "icmp-datagram", dgram_open, dgram_send, dgram_recv},
    {PROBE_METHOD_UDP, "udp-recverr", udp_open, udp_send, udp_recv},
};
#define ICMP_METHOD_COUNT (sizeof icmp_methods / sizeof icmp_methods[0])

const char *probe_method_name(enum probe_method method)
{
    for (size_t i = 0; i < ICMP_METHOD_COUNT; i++)
        if (icmp_methods[i].id == method)
            return icmp_methods[i].name;
    return "none";
}

enum probe_method icmp_method_id(const struct icmp_socket *s)
{
    return s && s->method ? s->method->id : PROBE_METHOD_NONE;
}

static int try_method(struct icmp_socket *s, const struct icmp_method *m, char *err, size_t errlen)
{
    s->method = m;
    int rc = m->open(s);
    if (rc == 0)
        return 0;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->method = NULL;
    char text[128];
    probe_strerror(-rc, text, sizeof text);
    const char *hint = "";
    if (m->id == PROBE_METHOD_RAW && (rc == -EPERM || rc == -EACCES))
        hint = " (needs root or CAP_NET_RAW)";
    else if (m->id == PROBE_METHOD_DGRAM && (rc == -EPERM || rc == -EACCES))
        hint = " (net.ipv4.ping_group_range excludes this group)";
    snprintf(err, errlen, "%s: %s%s", m->name, text, hint);
    return -1;
}

static int open_method(struct icmp_socket *s, char *err, size_t errlen)
{
    const char *forced = getenv("FAULTLINE_ICMP_METHOD");
    if (forced && *forced) {
        for (size_t i = 0; i < ICMP_METHOD_COUNT; i++)
            if (strcmp(forced, icmp_methods[i].name) == 0)
                return try_method(s, &icmp_methods[i], err, errlen);
        snprintf(err, errlen,
                 "FAULTLINE_ICMP_METHOD: expected raw, icmp-datagram or udp-recverr, got "
                 "\"%.40s\"",
                 forced);
        return -1;
    }
    char tried[3][PROBE_ERROR_MAX];
    for (size_t i = 0; i < ICMP_METHOD_COUNT; i++)
        if (try_method(s, &icmp_methods[i], tried[i], sizeof tried[i]) == 0)
            return 0;
    snprintf(err, errlen, "no ICMP method may be used: %.60s; %.60s; %.60s", tried[0], tried[1],
             tried[2]);
    return -1;
}

/* Hands one packet to the client that owns its sequence number, judged against its target:
 * a reply or an unreachable from the target itself is the target's answer. */
static void dispatch(struct icmp_socket *s, const struct icmp_packet *p)
{
    struct icmp_client *c = s->owner[p->seq];
    if (!c)
        return;
    bool from_target = strcmp(p->from, c->target.addr) == 0;
    struct icmp_answer a = {.seq = p->seq, .at_ns = probe_now_ns()};
    snprintf(a.from, sizeof a.from, "%s", p->from);
    if (p->kind == ICMP_PACKET_REPLY) {
        if (!from_target)
            return;
        a.kind = ICMP_ANSWER_TARGET;
    } else if (p->kind == ICMP_PACKET_UNREACH) {
        a.kind = from_target ? ICMP_ANSWER_TARGET : ICMP_ANSWER_UNREACHABLE;
    } else {
        a.kind = ICMP_ANSWER_TIME_EXCEEDED;
    }
    c->on_answer(c, &a);
}

/* Reads everything queued. An error queued by IP_RECVERR makes the socket report POLLERR, on
 * which libuv stops the watcher: it is restarted once the queues are empty. */
static void on_readable(uv_poll_t *h, int status, int events)
{
    struct icmp_socket *s = h->data;
    struct icmp_packet p;
    int rc;
    while ((rc = s->method->recv(s, &p)) >= 0)
        if (rc == 1)
            dispatch(s, &p);
    int pending;
    socklen_t len = sizeof pending;
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &pending, &len);
    if (status < 0 && !uv_is_closing((uv_handle_t *)h))
        uv_poll_start(h, UV_READABLE, on_readable);
}

struct icmp_socket *icmp_socket_get(struct probe_env *env, int family, char *err, size_t errlen)
{
    int slot = family == AF_INET6 ? 1 : 0;
    if (env->icmp[slot])
        return env->icmp[slot];
    struct icmp_socket *s = calloc(1, sizeof *s);
    if (s)
        s->owner = calloc(ICMP_SEQ_MAX + 1, sizeof *s->owner);
    if (!s || !s->owner) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->env = env;
    s->fd = -1;
    s->family = family;
    random_bytes(&s->id, sizeof s->id);
    random_bytes(s->cookie, sizeof s->cookie);
    if (open_method(s, err, errlen) != 0 || uv_poll_init(env->loop, &s->poll, s->fd) != 0) {
        if (s->fd >= 0 && s->method)
            snprintf(err, errlen, "cannot watch the ICMP socket");
        if (s->fd >= 0)
            close(s->fd);
        free(s->owner);
        free(s);
        return NULL;
    }
    s->poll.data = s;
    uv_poll_start(&s->poll, UV_READABLE, on_readable);
    /* Shared and idle between runs: a run's own timer keeps the loop alive while it lasts, so
     * a loop with nothing but finished probes on it ends. */
    uv_unref((uv_handle_t *)&s->poll);
    env->icmp[slot] = s;
    return s;
}

int icmp_seq_take(struct icmp_socket *s, struct icmp_client *c)
{
    for (int tries = 0; tries <= ICMP_SEQ_MAX; tries++) {
        int seq = s->next_seq;
        s->next_seq = seq == ICMP_SEQ_MAX ? 0 : seq + 1;
        if (!s->owner[seq]) {
            s->owner[seq] = c;
            return seq;
        }
    }
    return -1;
}

void icmp_seq_release(struct icmp_socket *s, int seq)
{
    if (seq >= 0 && seq <= ICMP_SEQ_MAX)
        s->owner[seq] = NULL;
}

/* An ICMP error that arrived for an earlier probe is also left pending on the socket, and the
 * next send returns it instead of sending; the error itself stays queued for the reader. */
static bool maybe_pending_error(int rc)
{
    return rc == -ECONNREFUSED || rc == -EHOSTUNREACH || rc == -ENETUNREACH || rc == -EPROTO ||
           rc == -EHOSTDOWN || rc == -ENONET;
}

int icmp_send(struct icmp_socket *s, const struct icmp_client *c, int seq, int ttl)
{
    int rc = s->method->send(s, &c->target, seq, ttl);
    if (maybe_pending_error(rc))
        rc = s->method->send(s, &c->target, seq, ttl);
    return rc;
}

static void on_socket_closed(uv_handle_t *h)
{
    struct icmp_socket *s = h->data;
    struct probe_env *env = s->env;
    close(s->fd);
    free(s->owner);
    free(s);
    probe_env_release(env);
}

void icmp_close_all(struct probe_env *env)
{
    for (int i = 0; i < 2; i++) {
        struct icmp_socket *s = env->icmp[i];
        if (!s)
            continue;
        env->icmp[i] = NULL;
        probe_env_hold(env);
        uv_close((uv_handle_t *)&s->poll, on_socket_closed);
    }
}
