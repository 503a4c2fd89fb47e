/* test_probe_types.c — the probe table (probe_type.h) against real targets on loopback, in a
 * network namespace of the test's own (unshare(CLONE_NEWNET), lo up; skipped with a message
 * where that is not permitted): tcp with a banner, send and expect, refused and silent; exec
 * scripts that pass, fail, hang (the timeout kills the group, a child included) and print too
 * much, with their perfdata; icmp to 127.0.0.1; option errors naming the field; the table
 * itself; and the perfdata parser. HTTP, TLS and DNS against real servers are in
 * tests/integration/probe-types.test.mjs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "probe/probe_internal.h"
#include "probe_sync.h"

static bool in_netns;
static char netns_why[160];

#define SKIP_WITHOUT_NETNS()                                                                       \
    do {                                                                                           \
        if (!in_netns) {                                                                           \
            print_message("SKIP: %s\n", netns_why);                                                \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static int enter_netns(void **state)
{
    if (unshare(CLONE_NEWNET) != 0) {
        snprintf(netns_why, sizeof netns_why, "cannot create a network namespace: %s",
                 strerror(errno));
        return 0;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        in_netns = ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
    }
    if (fd >= 0)
        close(fd);
    if (!in_netns)
        snprintf(netns_why, sizeof netns_why, "cannot bring lo up in the new namespace");
    return 0;
}

static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1000 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* A socket of type bound to 127.0.0.1 on a free port (in *port), listening with backlog when a
 * stream. */
