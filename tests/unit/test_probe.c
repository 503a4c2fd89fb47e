/* test_probe.c — the probes of src/probe against loopback only. The process first moves into a
 * network namespace of its own (unshare(CLONE_NEWNET)) with lo up, so no packet can leave the
 * machine; where that is not permitted the network tests are skipped with a message. Covers
 * ping with each ICMP method forced (IPv4 and IPv6), several pings at once on raw sockets,
 * an address with no route, trace to 127.0.0.1, the three methods as an unprivileged user, TCP
 * accepted/refused/unreachable, DNS of literals and /etc/hosts names, the default gateway from
 * fixture route tables, and the JSON shapes of every result. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "probe/probe.h"
#include "probe/probe_json.h"
#include "probe_sync.h"

static bool in_netns;  /* the process has its own network namespace with lo up */
static bool have_ipv6; /* ::1 exists in it */
static char netns_why[160];

#define SKIP_WITHOUT_NETNS()                                                                       \
    do {                                                                                           \
        if (!in_netns) {                                                                           \
            print_message("SKIP: %s\n", netns_why);                                                \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static int bring_lo_up(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return -1;
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    close(fd);
    return rc;
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CREAT, 0644);
    if (fd < 0)
        return;
    ssize_t n = write(fd, text, strlen(text));
    (void)n;
    close(fd);
}

static bool own_resolv_conf; /* /etc/resolv.conf names 127.0.0.1, in a mount namespace of ours */
static char resolv_path[] = "/tmp/faultline-test-resolv-XXXXXX";

/* c-ares reads /etc/resolv.conf: in a private mount namespace, one naming our fake server. */
static void use_own_resolv_conf(void)
{
    int fd = mkstemp(resolv_path);
    if (fd < 0)
        return;
    close(fd);
    write_file(resolv_path, "nameserver 127.0.0.1\n");
    own_resolv_conf = unshare(CLONE_NEWNS) == 0 &&
                      mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
                      mount(resolv_path, "/etc/resolv.conf", NULL, MS_BIND, NULL) == 0;
}

static int leave_netns(void **state)
{
    if (own_resolv_conf)
        umount("/etc/resolv.conf");
    unlink(resolv_path);
    return 0;
}

static int enter_netns(void **state)
{
    if (unshare(CLONE_NEWNET) != 0) {
        snprintf(netns_why, sizeof netns_why,
                 "cannot create a network namespace (unshare: %s); loopback probes not run",
                 strerror(errno));
        return 0;
    }
    if (bring_lo_up() != 0) {
        snprintf(netns_why, sizeof netns_why, "cannot bring lo up in the new namespace: %s",
                 strerror(errno));
        return 0;
    }
    in_netns = true;
    use_own_resolv_conf();
    /* Lets every group open ICMP datagram sockets, in this namespace only. */
    write_file("/proc/sys/net/ipv4/ping_group_range", "0 2147483647");
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 any = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    have_ipv6 = fd >= 0 && bind(fd, (struct sockaddr *)&any, sizeof any) == 0;
    if (fd >= 0)
        close(fd);
    return 0;
}

static const struct {
    const char *env;
    enum probe_method method;
} METHODS[] = {
    {"raw", PROBE_METHOD_RAW},
    {"icmp-datagram", PROBE_METHOD_DGRAM},
    {"udp-recverr", PROBE_METHOD_UDP},
};
#define N_METHODS (sizeof METHODS / sizeof METHODS[0])

static void check_ping_answered(const char *addr, const char *method_env, enum probe_method method)
{
    setenv("FAULTLINE_ICMP_METHOD", method_env, 1);
    struct ping_result r;
    int rc = probe_ping(addr, 3, 10, 1000, &r);
    unsetenv("FAULTLINE_ICMP_METHOD");
    if (rc != 0)
        fail_msg("ping %s with %s: %s", addr, method_env, r.error);
    assert_int_equal(r.method, method);
    assert_string_equal(probe_method_name(r.method), method_env);
    assert_string_equal(r.addr, addr);
    assert_int_equal(r.sent, 3);
    assert_int_equal(r.received, 3);
    assert_true(r.loss_pct == 0.0);
    assert_true(r.rtt_min_ms > 0 && r.rtt_min_ms <= r.rtt_avg_ms);
    assert_true(r.rtt_avg_ms <= r.rtt_max_ms && r.rtt_max_ms < 1000);
    assert_string_equal(r.error, "");
}

static void test_ping_each_method_ipv4(void **state)
{
    SKIP_WITHOUT_NETNS();
    for (size_t i = 0; i < N_METHODS; i++)
        check_ping_answered("127.0.0.1", METHODS[i].env, METHODS[i].method);
}

static void test_ping_each_method_ipv6(void **state)
{
    SKIP_WITHOUT_NETNS();
    if (!have_ipv6) {
        print_message("SKIP: no IPv6 loopback in this namespace\n");
        skip();
    }
    for (size_t i = 0; i < N_METHODS; i++)
        check_ping_answered("::1", METHODS[i].env, METHODS[i].method);
}

/* Hosts answer UDP probes in a burst of 6, then once a second: the sixth waits a second. */
static void test_udp_probes_after_the_fifth_are_spaced(void **state)
{
    SKIP_WITHOUT_NETNS();
    setenv("FAULTLINE_ICMP_METHOD", "udp-recverr", 1);
    struct ping_result r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = probe_ping("127.0.0.1", 6, 0, 1000, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    unsetenv("FAULTLINE_ICMP_METHOD");
    assert_int_equal(rc, 0);
    assert_int_equal(r.received, 6);
    double elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(elapsed >= 0.95 && elapsed < 3);
}

static void test_ping_default_method_as_root(void **state)
{
    SKIP_WITHOUT_NETNS();
    if (geteuid() != 0) {
        print_message("SKIP: not root\n");
        skip();
    }
    struct ping_result r;
    assert_int_equal(probe_ping("127.0.0.1", 1, 0, 1000, &r), 0);
    assert_int_equal(r.method, PROBE_METHOD_RAW); /* the first of the table that opens */
    assert_int_equal(r.received, 1);
}

static void test_ping_unknown_method_is_an_error(void **state)
{
    setenv("FAULTLINE_ICMP_METHOD", "carrier-pigeon", 1);
    struct ping_result r;
    int rc = probe_ping("127.0.0.1", 1, 0, 100, &r);
    unsetenv("FAULTLINE_ICMP_METHOD");
    assert_int_equal(rc, -1);
    assert_non_null(strstr(r.error, "FAULTLINE_ICMP_METHOD"));
    assert_non_null(strstr(r.error, "carrier-pigeon"));
    assert_int_equal(r.sent, 0);
}

static void test_ping_bad_arguments(void **state)
{
    struct ping_result r;
    assert_int_equal(probe_ping("", 1, 0, 100, &r), -1);
    assert_true(r.error[0] != '\0');
    assert_int_equal(probe_ping("127.0.0.1", 0, 0, 100, &r), -1);
    assert_true(r.error[0] != '\0');
}

/* 192.0.2.1 (TEST-NET-1) has no route in the empty namespace: nothing can be sent. */
static void test_ping_without_route(void **state)
{
    SKIP_WITHOUT_NETNS();
    for (size_t i = 0; i < N_METHODS; i++) {
        setenv("FAULTLINE_ICMP_METHOD", METHODS[i].env, 1);
        struct ping_result r;
        int rc = probe_ping("192.0.2.1", 2, 0, 200, &r);
        unsetenv("FAULTLINE_ICMP_METHOD");
        assert_int_equal(r.received, 0);
        assert_true(r.loss_pct == 100.0);
        assert_int_equal(r.sent, 2);
        if (rc != 0 || r.error[0]) {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(r.error, "cannot send"));
        }
    }
}

/* Raw sockets see every ICMP packet, and every ping of an env shares one socket: each ping
 * must count its own replies only. */
static void test_pings_at_once_count_their_own_replies(void **state)
{
    SKIP_WITHOUT_NETNS();
    for (size_t m = 0; m < N_METHODS; m++) {
        setenv("FAULTLINE_ICMP_METHOD", METHODS[m].env, 1);
        struct ping_result r[4];
        struct sync_loop l;
        sync_open(&l);
        for (int i = 0; i < 4; i++)
            sync_ping_on(&l, "127.0.0.1", 5, 2, 1000, &r[i]);
        sync_run(&l);
        unsetenv("FAULTLINE_ICMP_METHOD");
        for (int i = 0; i < 4; i++) {
            if (r[i].error[0])
                fail_msg("%s ping %d: %s", METHODS[m].env, i, r[i].error);
            assert_int_equal(r[i].method, METHODS[m].method);
            assert_int_equal(r[i].sent, 5);
            assert_int_equal(r[i].received, 5);
        }
    }
}

/* Sends echo replies from 127.0.0.1 that answer nobody's probe (other ids, other payloads), as
 * another pinger's replies look to a raw socket, until *stop. */
static void *forge_replies(void *arg)
{
    atomic_bool *stop = arg;
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (unsigned n = 0; fd >= 0 && !atomic_load(stop); n++) {
        uint8_t pkt[24] = {0, 0, 0, 0, (uint8_t)(n >> 8), (uint8_t)n, 0, (uint8_t)(n % 3)};
        memset(pkt + 8, 0xa5, 16);
        uint32_t sum = 0;
        for (int i = 0; i < 24; i += 2)
            sum += (uint32_t)(pkt[i] << 8 | pkt[i + 1]);
        sum = (sum & 0xffff) + (sum >> 16);
        sum = ~(sum + (sum >> 16)) & 0xffff;
        pkt[2] = (uint8_t)(sum >> 8);
        pkt[3] = (uint8_t)sum;
        sendto(fd, pkt, sizeof pkt, 0, (struct sockaddr *)&lo, sizeof lo);
        usleep(2000);
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void test_raw_counts_no_reply_meant_for_others(void **state)
{
    SKIP_WITHOUT_NETNS();
    if (geteuid() != 0) {
        print_message("SKIP: not root\n");
        skip();
    }
    /* The kernel stays silent: every reply the probe could see is forged. */
    write_file("/proc/sys/net/ipv4/icmp_echo_ignore_all", "1");
    atomic_bool stop = false;
    pthread_t forger;
    assert_int_equal(pthread_create(&forger, NULL, forge_replies, &stop), 0);
    setenv("FAULTLINE_ICMP_METHOD", "raw", 1);
    struct ping_result r;
    int rc = probe_ping("127.0.0.1", 3, 20, 200, &r);
    unsetenv("FAULTLINE_ICMP_METHOD");
    atomic_store(&stop, true);
    pthread_join(forger, NULL);
    write_file("/proc/sys/net/ipv4/icmp_echo_ignore_all", "0");
    assert_int_equal(rc, 0);
    assert_int_equal(r.sent, 3);
    assert_int_equal(r.received, 0);
    assert_true(r.loss_pct == 100.0);
}

static void test_trace_loopback_is_one_hop(void **state)
{
    SKIP_WITHOUT_NETNS();
    for (size_t i = 0; i < N_METHODS; i++) {
        setenv("FAULTLINE_ICMP_METHOD", METHODS[i].env, 1);
        struct trace_result *r = malloc(sizeof *r);
        assert_non_null(r);
        int rc = probe_trace("127.0.0.1", 10, 2, 1000, r);
        unsetenv("FAULTLINE_ICMP_METHOD");
        if (rc != 0)
            fail_msg("trace with %s: %s", METHODS[i].env, r->error);
        assert_int_equal(r->method, METHODS[i].method);
        assert_true(r->reached);
        assert_int_equal(r->rounds, 2);
        assert_int_equal(r->n_hops, 1);
        assert_int_equal(r->hops[0].ttl, 1);
        assert_string_equal(r->hops[0].addr, "127.0.0.1");
        assert_int_equal(r->hops[0].sent, 2);
        assert_int_equal(r->hops[0].received, 2);
        assert_true(r->hops[0].loss_pct == 0.0);
        assert_true(r->hops[0].best_ms > 0 && r->hops[0].best_ms <= r->hops[0].avg_ms);
        assert_true(r->hops[0].avg_ms <= r->hops[0].worst_ms);
        free(r);
    }
}

static void test_trace_without_route(void **state)
{
    SKIP_WITHOUT_NETNS();
    struct trace_result *r = malloc(sizeof *r);
    assert_non_null(r);
    int rc = probe_trace("192.0.2.1", 5, 1, 200, r);
    assert_false(r->reached);
    if (rc != 0)
        assert_non_null(strstr(r->error, "cannot send"));
    for (int i = 0; i < r->n_hops; i++)
        assert_int_equal(r->hops[i].received, 0);
    free(r);
}

static void test_trace_bad_arguments(void **state)
{
    struct trace_result *r = malloc(sizeof *r);
    assert_non_null(r);
    assert_int_equal(probe_trace("127.0.0.1", 0, 1, 100, r), -1);
    assert_true(r->error[0] != '\0');
    assert_int_equal(probe_trace("127.0.0.1", TRACE_MAX_HOPS + 1, 1, 100, r), -1);
    assert_int_equal(probe_trace("127.0.0.1", 5, 0, 100, r), -1);
    free(r);
}

/* Runs a probe as nobody (uid/gid 65534) in a child process: what an agent started without
 * root gets. The child's exit status says what went wrong. */
static int unprivileged_child(const char *method_env)
{
    if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
        return 10;
    if (method_env)
        setenv("FAULTLINE_ICMP_METHOD", method_env, 1);
    struct ping_result p;
    if (probe_ping("127.0.0.1", 2, 5, 1000, &p) != 0 || p.received != 2)
        return 11;
    if (method_env && strcmp(probe_method_name(p.method), method_env) != 0)
        return 12;
    if (!method_env && p.method == PROBE_METHOD_RAW)
        return 13; /* nobody may not open raw sockets */
    struct trace_result *t = malloc(sizeof *t);
    if (!t || probe_trace("127.0.0.1", 5, 1, 1000, t) != 0 || !t->reached || t->n_hops != 1)
        return 14;
    free(t);
    return 0;
}

static void test_unprivileged_user(void **state)
{
    SKIP_WITHOUT_NETNS();
    if (geteuid() != 0) {
        print_message("SKIP: not root, cannot switch to nobody\n");
        skip();
    }
    const char *cases[] = {"udp-recverr", "icmp-datagram", NULL};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            _exit(unprivileged_child(cases[i]));
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) != 0)
            fail_msg("as nobody with %s: child exit %d", cases[i] ? cases[i] : "(default)",
                     WEXITSTATUS(status));
    }
}

