/* probe.h — the network probes of diagnostics, shared by the agent and the server: ICMP echo
 * (ping), an MTR-style path probe (trace), and the default gateway; and the result shapes of
 * TCP connects and DNS resolution that diagnostics record (probe_json.h). TCP, DNS, HTTP and exec
 * probes run through the probe table (probe_type.h).
 *
 * Ping and trace are state machines on the loop of a struct probe_env (probe_type.h): start
 * returns at once, and the done callback runs later on the loop thread, exactly once unless the
 * run was cancelled. Every ping and trace of one env shares one ICMP socket per address family;
 * answers are told apart by sequence number and a random cookie, so runs may overlap freely.
 *
 * ICMP needs a socket that can send echo requests. Three methods, tried in this order, each a
 * row of a table of functions in icmp.c (struct icmp_method):
 *   raw            SOCK_RAW/IPPROTO_ICMP(V6): root or CAP_NET_RAW
 *   icmp-datagram  SOCK_DGRAM/IPPROTO_ICMP(V6): unprivileged where net.ipv4.ping_group_range
 *                  includes the process's group
 *   udp-recverr    UDP datagrams with a TTL, answers read from the error queue (IP_RECVERR):
 *                  works for any user; "echo" is then a UDP probe to a high port, answered by
 *                  ICMP port unreachable from the target
 * FAULTLINE_ICMP_METHOD=raw|icmp-datagram|udp-recverr forces one (read when the env opens its
 * socket: tests use it to cover all three). Results say which method ran. A probe knows nothing
 * of agents, checks or alerts. */
#ifndef FAULTLINE_PROBE_H
#define FAULTLINE_PROBE_H

#include <stdbool.h>
#include <stddef.h>

#define PROBE_ADDR_MAX 46 /* INET6_ADDRSTRLEN */
#define PROBE_HOST_MAX 256
#define PROBE_ERROR_MAX 160
#define TRACE_MAX_HOPS 64

enum probe_method { PROBE_METHOD_NONE = 0, PROBE_METHOD_RAW, PROBE_METHOD_DGRAM, PROBE_METHOD_UDP };

/* "raw", "icmp-datagram", "udp-recverr", or "none". */
const char *probe_method_name(enum probe_method method);

/* Echo requests to one host. */
struct ping_result {
    char target[PROBE_HOST_MAX]; /* as asked */
    char addr[PROBE_ADDR_MAX];   /* the address probed (after resolving target) */
    enum probe_method method;
    int sent, received;
    double loss_pct;                           /* 0..100 */
    double rtt_min_ms, rtt_avg_ms, rtt_max_ms; /* over the answers; 0 when none */
    char error[PROBE_ERROR_MAX];               /* "" when the probe ran */
};

struct probe_env;
struct probe_ping; /* a ping in flight */
typedef void (*ping_done_cb)(const struct ping_result *result, void *ctx);

/* Sends count echo requests interval_ms apart and waits at most timeout_ms for each answer.
 * With udp-recverr, requests after the fifth go at least 1 s apart: hosts rate-limit the port
 * unreachable answers to 1 per second after a burst of 6, and faster probes would read as loss.
 * The result has error set also when every request was refused by the kernel (no route): then
 * sent is count, received 0 and error says why; when the target could not be resolved or no
 * ICMP socket opened, sent is 0. Returns NULL when the arguments are wrong (then *failed holds
 * the result with the reason, and done is never called). */
struct probe_ping *probe_ping_start(struct probe_env *env, const char *target, int count,
                                    int interval_ms, int timeout_ms, ping_done_cb done, void *ctx,
                                    struct ping_result *failed);
/* Stops a ping in flight: done is not called. */
void probe_ping_cancel(struct probe_ping *p);
/* Ends the ping (done with what it has: echoes not sent yet are not counted) at the latest
 * within_ms after it started, however the echoes are paced. */
void probe_ping_set_deadline(struct probe_ping *p, int within_ms);

/* One TTL of a path probe. addr is "" when no router answered at this TTL in any round. */
struct trace_hop {
    int ttl;
    char addr[PROBE_ADDR_MAX];
    int sent, received;
    double loss_pct;
    double best_ms, avg_ms, worst_ms;
};

/* An MTR-style path: for each TTL from 1 up to max_hops (stopping after the target answers),
 * rounds probes; hops[] in TTL order. */
struct trace_result {
    char target[PROBE_HOST_MAX];
    char addr[PROBE_ADDR_MAX];
    enum probe_method method;
    int rounds;
    bool reached; /* the target itself answered */
    int n_hops;
    struct trace_hop hops[TRACE_MAX_HOPS];
    char error[PROBE_ERROR_MAX];
};

struct probe_trace; /* a trace in flight */
typedef void (*trace_done_cb)(const struct trace_result *result, void *ctx);

/* timeout_ms bounds the wait for each round's answers. Rounds start at least 1 s apart (routers
 * rate-limit time exceeded per host), so a trace takes about rounds - 1 seconds or more. Hops
 * past the last one that answered are cut to one, so hops[n_hops - 1] is where answers stop.
 * Returns NULL when the arguments are wrong (*failed then says why; done is never called). */
struct probe_trace *probe_trace_start(struct probe_env *env, const char *target, int max_hops,
                                      int rounds, int timeout_ms, trace_done_cb done, void *ctx,
                                      struct trace_result *failed);
void probe_trace_cancel(struct probe_trace *t);

/* A TCP connect as diagnostics record it (from the tcp probe type's result). A refusal (RST)
 * proves the host is reachable: reachable is true, ok false. */
struct tcp_result {
    char addr[PROBE_ADDR_MAX];
    int port;
    bool ok;        /* the connection was accepted */
    bool reachable; /* accepted or refused */
    double connect_ms;
    char error[PROBE_ERROR_MAX];
};

struct probe_tcp_run; /* a plain connect in flight */
typedef void (*tcp_done_cb)(const struct tcp_result *result, void *ctx);
/* Connects to host (an IP literal, or a name resolved on the env's channel) at port through
 * the tcp probe type, without TLS, send or expect. Returns NULL when the arguments are wrong or
 * out of memory (*failed says why; done is never called). */
struct probe_tcp_run *probe_tcp_start(struct probe_env *env, const char *host, int port,
                                      int timeout_ms, tcp_done_cb done, void *ctx,
                                      struct tcp_result *failed);
void probe_tcp_cancel(struct probe_tcp_run *t);

/* Resolution of a name (A/AAAA) through the system's resolvers (c-ares, /etc/resolv.conf), as
 * diagnostics record it. */
struct dns_result {
    char name[PROBE_HOST_MAX];
    bool ok;
    double ms;
    char addr[PROBE_ADDR_MAX]; /* first address found */
    char error[PROBE_ERROR_MAX];
};

struct probe_dns_run; /* a timed resolution in flight */
typedef void (*dns_done_cb)(const struct dns_result *result, void *ctx);
/* Times the resolution of name on the env's channel (an IP literal takes no time). Returns
 * NULL when out of memory or name is empty (*failed says why; done is never called). */
struct probe_dns_run *probe_dns_start(struct probe_env *env, const char *name, int timeout_ms,
                                      dns_done_cb done, void *ctx, struct dns_result *failed);
void probe_dns_cancel(struct probe_dns_run *d);

/* The IPv4 default gateway from /proc/net/route (FAULTLINE_PROC_NET_ROUTE overrides the path,
 * for tests). Returns 0, or -1 when there is no default route. */
int probe_default_gateway(char *addr, size_t len);

#endif