static int bind_loopback(int type, int backlog, int *port)
{
    int fd = socket(AF_INET, type, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    if (type == SOCK_STREAM)
        assert_int_equal(listen(fd, backlog), 0);
    return fd;
}

/* ---- a TCP server on 127.0.0.1: greets with a banner, then echoes one read back ---------- */

struct banner_server {
    int fd, port;
    const char *banner; /* NULL: says nothing until spoken to */
    bool silent;        /* accepts and never writes */
    pthread_t thread;
    ssize_t read_len; /* what the read after the banner returned (0: the client closed, a FIN) */
    int read_errno;   /* and its errno when -1 (ECONNRESET: the client reset) */
};

static void *serve_banner(void *arg)
{
    struct banner_server *s = arg;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    if (s->banner && !s->silent)
        (void)!write(c, s->banner, strlen(s->banner));
    char buf[256];
    ssize_t n = read(c, buf, sizeof buf);
    s->read_len = n;
    s->read_errno = n < 0 ? errno : 0;
    if (n > 0 && !s->silent)
        (void)!write(c, buf, (size_t)n);
    usleep(200 * 1000);
    close(c);
    return NULL;
}

static void banner_start(struct banner_server *s, const char *banner, bool silent)
{
    memset(s, 0, sizeof *s);
    s->banner = banner;
    s->silent = silent;
    s->fd = bind_loopback(SOCK_STREAM, 4, &s->port);
    assert_int_equal(pthread_create(&s->thread, NULL, serve_banner, s), 0);
}

static void banner_stop(struct banner_server *s)
{
    shutdown(s->fd, SHUT_RDWR);
    pthread_join(s->thread, NULL);
    close(s->fd);
}

static int run(const char *type, const char *def, int timeout_ms, struct sync_result *out)
{
    char err[300];
    int rc = sync_probe(type, def, timeout_ms, out, err, sizeof err);
    if (rc != 0)
        print_message("%s: %s\n", type, err);
    return rc;
}

static void test_tcp_banner_expected(void **state)
{
    SKIP_WITHOUT_NETNS();
    struct banner_server s;
    banner_start(&s, "220 mail.test ESMTP ready\r\n", false);
    char def[200];
    snprintf(def, sizeof def, "{\"target\": \"127.0.0.1:%d\", \"expect\": \"ESMTP\"}", s.port);
    struct sync_result r;
    assert_int_equal(run("tcp", def, 2000, &r), 0);
    banner_stop(&s);
    assert_true(r.done);
    assert_true(r.r.connected);
    assert_true(r.r.reachable);
    assert_string_equal(r.r.error, "");
    assert_non_null(strstr(r.body, "220 mail.test ESMTP"));
    assert_string_equal(r.r.addr, "127.0.0.1");
    assert_true(r.r.response_time_ms > 0 && r.r.response_time_ms < 2000);
    json_t *body = json_object_get(r.json, "body");
    assert_non_null(strstr(json_string_value(body), "ESMTP"));
    assert_true(json_is_true(json_object_get(r.json, "connected")));
    /* a check that talked closes as a client would: a FIN, not the reset of a bare connect */
    assert_int_equal(s.read_errno, 0);
    assert_int_equal(s.read_len, 0);
    sync_result_free(&r);
}

static void test_tcp_send_then_expect(void **state)
{
    SKIP_WITHOUT_NETNS();
    struct banner_server s;
    banner_start(&s, NULL, false);
    char def[200];
    snprintf(def, sizeof def,
             "{\"target\": \"127.0.0.1:%d\", \"send\": \"PING fl\\n\", \"expect\": \"PING fl\"}",
             s.port);
    struct sync_result r;
    assert_int_equal(run("tcp", def, 2000, &r), 0);
    banner_stop(&s);
    assert_true(r.r.connected);
    assert_string_equal(r.body, "PING fl\n");
    sync_result_free(&r);
}

static void test_tcp_expect_missing_is_not_connected(void **state)
{
    SKIP_WITHOUT_NETNS();
    struct banner_server s;
    banner_start(&s, "SSH-2.0-OpenSSH\r\n", false);
    char def[200];
    snprintf(def, sizeof def, "{\"target\": \"127.0.0.1:%d\", \"expect\": \"ESMTP\"}", s.port);
    struct sync_result r;
    assert_int_equal(run("tcp", def, 600, &r), 0);
    banner_stop(&s);
    assert_false(r.r.connected);
    assert_true(r.r.reachable);
    assert_string_equal(r.r.error, "timeout after 600 ms (waiting for the expected answer)");
    sync_result_free(&r);
}

static void test_tcp_silent_server_times_out(void **state)
{
    SKIP_WITHOUT_NETNS();
    struct banner_server s;
    banner_start(&s, NULL, true);
    char def[200];
    snprintf(def, sizeof def, "{\"target\": \"127.0.0.1:%d\", \"expect\": \"hello\"}", s.port);
    struct sync_result r;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(run("tcp", def, 300, &r), 0);
    double ms = elapsed_ms(&t0);
    banner_stop(&s);
    assert_false(r.r.connected);
    assert_true(r.r.timed_out);
    assert_string_equal(r.r.error, "timeout after 300 ms (waiting for the expected answer)");
    assert_true(ms >= 290 && ms < 1000);
    sync_result_free(&r);
}

static void test_tcp_refused_is_reachable(void **state)
{
    SKIP_WITHOUT_NETNS();
    struct banner_server s;
    banner_start(&s, NULL, false);
    banner_stop(&s); /* closed: the port now refuses */
    char def[200];
    snprintf(def, sizeof def, "{\"target\": \"127.0.0.1:%d\"}", s.port);
    struct sync_result r;
    assert_int_equal(run("tcp", def, 1000, &r), 0);
    assert_false(r.r.connected);
    assert_true(r.r.reachable);
    assert_string_equal(r.r.error, "connection refused");
    sync_result_free(&r);
}

static void test_tcp_no_route_is_unreachable(void **state)
{
    SKIP_WITHOUT_NETNS();
    struct sync_result r;
    assert_int_equal(run("tcp", "{\"target\": \"192.0.2.1:80\"}", 300, &r), 0);
    assert_false(r.r.connected);
    assert_false(r.r.reachable);
    assert_true(r.r.error[0] != '\0');
    sync_result_free(&r);
}

/* ---- sockets kept between runs (sockwatch.c) ------------------------------------------------ */

/* Sockets open in this process (the entries of /proc/self/fd that are sockets). */
static int count_sockets(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[300], link[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, link, sizeof link - 1);
        if (len > 0) {
            link[len] = '\0';
            n += strncmp(link, "socket:", 7) == 0;
        }
    }
    closedir(d);
    return n;
}