/* A listening socket on 127.0.0.1 (port in *port), or a closed port when listening is false. */
static int loopback_port(bool listening, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    if (listening) {
        assert_int_equal(listen(fd, 4), 0);
        return fd;
    }
    close(fd);
    return -1;
}

static void test_tcp_accepted_refused_unreachable(void **state)
{
    SKIP_WITHOUT_NETNS();
    int port;
    int fd = loopback_port(true, &port);
    struct tcp_result r;
    assert_int_equal(probe_tcp("127.0.0.1", port, 1000, &r), 0);
    assert_true(r.ok);
    assert_true(r.reachable);
    assert_int_equal(r.port, port);
    assert_string_equal(r.addr, "127.0.0.1");
    assert_true(r.connect_ms > 0 && r.connect_ms < 1000);
    assert_string_equal(r.error, "");
    close(fd);

    loopback_port(false, &port);
    assert_int_equal(probe_tcp("127.0.0.1", port, 1000, &r), 0);
    assert_false(r.ok);
    assert_true(r.reachable); /* a refusal proves the host is there */
    assert_string_equal(r.error, "connection refused");

    assert_int_equal(probe_tcp("192.0.2.1", 80, 300, &r), 0);
    assert_false(r.ok);
    assert_false(r.reachable);
    assert_true(r.error[0] != '\0');

    assert_int_equal(probe_tcp("127.0.0.1", 0, 300, &r), -1);
    assert_non_null(strstr(r.error, "port"));
}

