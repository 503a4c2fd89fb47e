/* probe_internal.h — what the files of src/probe share and nobody else uses: a resolved target,
 * the monotonic clock in nanoseconds, name resolution with a deadline (dns.c), and the ICMP
 * socket behind ping and trace (icmp.c), one of three methods chosen from a table.
 *
 * Ownership: a struct icmp_socket is owned by the caller (usually on its stack); icmp_open fills
 * it and icmp_close releases its descriptor. Nothing here keeps static mutable state, so every
 * function may run on several threads at once. */
#ifndef FAULTLINE_PROBE_INTERNAL_H
#define FAULTLINE_PROBE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "probe/probe.h"

/* An address to probe, with its text form. */
struct probe_target {
    struct sockaddr_storage sa;
    socklen_t sa_len;
    int family; /* AF_INET or AF_INET6 */
    char addr[PROBE_ADDR_MAX];
};

/* CLOCK_MONOTONIC in nanoseconds: only differences mean anything. */
static inline int64_t probe_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline double probe_ns_to_ms(int64_t ns)
{
    return (double)ns / 1e6;
}

/* Fills *out from an IP literal, or resolves a name through c-ares (IPv4 preferred) within
 * timeout_ms. Returns 0, or -1 with the reason in err. */
int probe_resolve(const char *host, int timeout_ms, struct probe_target *out, char *err,
                  size_t errlen);

/* The text form of a socket address ("" when the family is unknown). */
void probe_addr_text(const struct sockaddr *sa, char *buf, size_t len);

/* What came back for one probe. */
enum icmp_answer_kind {
    ICMP_ANSWER_TARGET = 1,    /* the target itself answered (echo reply; for UDP probes port
                                  unreachable or data; any ICMP error sent by the target) */
    ICMP_ANSWER_TIME_EXCEEDED, /* a router on the way: TTL ran out there */
    ICMP_ANSWER_UNREACHABLE,   /* a router says the target cannot be reached */
};

struct icmp_answer {
    enum icmp_answer_kind kind;
    int seq;                   /* the probe's sequence number, as given to icmp_send */
    char from[PROBE_ADDR_MAX]; /* who answered */
    int64_t at_ns;             /* when it was read (probe_now_ns) */
};

struct icmp_method;

/* One socket of one method, talking to one target. */
struct icmp_socket {
    const struct icmp_method *method;
    int fd;
    struct probe_target target;
    uint16_t id;       /* echo identifier (raw sockets: ours; datagram: the kernel's) */
    uint8_t cookie[8]; /* random bytes in every probe, checked in answers that quote them */
};

/* Highest sequence number a probe may carry (UDP probes use it in the destination port). */
#define ICMP_SEQ_MAX 30000

/* Opens a socket to target: the method named by FAULTLINE_ICMP_METHOD, or the first of raw,
 * icmp-datagram, udp-recverr that this process may open. Returns 0, or -1 with the reason. */
int icmp_open(struct icmp_socket *s, const struct probe_target *target, char *err, size_t errlen);

/* Sends probe seq (0..ICMP_SEQ_MAX) with the given TTL (0: the system default). Returns 0, or
 * -errno when the kernel refused it (no route, ...). */
int icmp_send(struct icmp_socket *s, int seq, int ttl);

/* Waits until an answer to one of this socket's probes arrives (returns 1 and fills *a) or
 * until_ns passes (returns 0). Returns -1 when the socket failed. */
int icmp_wait(struct icmp_socket *s, int64_t until_ns, struct icmp_answer *a);

void icmp_close(struct icmp_socket *s);

/* The method's name, for results. */
enum probe_method icmp_method_id(const struct icmp_socket *s);

/* Copies the text for errnum into buf ("Network is unreachable"); thread-safe. */
void probe_strerror(int errnum, char *buf, size_t len);

#endif