enum { STEP_OK, STEP_REFUSED, STEP_HANGS };

struct chain {
    struct sync_loop l;
    uv_timer_t after;
    const struct probe_type *tcp;
    void *options[3]; /* by step kind */
    const int *steps;
    int n_steps, step, sockets_after;
};

static void on_chain_done(const struct probe_result *r, void *ctx);

static void chain_next(struct chain *c)
{
    char err[200];
    assert_non_null(c->tcp->start(c->l.env, c->options[c->steps[c->step]], 300, on_chain_done, c,
                                  err, sizeof err));
}

static void on_chain_after(uv_timer_t *t)
{
    struct chain *c = t->data;
    c->sockets_after = count_sockets();
    probe_env_close(c->l.env);
    uv_close((uv_handle_t *)t, NULL);
}

static void on_chain_done(const struct probe_result *r, void *ctx)
{
    struct chain *c = ctx;
    static const char *const want[] = {"", "connection refused",
                                       "timeout after 300 ms (connecting)"};
    int kind = c->steps[c->step];
    if (strcmp(r->error, want[kind]) != 0 || r->connected != (kind == STEP_OK))
        fail_msg("step %d: connected %d, error \"%s\"; expected \"%s\"", c->step, r->connected,
                 r->error, want[kind]);
    if (++c->step < c->n_steps)
        chain_next(c);
    else /* the last run's socket is released after this callback returns */
        uv_timer_start(&c->after, on_chain_after, 0, 0);
}

/* The options of a bare connect to 127.0.0.1:port. */
static void *tcp_options(int port)
{
    char text[100];
    snprintf(text, sizeof text, "{\"target\": \"127.0.0.1:%d\"}", port);
    json_t *def = json_loads(text, 0, NULL);
    const char *field;
    char err[200];
    void *options = probe_type_find("tcp")->parse(def, &field, err, sizeof err);
    json_decref(def);
    assert_non_null(options);
    return options;
}

/* One env runs connects one after the other, each started from the last one's done: successes,
 * a refusal and a connect that hangs in between. Every result is right; the runs share one socket
 * (the env keeps one idle socket at the end, not one per run; the hung one is closed); and each
 * connection the listener accepts was ended with a reset. */
static void test_tcp_sockets_are_reused_and_reset(void **state)
{
    SKIP_WITHOUT_NETNS();
    int port, refused_port, full_port;
    int listener = bind_loopback(SOCK_STREAM, 64, &port);
    int closed = bind_loopback(SOCK_STREAM, 1, &refused_port);
    close(closed);
    int full = bind_loopback(SOCK_STREAM, 0, &full_port); /* one pending connect fills it */
    int probe_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)full_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(probe_fd, (struct sockaddr *)&sa, sizeof sa), 0);

    static const int steps[] = {STEP_OK,   STEP_OK, STEP_OK, STEP_REFUSED, STEP_OK,
                                STEP_HANGS, STEP_OK, STEP_OK, STEP_REFUSED, STEP_OK};
    struct chain c = {.tcp = probe_type_find("tcp"), .steps = steps, .n_steps = 10};
    c.options[STEP_OK] = tcp_options(port);
    c.options[STEP_REFUSED] = tcp_options(refused_port);
    c.options[STEP_HANGS] = tcp_options(full_port);
    int sockets_before = count_sockets();
    sync_open(&c.l);
    uv_timer_init(&c.l.loop, &c.after);
    c.after.data = &c;
    chain_next(&c);
    uv_run(&c.l.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&c.l.loop), 0);
    assert_int_equal(c.step, 10);
    assert_int_equal(c.sockets_after, sockets_before + 1);
    assert_int_equal(count_sockets(), sockets_before); /* the env closed its idle socket */

    int accepted = 0;
    assert_int_equal(fcntl(listener, F_SETFL, O_NONBLOCK), 0); /* accept until the queue is empty */
    for (int conn; (conn = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0; accepted++) {
        char byte;
        assert_int_equal(recv(conn, &byte, 1, 0), -1);
        assert_int_equal(errno, ECONNRESET);
        close(conn);
    }
    assert_int_equal(accepted, 7);
    for (int i = 0; i < 3; i++)
        c.tcp->free_options(c.options[i]);
    close(probe_fd);
    close(full);
    close(listener);
}

