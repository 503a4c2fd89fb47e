/* probe_internal.h — what the files of src/probe share and nobody else uses: a resolved target,
 * the monotonic clock in nanoseconds, the loop-wide environment (struct probe_env, built in
 * env.c), name resolution on the env's c-ares channel (dns.c), the shared ICMP sockets (icmp.c,
 * one per address family, one of three methods chosen from a table), the libcurl multi handle
 * (http.c) and small helpers for parsing options (options.c).
 *
 * Everything here runs on the thread of the loop the env belongs to. */
#ifndef FAULTLINE_PROBE_INTERNAL_H
#define FAULTLINE_PROBE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <uv.h>

#include "probe/probe.h"
#include "probe/probe_type.h"

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

/* The text form of a socket address ("" when the family is unknown). */
void probe_addr_text(const struct sockaddr *sa, char *buf, size_t len);
/* An IP literal as a target (port 0), or false. */
bool probe_parse_literal(const char *host, struct probe_target *out);
void probe_target_set_port(struct probe_target *t, int port);
/* Copies the text for errnum into buf ("Network is unreachable"). */
void probe_strerror(int errnum, char *buf, size_t len);

/* ---- the env -------------------------------------------------------------------------------- */

struct icmp_socket;
struct probe_ares;
struct probe_curl;
struct sockwatch;

struct probe_env {
    uv_loop_t *loop;
    struct icmp_socket *icmp[2]; /* [0] IPv4, [1] IPv6; opened on first use */
    struct probe_ares *ares;     /* channels: the system's resolvers first, then per server */
    struct probe_curl *curl;     /* created on first use */
    struct sockwatch *sockwatch; /* the tcp probes' epoll fd, on first use (sockwatch.c) */
    void *tls_credentials;       /* gnutls_certificate_credentials_t, on first use (tcp.c) */
    int holds;                   /* handles being closed; the env is freed at 0 once closing */
    bool closing;
};

/* Counts something (a handle being closed) the env must see end before it is freed. */
void probe_env_hold(struct probe_env *env);
void probe_env_release(struct probe_env *env);

/* ---- name resolution (dns.c) ---------------------------------------------------------------- */

/* Called once per probe_resolve: 0 with *t, or -1 with err ("resolving x: timeout after N ms"). */
typedef void (*probe_resolve_cb)(int status, const struct probe_target *t, const char *err,
                                 void *ctx);
struct probe_resolve; /* a lookup in flight */

/* Resolves host (IPv4 preferred) on the env's channel within timeout_ms. An IP literal is not
 * looked up: cb runs from the loop's next iteration all the same. Returns NULL when out of
 * memory. */
struct probe_resolve *probe_resolve(struct probe_env *env, const char *host, int timeout_ms,
                                    probe_resolve_cb cb, void *ctx);
/* Stops a lookup: cb is not called. */
void probe_resolve_cancel(struct probe_resolve *r);

/* A c-ares channel on the loop: server NULL for the system's resolvers, else "host:port".
 * Channels are kept by the env until it closes. NULL with err when it cannot be made. */
struct probe_ares *probe_ares_channel(struct probe_env *env, const char *server, char *err,
                                      size_t errlen);
/* The channel itself (ares_channel), for queries. */
void *probe_ares_handle(struct probe_ares *a);
/* Re-arms the channel's timer after a query was started. */
void probe_ares_kick(struct probe_ares *a);
void probe_ares_close_all(struct probe_env *env);

/* ---- sockets watched through the env's epoll fd (sockwatch.c) -------------------------------- */

/* Someone whose socket is watched: on_event gets the epoll events (EPOLLOUT, EPOLLIN, EPOLLERR,
 * EPOLLHUP...) once per arming. The client must outlive its socket's stay in the set (until the
 * socket is closed), and be freed from a close callback of the loop or later, never from another
 * client's on_event. */
struct sockwatch_client {
    void (*on_event)(struct sockwatch_client *c, uint32_t events);
};

/* Arms fd for one event among events (EPOLLOUT, EPOLLIN; errors and hang-ups always count): the
 * first arming of fd (added false) adds it to the set, later ones re-arm it; closing fd takes it
 * out. 0, or -errno. */
int sockwatch_arm(struct probe_env *env, int fd, bool added, uint32_t events,
                  struct sockwatch_client *c);
/* A non-blocking TCP socket of family (AF_INET, AF_INET6): a disconnected one kept by
 * sockwatch_release (*added true: it is in the set, disarmed), or a new one (*added false).
 * -1 with errno when none can be made. */
int sockwatch_socket(struct probe_env *env, int family, bool *added);
/* The run is done with fd, a socket of sockwatch_socket that waits for no event. reusable (its
 * connect succeeded, it is in the set): disconnected (a reset when connected) and kept for the
 * next sockwatch_socket of family while there is room; otherwise, or when that fails, closed. */
void sockwatch_release(struct probe_env *env, int fd, int family, bool reusable);
/* Takes fd out of the set before it is closed, for a socket still armed: closing it takes it out
 * only when no other process holds it (a child between fork and exec), and an event of a freed
 * client must not come. */
