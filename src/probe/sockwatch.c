/* sockwatch.c — the sockets of the tcp probes, watched through one epoll fd of the env's own
 * (probe_internal.h), itself watched by one uv_poll. A socket is added once, armed for one event
 * at a time (EPOLLONESHOT: re-arming is one EPOLL_CTL_MOD), and leaves the set when it is closed:
 * a bare connect costs one epoll_ctl, where a uv_poll per socket costs an ioctl and several
 * epoll_ctl calls (add, modify, delete).
 *
 * A socket whose connect succeeded is not closed but disconnected (connect to AF_UNSPEC: a reset
 * to the peer, no FIN exchange, no TIME_WAIT) and kept, still in the set and disarmed, for the
 * next connect of its family: that saves the kernel allocating and freeing a socket, a file and
 * an epoll item per run (docs/decisions.md). */
#include "probe/probe_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define SOCKWATCH_BATCH 256
#define SOCKWATCH_IDLE_MAX 64 /* disconnected sockets kept per address family */

struct sockwatch {
    struct probe_env *env;
    int epfd;
    uv_poll_t poll;
    int idle[2][SOCKWATCH_IDLE_MAX]; /* [0] IPv4, [1] IPv6: disconnected, in the set, disarmed */
    int idle_count[2];
};

/* Each event goes to its client. A client freed only from a close callback of the loop (as tcp.c
 * does) is still there for an event of this batch that a client before it made pointless. */
static void on_ready(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    struct sockwatch *w = h->data;
    struct epoll_event ev[SOCKWATCH_BATCH];
    int n = epoll_wait(w->epfd, ev, SOCKWATCH_BATCH, 0);
    for (int i = 0; i < n; i++) {
        struct sockwatch_client *c = ev[i].data.ptr;
        c->on_event(c, ev[i].events);
    }
}

static struct sockwatch *sockwatch_get(struct probe_env *env)
{
    if (env->sockwatch || env->closing)
        return env->sockwatch;
    struct sockwatch *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->env = env;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0 || uv_poll_init(env->loop, &w->poll, w->epfd) != 0) {
        if (w->epfd >= 0)
            close(w->epfd);
        free(w);
        return NULL;
    }
    w->poll.data = w;
    uv_poll_start(&w->poll, UV_READABLE, on_ready);
    /* Shared and idle between runs: a run's own timer keeps the loop alive while it lasts. */
    uv_unref((uv_handle_t *)&w->poll);
    env->sockwatch = w;
    return w;
}

int sockwatch_arm(struct probe_env *env, int fd, bool added, uint32_t events,
                  struct sockwatch_client *c)
{
    struct sockwatch *w = sockwatch_get(env);
    if (!w)
        return -ENOMEM;
    struct epoll_event ev = {.events = events | EPOLLONESHOT, .data.ptr = c};
    if (epoll_ctl(w->epfd, added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0)
        return -errno;
    return 0;
}

int sockwatch_socket(struct probe_env *env, int family, bool *added)
{
    struct sockwatch *w = env->sockwatch;
    int f = family == AF_INET6;
    if (w && w->idle_count[f] > 0) {
        *added = true;
        return w->idle[f][--w->idle_count[f]];
    }
    *added = false;
    return socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

void sockwatch_release(struct probe_env *env, int fd, int family, bool reusable)
{
    static const struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    struct sockwatch *w = env->sockwatch;
    int f = family == AF_INET6;
    if (reusable && w && w->idle_count[f] < SOCKWATCH_IDLE_MAX &&
        connect(fd, &unspec, sizeof unspec) == 0) {
        w->idle[f][w->idle_count[f]++] = fd;
        return;
    }
    close(fd);
}

void sockwatch_forget(struct probe_env *env, int fd)
{
    if (env->sockwatch)
        epoll_ctl(env->sockwatch->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static void on_closed(uv_handle_t *h)
{
    struct sockwatch *w = h->data;
    struct probe_env *env = w->env;
    close(w->epfd);
    free(w);
    probe_env_release(env);
}

void sockwatch_close(struct probe_env *env)
{
    struct sockwatch *w = env->sockwatch;
    if (!w)
        return;
    env->sockwatch = NULL;
    for (int f = 0; f < 2; f++)
        while (w->idle_count[f] > 0)
            close(w->idle[f][--w->idle_count[f]]);
    probe_env_hold(env);
    uv_close((uv_handle_t *)&w->poll, on_closed);
}