/* ---- exec -------------------------------------------------------------------------------- */

static char script_path[64];

/* Writes a shell script and returns the exec definition that runs it. */
static const char *script(const char *body)
{
    static char def[200];
    snprintf(script_path, sizeof script_path, "/tmp/faultline-probe-test-XXXXXX");
    int fd = mkstemp(script_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
    close(fd);
    snprintf(def, sizeof def, "{\"command\": [\"/bin/sh\", \"%s\"]}", script_path);
    return def;
}

static void test_exec_ok_with_perfdata(void **state)
{
    struct sync_result r;
    assert_int_equal(
        run("exec",
            script("echo \"DISK OK - 42% used | used=42%;80;90;0;100 'free space'=1.5GB;;;0\"\n"),
            5000, &r),
        0);
    unlink(script_path);
    assert_true(r.r.ran);
    assert_int_equal(r.r.exit_code, 0);
    assert_string_equal(r.output, "DISK OK - 42% used");
    assert_int_equal(r.r.n_perfdata, 2);
    assert_string_equal(r.r.perfdata[0].label, "used");
    assert_true(r.r.perfdata[0].value == 42.0);
    assert_string_equal(r.r.perfdata[0].unit, "%");
    assert_string_equal(r.r.perfdata[1].label, "free space");
    assert_true(r.r.perfdata[1].value == 1.5);
    assert_string_equal(r.r.perfdata[1].unit, "GB");
    assert_string_equal(r.r.error, "");
    assert_int_equal(json_integer_value(json_object_get(r.json, "exit_code")), 0);
    assert_int_equal(json_array_size(json_object_get(r.json, "perfdata")), 2);
    sync_result_free(&r);
}

static void test_exec_critical_exit_code(void **state)
{
    struct sync_result r;
    assert_int_equal(
        run("exec", "{\"command\": [\"/bin/sh\", \"-c\", \"echo CRITICAL - down >&2; exit 2\"]}",
            5000, &r),
        0);
    assert_int_equal(r.r.exit_code, 2);
    assert_string_equal(r.output, "CRITICAL - down"); /* stderr is captured too */
    assert_false(r.r.timed_out);
    sync_result_free(&r);
}

/* The script leaves a child behind that would outlive it; the timeout kills both. */
static void test_exec_timeout_kills_the_group(void **state)
{
    char pidfile[] = "/tmp/faultline-exec-child-XXXXXX";
    int fd = mkstemp(pidfile);
    assert_true(fd >= 0);
    close(fd);
    char def[400];
    snprintf(
        def, sizeof def,
        "{\"command\": [\"/bin/sh\", \"-c\", \"sleep 30 & echo $! > %s; echo started; wait\"]}",
        pidfile);
    struct sync_result r;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(run("exec", def, 400, &r), 0);
    double ms = elapsed_ms(&t0);
    assert_true(r.r.timed_out);
    assert_int_equal(r.r.exit_code, -1);
    assert_non_null(strstr(r.r.error, "timeout after 400 ms"));
    assert_true(ms >= 390 && ms < 2000);
    FILE *f = fopen(pidfile, "r");
    assert_non_null(f);
    int child = 0;
    assert_int_equal(fscanf(f, "%d", &child), 1);
    fclose(f);
    unlink(pidfile);
    /* The child is gone (or a zombie of init's, not running): kill(pid, 0) fails, or its state
     * is Z. */
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        char path[64], stat[256] = "";
        snprintf(path, sizeof path, "/proc/%d/stat", child);
        FILE *s = fopen(path, "r");
        gone = !s || !fgets(stat, sizeof stat, s) || strstr(stat, ") Z ");
        if (s)
            fclose(s);
        if (!gone)
            usleep(10000);
    }
    assert_true(gone);
    sync_result_free(&r);
}