static void test_dns_literals_take_no_time(void **state)
{
    struct dns_result r;
    assert_int_equal(probe_dns("127.0.0.1", 1000, &r), 0);
    assert_true(r.ok);
    assert_string_equal(r.addr, "127.0.0.1");
    assert_true(r.ms < 1.0);
    assert_string_equal(r.error, "");
    assert_int_equal(probe_dns("::1", 1000, &r), 0);
    assert_true(r.ok);
    assert_string_equal(r.addr, "::1");
    assert_int_equal(probe_dns("", 1000, &r), -1);
    assert_true(r.error[0] != '\0');
}

static void test_dns_names(void **state)
{
    SKIP_WITHOUT_NETNS(); /* a name missing from /etc/hosts must not reach a real resolver */
    struct dns_result r;
    assert_int_equal(probe_dns("localhost", 2000, &r), 0);
    if (!r.ok)
        fail_msg("localhost: %s", r.error);
    assert_true(!strcmp(r.addr, "127.0.0.1") || !strcmp(r.addr, "::1"));
    assert_true(r.ms >= 0 && r.ms < 2000);

    /* No route to any name server in the namespace: an answer of failure, within the deadline. */
    assert_int_equal(probe_dns("faultline-test.invalid", 1500, &r), 0);
    assert_false(r.ok);
    assert_true(r.error[0] != '\0');
    assert_true(r.ms < 2500);
}

