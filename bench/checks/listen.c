/* listen.c — the checks benchmark's targets: one epoll loop listening on ADDRS addresses
 * (127.0.0.1 .. 127.0.0.ADDRS) times PORTS ports (BASE .. BASE+PORTS-1). In tcp mode it accepts
 * and closes; in http mode it reads a request head and answers "200 OK" with a short body, then
 * closes. It counts what it served and prints the count on SIGUSR1 and at SIGTERM, so the
 * benchmark can check that the probes really reached it (and measure its CPU: it must not be the
 * bottleneck).
 *
 * usage: listen tcp|http ADDRS BASE_PORT PORTS */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t report, stop;
static void on_usr1(int sig) { report = 1; }
static void on_term(int sig) { stop = 1; }

static const char ANSWER[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n"
                             "Connection: close\r\n\r\nok\n";

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: listen tcp|http ADDRS BASE_PORT PORTS\n");
        return 2;
    }
    int http = strcmp(argv[1], "http") == 0;
    int addrs = atoi(argv[2]), base = atoi(argv[3]), ports = atoi(argv[4]);
    struct rlimit rl = {65536, 65536};
    setrlimit(RLIMIT_NOFILE, &rl);
    signal(SIGUSR1, on_usr1);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGPIPE, SIG_IGN);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int nlisten = addrs * ports;
    for (int a = 1; a <= addrs; a++)
        for (int p = 0; p < ports; p++) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(base + p)};
            sa.sin_addr.s_addr = htonl(0x7f000000u | (unsigned)a);
            if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 4096) != 0) {
                fprintf(stderr, "listen: 127.0.0.%d:%d: %s\n", a, base + p, strerror(errno));
                return 1;
            }
            /* listening sockets: data.u64 = fd | 1 << 32 */
            struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)fd | 1ull << 32};
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
    fprintf(stderr, "listen: %s on %d sockets\n", argv[1], nlisten);
    printf("ready\n");
    fflush(stdout);
    unsigned long long served = 0;
    struct epoll_event evs[256];
    char buf[4096];
    while (!stop) {
        if (report) {
            report = 0;
            printf("served %llu\n", served);
            fflush(stdout);
        }
        int n = epoll_wait(ep, evs, 256, 200);
        for (int i = 0; i < n; i++) {
            int fd = (int)(evs[i].data.u64 & 0xffffffffu);
            if (evs[i].data.u64 >> 32) {
                int c;
                while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    if (!http) {
                        close(c);
                        served++;
                        continue;
                    }
                    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                }
                continue;
            }
            /* http: one read holds a probe's request head; answer and close */
            ssize_t got = recv(fd, buf, sizeof buf, 0);
            if (got < 0 && errno == EAGAIN)
                continue;
            if (got > 0 && memmem(buf, (size_t)got, "\r\n\r\n", 4)) {
                if (send(fd, ANSWER, sizeof ANSWER - 1, MSG_NOSIGNAL) > 0)
                    served++;
            } else if (got > 0) {
                continue; /* the rest of the head comes later */
            }
            close(fd);
        }
    }
    printf("served %llu\n", served);
    return 0;
}