static void test_exec_output_is_bounded(void **state)
{
    struct sync_result r;
    assert_int_equal(
        run("exec", script("head -c 300000 /dev/zero | tr '\\0' x\nexit 1\n"), 5000, &r), 0);
    unlink(script_path);
    assert_int_equal(r.r.exit_code, 1);
    assert_int_equal(strlen(r.output), 65536);
    sync_result_free(&r);
}

static void test_exec_output_not_utf8_is_kept(void **state)
{
    struct sync_result r;
    assert_int_equal(run("exec", script("printf 'caf\\351 OK'\n"), 5000, &r), 0);
    unlink(script_path);
    assert_string_equal(json_string_value(json_object_get(r.json, "output")), "caf? OK");
    sync_result_free(&r);
}

static void test_exec_missing_program_cannot_start(void **state)
{
    struct sync_result r;
    char err[300];
    assert_int_equal(
        sync_probe("exec", "{\"command\": [\"/nonexistent/check_x\"]}", 1000, &r, err, sizeof err),
        -1);
    assert_non_null(strstr(err, "cannot run /nonexistent/check_x"));
}

/* ---- icmp ---------------------------------------------------------------------------------- */

static void test_icmp_loopback(void **state)
{
    SKIP_WITHOUT_NETNS();
    struct sync_result r;
    assert_int_equal(run("icmp", "{\"target\": \"127.0.0.1\", \"count\": 3}", 1000, &r), 0);
    assert_true(r.r.connected);
    assert_int_equal(r.r.sent, 3);
    assert_int_equal(r.r.received, 3);
    assert_true(r.r.loss_pct == 0.0);
    assert_true(r.r.rtt_ms > 0 && r.r.rtt_ms < 1000);
    sync_result_free(&r);
}

/* udp-recverr paces echoes after the fifth 1 s apart; the check's timeout still holds. */
static void test_icmp_timeout_holds_whatever_the_pacing(void **state)
{
    SKIP_WITHOUT_NETNS();
    setenv("FAULTLINE_ICMP_METHOD", "udp-recverr", 1);
    struct sync_result r;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = run("icmp", "{\"target\": \"127.0.0.1\", \"count\": 8}", 1200, &r);
    double ms = elapsed_ms(&t0);
    unsetenv("FAULTLINE_ICMP_METHOD");
    assert_int_equal(rc, 0);
    assert_true(ms < 1500);
    assert_true(r.r.sent >= 5 && r.r.sent < 8);
    assert_int_equal(r.r.received, r.r.sent);
    sync_result_free(&r);
}

static void test_icmp_no_answer_is_full_loss(void **state)
{
    SKIP_WITHOUT_NETNS();
    struct sync_result r;
    assert_int_equal(run("icmp", "{\"target\": \"192.0.2.1\", \"count\": 2}", 300, &r), 0);
    assert_false(r.r.connected);
    assert_true(r.r.loss_pct == 100.0);
    assert_true(r.r.error[0] != '\0');
    sync_result_free(&r);
}

/* ---- many runs on one env, and cancels ---------------------------------------------------- */

/* An HTTP/1.1 server on 127.0.0.1 answering every request with 200 "ok" (silent: reads and
 * never answers), one connection at a time, until stop. */
struct http_server {
    int fd, port;
    bool silent;
    atomic_bool stop;
    atomic_int requests;
    pthread_t thread;
};

static void *serve_http(void *arg)
{
    struct http_server *s = arg;
    while (!atomic_load(&s->stop)) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        char buf[2048];
        ssize_t n = read(c, buf, sizeof buf);
        if (n > 0)
            atomic_fetch_add(&s->requests, 1);
        const char *answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Probe: yes\r\n"
                             "Connection: close\r\n\r\nok";
        if (n > 0 && !s->silent)
            (void)!write(c, answer, strlen(answer));
        if (s->silent)
            usleep(300 * 1000);
        close(c);
    }
    return NULL;
}