/* A DNS server on 127.0.0.1:53 for the tests: answers every A query with 192.0.2.7 and every
 * other query with no record, or (silent) reads queries and never answers. */
struct fake_dns {
    int fd;
    bool silent;
    atomic_bool stop;
    atomic_int queries;
    pthread_t thread;
};

static size_t dns_answer(const uint8_t *q, size_t len, uint8_t *out)
{
    size_t end = 12;
    while (end < len && q[end] != 0)
        end += (size_t)q[end] + 1;
    end += 5; /* root label, QTYPE, QCLASS */
    if (end > len || end + 16 > 512)
        return 0;
    bool a_query = q[end - 4] == 0 && q[end - 3] == 1;
    memcpy(out, q, end);
    out[2] = 0x81; /* response, recursion desired and available, no error */
    out[3] = 0x80;
    out[6] = 0;
    out[7] = a_query ? 1 : 0; /* answers */
    memset(out + 8, 0, 4);    /* no authority or additional records */
    if (!a_query)
        return end;
    const uint8_t answer[16] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7};
    memcpy(out + end, answer, sizeof answer);
    return end + sizeof answer;
}

static void *serve_dns(void *arg)
{
    struct fake_dns *d = arg;
    while (!atomic_load(&d->stop)) {
        struct pollfd pfd = {.fd = d->fd, .events = POLLIN};
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        uint8_t q[512], out[512];
        struct sockaddr_storage from;
        socklen_t from_len = sizeof from;
        ssize_t n = recvfrom(d->fd, q, sizeof q, 0, (struct sockaddr *)&from, &from_len);
        if (n < 12)
            continue;
        atomic_fetch_add(&d->queries, 1);
        size_t len = d->silent ? 0 : dns_answer(q, (size_t)n, out);
        if (len)
            sendto(d->fd, out, len, 0, (struct sockaddr *)&from, from_len);
    }
    return NULL;
}