void sockwatch_forget(struct probe_env *env, int fd);
void sockwatch_close(struct probe_env *env);

/* ---- ICMP (icmp.c) -------------------------------------------------------------------------- */

/* What came back for one probe. */
enum icmp_answer_kind {
    ICMP_ANSWER_TARGET = 1,    /* the target itself answered (echo reply; for UDP probes port
                                  unreachable or data; any ICMP error sent by the target) */
    ICMP_ANSWER_TIME_EXCEEDED, /* a router on the way: TTL ran out there */
    ICMP_ANSWER_UNREACHABLE,   /* a router says the target cannot be reached */
};

/* An answer as read from the socket, before its owner judged who sent it. */
enum icmp_packet_kind { ICMP_PACKET_REPLY = 1, ICMP_PACKET_TIME_EXCEEDED, ICMP_PACKET_UNREACH };

struct icmp_answer {
    enum icmp_answer_kind kind;
    int seq;                   /* the probe's sequence number, as given to icmp_send */
    char from[PROBE_ADDR_MAX]; /* who answered */
    int64_t at_ns;             /* when it was read (probe_now_ns) */
};

/* A user of a shared socket (a ping, a trace): answers to the sequence numbers it took are
 * handed to on_answer, already judged against target. */
struct icmp_client {
    struct probe_target target;
    void (*on_answer)(struct icmp_client *c, const struct icmp_answer *a);
};

/* Highest sequence number a probe may carry (UDP probes use it in the destination port). */
#define ICMP_SEQ_MAX 30000

/* The env's socket for family, opened on first use: the method named by FAULTLINE_ICMP_METHOD,
 * or the first of raw, icmp-datagram, udp-recverr that this process may open. NULL with err. */
struct icmp_socket *icmp_socket_get(struct probe_env *env, int family, char *err, size_t errlen);
/* A free sequence number now owned by c, or -1 when all are taken. */
int icmp_seq_take(struct icmp_socket *s, struct icmp_client *c);
void icmp_seq_release(struct icmp_socket *s, int seq);
/* Sends probe seq to c's target with the given TTL (0: the system default). 0, or -errno. */
int icmp_send(struct icmp_socket *s, const struct icmp_client *c, int seq, int ttl);
enum probe_method icmp_method_id(const struct icmp_socket *s);
void icmp_close_all(struct probe_env *env);

/* ---- libcurl (http.c) ----------------------------------------------------------------------- */

void probe_curl_close(struct probe_env *env);

/* ---- TLS on a connected socket (tcp.c) ------------------------------------------------------ */

void probe_tls_free_credentials(struct probe_env *env);

/* ---- options (options.c) -------------------------------------------------------------------- */

/* The check's "target" string; NULL with *field "target" and err when missing or empty. */
const char *probe_opt_target(const json_t *def, const char **field, char *err, size_t errlen);
/* "host:port" or "[v6]:port" into host (cap hostlen) and port. 0, or -1 with err. */
int probe_opt_host_port(const char *text, char *host, size_t hostlen, int *port, char *err,
                        size_t errlen);
/* An optional member of def: 1 found (value stored), 0 absent, -1 wrong type (err, *field). */
int probe_opt_string(const json_t *def, const char *name, const char **out, const char **field,
                     char *err, size_t errlen);
int probe_opt_bool(const json_t *def, const char *name, bool *out, const char **field, char *err,
                   size_t errlen);
int probe_opt_int(const json_t *def, const char *name, long lo, long hi, long *out,
                  const char **field, char *err, size_t errlen);
/* A copy of s (NULL stays NULL); *ok false when out of memory. */
char *probe_strdup(const char *s, bool *ok);

/* ---- DNS answers (dns.c) ----------------------------------------------------------------------
 */

/* The answers of type qtype (ns_t_a, ...) in a DNS response, as texts ("192.0.2.1",
 * "10 mx.example", names without the final dot), each malloc'd into texts[] (at most max).
 * Returns how many, or -1 (nothing stored) when the packet is malformed. fuzz/fuzz_probe_output.c
 * feeds it anything. */
int probe_dns_parse_answers(const unsigned char *abuf, int alen, int qtype, char **texts, int max);

/* ---- Nagios perfdata (perfdata.c) ----------------------------------------------------------- */

/* Splits a plugin's output: the text before the first '|' (whitespace trimmed) is the output;
 * what follows a '|' on the first line and on any later line is performance data, parsed into
 * r->perfdata (at most PROBE_PERFDATA_MAX items; malformed items are skipped). Writes into text
 * (NUL-terminates the output part); r->output points into it. */
void probe_split_plugin_output(char *text, struct probe_result *r);
/* Parses "label=value[UOM];warn;crit;min;max ..." items into out (at most max). Returns the
 * number stored. */
size_t probe_perfdata_parse(const char *text, size_t len, struct probe_perfdata *out, size_t max);

#endif