static void http_start_server(struct http_server *s, bool silent)
{
    memset(s, 0, sizeof *s);
    s->silent = silent;
    s->fd = bind_loopback(SOCK_STREAM, 64, &s->port);
    assert_int_equal(pthread_create(&s->thread, NULL, serve_http, s), 0);
}

static void http_stop_server(struct http_server *s)
{
    atomic_store(&s->stop, true);
    shutdown(s->fd, SHUT_RDWR);
    pthread_join(s->thread, NULL);
    close(s->fd);
}

struct many {
    struct sync_loop *l;
    int done, ok;
};

static void on_many_done(const struct probe_result *r, void *ctx)
{
    struct many *m = ctx;
    m->done++;
    if (r->status == 200 && r->connected && r->body && !strcmp(r->body, "ok") &&
        !strcmp(json_string_value(json_object_get(r->headers, "x-probe")), "yes"))
        m->ok++;
    sync_one_done(m->l);
}

/* 20 transfers at once on one multi handle, then 20 more on the pooled easy handles. */
static void test_http_many_on_one_env(void **state)
{
    SKIP_WITHOUT_NETNS();
    struct http_server srv;
    http_start_server(&srv, false);
    char def_text[100];
    snprintf(def_text, sizeof def_text, "{\"target\": \"http://127.0.0.1:%d/\"}", srv.port);
    json_t *def = json_loads(def_text, 0, NULL);
    const struct probe_type *http = probe_type_find("http");
    const char *field;
    char err[200];
    void *options = http->parse(def, &field, err, sizeof err);
    assert_non_null(options);
    for (int round = 0; round < 2; round++) {
        struct sync_loop l;
        sync_open(&l);
        struct many m = {&l, 0, 0};
        for (int i = 0; i < 20; i++) {
            l.pending++;
            assert_non_null(http->start(l.env, options, 3000, on_many_done, &m, err, sizeof err));
        }
        sync_run(&l);
        assert_int_equal(m.done, 20);
        assert_int_equal(m.ok, 20);
    }
    http->free_options(options);
    json_decref(def);
    http_stop_server(&srv);
    assert_int_equal(atomic_load(&srv.requests), 40);
}

static void count_done(const struct probe_result *r, void *ctx)
{
    (*(int *)ctx)++;
}

/* A one-shot user runs the loop until its probes are done: the env's shared handles (the ICMP
 * socket, c-ares' sockets) do not keep it running after that. */
static void test_loop_ends_when_the_runs_are_done(void **state)
{
    SKIP_WITHOUT_NETNS();
    const char *defs[][2] = {{"icmp", "{\"target\": \"127.0.0.1\", \"count\": 1}"},
                             {"tcp", "{\"target\": \"localhost:9\"}"}};
    void *options[2];
    const char *field;
    char err[200];
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct probe_env *env = probe_env_new(&loop, err, sizeof err);
    int done = 0;
    for (int i = 0; i < 2; i++) {
        json_t *def = json_loads(defs[i][1], 0, NULL);
        options[i] = probe_type_find(defs[i][0])->parse(def, &field, err, sizeof err);
        json_decref(def);
        assert_non_null(probe_type_find(defs[i][0])->start(env, options[i], 2000, count_done, &done,
                                                           err, sizeof err));
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(done, 2);
    assert_true(elapsed_ms(&t0) < 1500);
    probe_env_close(env);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    for (int i = 0; i < 2; i++)
        probe_type_find(defs[i][0])->free_options(options[i]);
}

static void on_never(const struct probe_result *r, void *ctx)
{
    fail_msg("%s: done called for a cancelled run: %s", (const char *)ctx, r->error);
}

struct cancel_at {
    uv_timer_t timer;
    const struct probe_type *type;
    struct probe_run *run;
    struct probe_env *env;
};

static void on_cancel_timer(uv_timer_t *t)
{
    struct cancel_at *c = t->data;
    c->type->cancel(c->run);
    probe_env_close(c->env);
    uv_close((uv_handle_t *)t, NULL);
}

/* Starts a run that would take long, cancels it after 50 ms, and sees the loop end with done
 * never called (and, under ASan, nothing leaked). */
static void cancel_after_start(const char *type_name, const char *def_text)
{
    const struct probe_type *type = probe_type_find(type_name);
    json_t *def = json_loads(def_text, 0, NULL);
    const char *field;
    char err[200];
    void *options = type->parse(def, &field, err, sizeof err);
    if (!options)
        fail_msg("%s: %s: %s", type_name, field, err);
    struct sync_loop l;
    sync_open(&l);
    struct cancel_at c = {.type = type, .env = l.env};
    c.run = type->start(l.env, options, 5000, on_never, (void *)type_name, err, sizeof err);
    assert_non_null(c.run);
    uv_timer_init(&l.loop, &c.timer);
    c.timer.data = &c;
    uv_timer_start(&c.timer, on_cancel_timer, 50, 0);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uv_run(&l.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&l.loop), 0);
    assert_true(elapsed_ms(&t0) < 2000);
    type->free_options(options);
    json_decref(def);
}