static void fake_dns_start(struct fake_dns *d, bool silent)
{
    memset(d, 0, sizeof *d);
    d->silent = silent;
    d->fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(53), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(d->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(pthread_create(&d->thread, NULL, serve_dns, d), 0);
}

static void fake_dns_stop(struct fake_dns *d)
{
    atomic_store(&d->stop, true);
    pthread_join(d->thread, NULL);
    close(d->fd);
}

#define SKIP_WITHOUT_FAKE_RESOLVER()                                                               \
    do {                                                                                           \
        SKIP_WITHOUT_NETNS();                                                                      \
        if (!own_resolv_conf) {                                                                    \
            print_message("SKIP: cannot point /etc/resolv.conf at a fake server\n");               \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static void test_dns_through_a_name_server(void **state)
{
    SKIP_WITHOUT_FAKE_RESOLVER();
    struct fake_dns d;
    fake_dns_start(&d, false);
    struct dns_result r;
    int rc = probe_dns("fl.probe-test.example", 2000, &r);
    struct tcp_result t; /* the other probes resolve names the same way */
    int tcp_rc = probe_tcp("fl.probe-test.example", 80, 200, &t);
    fake_dns_stop(&d);
    assert_int_equal(rc, 0);
    if (!r.ok)
        fail_msg("%s", r.error);
    assert_string_equal(r.addr, "192.0.2.7");
    assert_true(r.ms > 0 && r.ms < 2000);
    assert_true(atomic_load(&d.queries) >= 1);
    assert_int_equal(tcp_rc, 0);
    assert_string_equal(t.addr, "192.0.2.7");
    assert_false(t.reachable); /* no route to it in the namespace */
}

static void test_dns_deadline_with_a_silent_server(void **state)
{
    SKIP_WITHOUT_FAKE_RESOLVER();
    struct fake_dns d;
    fake_dns_start(&d, true);
    struct dns_result r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = probe_dns("silent.probe-test.example", 400, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fake_dns_stop(&d);
    double elapsed_ms =
        (double)(t1.tv_sec - t0.tv_sec) * 1000 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_int_equal(rc, 0);
    assert_false(r.ok);
    assert_true(atomic_load(&d.queries) >= 1);
    assert_non_null(strstr(r.error, "timeout after 400 ms"));
    assert_true(elapsed_ms >= 350 && elapsed_ms < 1000);
    assert_true(r.ms >= 350 && r.ms < 1000);
}

/* A route table in /proc/net/route's format: one line per {iface, dest, gateway, flags, metric,
 * mask}, addresses in dotted form converted to the kernel's hex. */
struct route_row {
    const char *iface, *dest, *gateway;
    int flags, metric;
    const char *mask;
};

static void write_routes(const char *path, const struct route_row *rows, int n)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(
        f, "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n");
    for (int i = 0; i < n; i++) {
        struct in_addr d, g, m;
        inet_pton(AF_INET, rows[i].dest, &d);
        inet_pton(AF_INET, rows[i].gateway, &g);
        inet_pton(AF_INET, rows[i].mask, &m);
        fprintf(f, "%s\t%08X\t%08X\t%04X\t0\t0\t%d\t%08X\t0\t0\t0\n", rows[i].iface, d.s_addr,
                g.s_addr, rows[i].flags, rows[i].metric, m.s_addr);
    }
    fclose(f);
}

static void test_gateway_from_route_table(void **state)
{
    char path[] = "/tmp/faultline-test-route-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    setenv("FAULTLINE_PROC_NET_ROUTE", path, 1);
    char gw[PROBE_ADDR_MAX];

    const struct route_row with_default[] = {
        {"eth0", "10.1.0.0", "0.0.0.0", 0x1, 0, "255.255.255.0"},
        {"wlan0", "0.0.0.0", "192.168.7.1", 0x3, 600, "0.0.0.0"},
        {"eth0", "0.0.0.0", "10.1.0.1", 0x3, 100, "0.0.0.0"},
        {"eth1", "0.0.0.0", "10.9.0.1", 0x2, 0, "0.0.0.0"}, /* down: not used */
    };
    write_routes(path, with_default, 4);
    assert_int_equal(probe_default_gateway(gw, sizeof gw), 0);
    assert_string_equal(gw, "10.1.0.1"); /* the lowest metric among routes that are up */

    const struct route_row without_default[] = {
        {"eth0", "10.1.0.0", "0.0.0.0", 0x1, 0, "255.255.255.0"},
        {"eth0", "172.16.0.0", "10.1.0.1", 0x3, 0, "255.240.0.0"},
    };
    write_routes(path, without_default, 2);
    assert_int_equal(probe_default_gateway(gw, sizeof gw), -1);

    write_file(path, "garbage\nmore garbage without fields\n");
    assert_int_equal(probe_default_gateway(gw, sizeof gw), -1);

    unlink(path);
    assert_int_equal(probe_default_gateway(gw, sizeof gw), -1); /* no file */
    unsetenv("FAULTLINE_PROC_NET_ROUTE");
}

static void test_method_names(void **state)
{
    assert_string_equal(probe_method_name(PROBE_METHOD_RAW), "raw");
    assert_string_equal(probe_method_name(PROBE_METHOD_DGRAM), "icmp-datagram");
    assert_string_equal(probe_method_name(PROBE_METHOD_UDP), "udp-recverr");
    assert_string_equal(probe_method_name(PROBE_METHOD_NONE), "none");
}

static char *dump(json_t *obj)
{
    assert_non_null(obj);
    char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
    json_decref(obj);
    assert_non_null(text);
    return text;
}

static void assert_json(json_t *obj, const char *expected)
{
    char *text = dump(obj);
    if (strcmp(text, expected) != 0)
        fail_msg("got      %s\nexpected %s", text, expected);
    free(text);
}

static void test_ping_json(void **state)
{
    struct ping_result r = {.target = "fl.example.net",
                            .addr = "203.0.113.10",
                            .method = PROBE_METHOD_RAW,
                            .sent = 10,
                            .received = 0,
                            .loss_pct = 100};
    assert_json(ping_result_json(&r),
                "{\"addr\":\"203.0.113.10\",\"loss_pct\":100.0,\"method\":\"raw\",\"received\":0,"
                "\"rtt_avg_ms\":null,\"rtt_max_ms\":null,\"rtt_min_ms\":null,\"sent\":10,"
                "\"target\":\"fl.example.net\"}");
    r.received = 7;
    r.loss_pct = 30;
    r.rtt_min_ms = 0.40612;
    r.rtt_avg_ms = 1.23456;
    r.rtt_max_ms = 2.5;
    r.method = PROBE_METHOD_UDP;
    assert_json(ping_result_json(&r),
                "{\"addr\":\"203.0.113.10\",\"loss_pct\":30.0,\"method\":\"udp-recverr\","
                "\"received\":7,\"rtt_avg_ms\":1.23,\"rtt_max_ms\":2.5,\"rtt_min_ms\":0.41,"
                "\"sent\":10,\"target\":\"fl.example.net\"}");
    struct ping_result failed = {.target = "nowhere.invalid"};
    snprintf(failed.error, sizeof failed.error, "resolving nowhere.invalid: Domain name not found");
    char *text = dump(ping_result_json(&failed));
    assert_non_null(strstr(text, "\"error\":\"resolving nowhere.invalid"));
    assert_non_null(strstr(text, "\"method\":\"none\""));
    assert_non_null(strstr(text, "\"rtt_avg_ms\":null"));
    free(text);
}

static void test_trace_json(void **state)
{
    struct trace_result *r = calloc(1, sizeof *r);
    assert_non_null(r);
    snprintf(r->target, sizeof r->target, "fl.example.net");
    snprintf(r->addr, sizeof r->addr, "203.0.113.10");
    r->method = PROBE_METHOD_DGRAM;
    r->rounds = 5;
    r->n_hops = 2;
    r->hops[0] = (struct trace_hop){.ttl = 1,
                                    .addr = "10.1.0.1",
                                    .sent = 5,
                                    .received = 5,
                                    .best_ms = 0.3,
                                    .avg_ms = 0.4,
                                    .worst_ms = 0.6};
    r->hops[1] = (struct trace_hop){.ttl = 2, .sent = 5, .loss_pct = 100};
    assert_json(trace_result_json(r),
                "{\"addr\":\"203.0.113.10\",\"hops\":[{\"addr\":\"10.1.0.1\",\"avg_ms\":0.4,"
                "\"best_ms\":0.3,\"loss_pct\":0.0,\"received\":5,\"sent\":5,\"ttl\":1,"
                "\"worst_ms\":0.6},{\"addr\":\"\",\"avg_ms\":null,\"best_ms\":null,"
                "\"loss_pct\":100.0,\"received\":0,\"sent\":5,\"ttl\":2,\"worst_ms\":null}],"
                "\"method\":\"icmp-datagram\",\"reached\":false,\"rounds\":5,"
                "\"target\":\"fl.example.net\"}");
    free(r);
}

static void test_tcp_and_dns_json(void **state)
{
    struct tcp_result t = {.addr = "203.0.113.10", .port = 5000, .error = "timeout after 2000 ms"};
    assert_json(tcp_result_json(&t),
                "{\"addr\":\"203.0.113.10\",\"connect_ms\":null,\"error\":\"timeout after 2000 "
                "ms\",\"ok\":false,\"port\":5000,\"reachable\":false}");
    struct tcp_result ok = {
        .addr = "127.0.0.1", .port = 22, .ok = true, .reachable = true, .connect_ms = 0.123};
    assert_json(tcp_result_json(&ok), "{\"addr\":\"127.0.0.1\",\"connect_ms\":0.12,\"error\":null,"
                                      "\"ok\":true,\"port\":22,\"reachable\":true}");
    struct dns_result d = {
        .name = "fl.example.net", .ok = true, .ms = 3.204, .addr = "203.0.113.10"};
    assert_json(dns_result_json(&d), "{\"addr\":\"203.0.113.10\",\"error\":null,\"ms\":3.2,"
                                     "\"name\":\"fl.example.net\",\"ok\":true}");
    struct dns_result bad = {
        .name = "x.invalid", .ms = 12, .error = "resolving x.invalid: timeout"};
    assert_json(dns_result_json(&bad), "{\"addr\":null,\"error\":\"resolving x.invalid: timeout\","
                                       "\"ms\":12.0,\"name\":\"x.invalid\",\"ok\":false}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_method_names),
        cmocka_unit_test(test_ping_json),
        cmocka_unit_test(test_trace_json),
        cmocka_unit_test(test_tcp_and_dns_json),
        cmocka_unit_test(test_gateway_from_route_table),
        cmocka_unit_test(test_ping_bad_arguments),
        cmocka_unit_test(test_trace_bad_arguments),
        cmocka_unit_test(test_dns_literals_take_no_time),
        cmocka_unit_test(test_ping_unknown_method_is_an_error),
        cmocka_unit_test(test_ping_each_method_ipv4),
        cmocka_unit_test(test_ping_each_method_ipv6),
        cmocka_unit_test(test_udp_probes_after_the_fifth_are_spaced),
        cmocka_unit_test(test_ping_default_method_as_root),
        cmocka_unit_test(test_ping_without_route),
        cmocka_unit_test(test_pings_at_once_count_their_own_replies),
        cmocka_unit_test(test_raw_counts_no_reply_meant_for_others),
        cmocka_unit_test(test_trace_loopback_is_one_hop),
        cmocka_unit_test(test_trace_without_route),
        cmocka_unit_test(test_unprivileged_user),
        cmocka_unit_test(test_tcp_accepted_refused_unreachable),
        cmocka_unit_test(test_dns_names),
        cmocka_unit_test(test_dns_through_a_name_server),
        cmocka_unit_test(test_dns_deadline_with_a_silent_server),
    };
    return cmocka_run_group_tests(tests, enter_netns, leave_netns);
}