static void test_cancel_every_type(void **state)
{
    SKIP_WITHOUT_NETNS();
    struct banner_server b;
    banner_start(&b, NULL, true);
    struct http_server h;
    http_start_server(&h, true);
    char def[200];
    snprintf(def, sizeof def, "{\"target\": \"127.0.0.1:%d\", \"expect\": \"x\"}", b.port);
    cancel_after_start("tcp", def);
    snprintf(def, sizeof def, "{\"target\": \"http://127.0.0.1:%d/\"}", h.port);
    cancel_after_start("http", def);
    cancel_after_start("icmp", "{\"target\": \"192.0.2.1\", \"count\": 3}");
    int udp_port;
    int udp = bind_loopback(SOCK_DGRAM, 0, &udp_port); /* a DNS server that never answers */
    snprintf(def, sizeof def, "{\"target\": \"x.test\", \"server\": \"127.0.0.1:%d\"}", udp_port);
    cancel_after_start("dns", def);
    close(udp);
    cancel_after_start("exec", "{\"command\": [\"/bin/sleep\", \"30\"]}");
    banner_stop(&b);
    http_stop_server(&h);
}

/* ---- options, the table, perfdata ----------------------------------------------------------- */

static void expect_parse_error(const char *type, const char *def, const char *field,
                               const char *text)
{
    struct sync_result r;
    char err[300];
    assert_int_equal(sync_probe(type, def, 100, &r, err, sizeof err), -1);
    char want[100];
    snprintf(want, sizeof want, "%s: ", field);
    if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, text))
        fail_msg("%s %s: got \"%s\", expected field %s and \"%s\"", type, def, err, field, text);
}

static void test_option_errors_name_the_field(void **state)
{
    expect_parse_error("tcp", "{}", "target", "missing");
    expect_parse_error("tcp", "{\"target\": \"db.example\"}", "target", "is not host:port");
    expect_parse_error("tcp", "{\"target\": \"db:99999\"}", "target", "port 1-65535");
    expect_parse_error("tcp", "{\"target\": \"db:1\", \"tls\": \"yes\"}", "tls", "true or false");
    expect_parse_error("http", "{\"target\": \"ftp://x\"}", "target", "is not a URL");
    expect_parse_error("http", "{\"target\": \"http://x\", \"headers\": [1]}", "headers",
                       "a map of header names");
    expect_parse_error("http", "{\"target\": \"http://x\", \"max_body\": -1}", "max_body",
                       "an integer 0..");
    expect_parse_error("dns", "{\"target\": \"x.test\", \"record\": \"SRV\"}", "record",
                       "expected A, AAAA, CNAME, MX, TXT, NS, SOA or PTR, got \"SRV\"");
    expect_parse_error("dns", "{\"target\": \"x.test\", \"server\": \"127.0.0.1\"}", "server",
                       "host:port");
    expect_parse_error("icmp", "{\"target\": \"h\", \"count\": 0}", "count", "1..100");
    expect_parse_error("exec", "{\"command\": \"check_disk -w 10%\"}", "command",
                       "a list of 1..256 strings");
    expect_parse_error("exec", "{\"command\": [\"check\", 3]}", "command[1]", "a string");
}

static void test_table(void **state)
{
    const char *names[] = {"tcp", "http", "dns", "icmp", "exec"};
    for (size_t i = 0; i < 5; i++) {
        const struct probe_type *t = probe_type_find(names[i]);
        assert_non_null(t);
        assert_string_equal(t->name, names[i]);
        assert_non_null(t->parse);
        assert_non_null(t->free_options);
        assert_non_null(t->start);
        assert_non_null(t->cancel);
        assert_non_null(t->default_condition);
        assert_true(t->placeholders != 0);
    }
    assert_null(probe_type_find("gopher"));
    assert_int_equal(probe_placeholder_find("CERT_EXPIRES_IN"), PH_CERT_EXPIRES_IN);
    assert_string_equal(probe_placeholder_name(PH_DNS_ANSWER), "DNS_ANSWER");
    assert_int_equal(probe_placeholder_find("NOPE"), -1);
    assert_true(probe_type_find("http")->placeholders & PH_BIT(PH_HEADER));
    assert_false(probe_type_find("tcp")->placeholders & PH_BIT(PH_STATUS));
}

static void test_perfdata_parser(void **state)
{
    struct probe_perfdata p[4];
    const char *text = "time=0.012s;1;2;0 'a b'=3 bad junk=x size=10KB;;;; c=-1.5e3";
    size_t n = probe_perfdata_parse(text, strlen(text), p, 4);
    assert_int_equal(n, 4);
    assert_string_equal(p[0].label, "time");
    assert_true(p[0].value == 0.012);
    assert_string_equal(p[0].unit, "s");
    assert_string_equal(p[1].label, "a b");
    assert_true(p[1].value == 3);
    assert_string_equal(p[2].label, "size");
    assert_string_equal(p[2].unit, "KB");
    assert_string_equal(p[3].label, "c");
    assert_true(p[3].value == -1500);

    char out[] = "HTTP OK: 200 | time=0.1s\nlong text line\nmore | size=5B\n";
    struct probe_result r = {0};
    probe_split_plugin_output(out, &r);
    assert_string_equal(r.output, "HTTP OK: 200");
    assert_int_equal(r.n_perfdata, 2);
    assert_string_equal(r.perfdata[1].label, "size");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_banner_expected),
        cmocka_unit_test(test_tcp_send_then_expect),
        cmocka_unit_test(test_tcp_expect_missing_is_not_connected),
        cmocka_unit_test(test_tcp_silent_server_times_out),
        cmocka_unit_test(test_tcp_refused_is_reachable),
        cmocka_unit_test(test_tcp_no_route_is_unreachable),
        cmocka_unit_test(test_tcp_sockets_are_reused_and_reset),
        cmocka_unit_test(test_exec_ok_with_perfdata),
        cmocka_unit_test(test_exec_critical_exit_code),
        cmocka_unit_test(test_exec_timeout_kills_the_group),
        cmocka_unit_test(test_exec_output_is_bounded),
        cmocka_unit_test(test_exec_output_not_utf8_is_kept),
        cmocka_unit_test(test_exec_missing_program_cannot_start),
        cmocka_unit_test(test_icmp_loopback),
        cmocka_unit_test(test_icmp_timeout_holds_whatever_the_pacing),
        cmocka_unit_test(test_icmp_no_answer_is_full_loss),
        cmocka_unit_test(test_http_many_on_one_env),
        cmocka_unit_test(test_cancel_every_type),
        cmocka_unit_test(test_loop_ends_when_the_runs_are_done),
        cmocka_unit_test(test_option_errors_name_the_field),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_perfdata_parser),
    };
    return cmocka_run_group_tests(tests, enter_netns, NULL);
}
