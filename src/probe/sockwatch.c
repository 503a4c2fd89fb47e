/* sockwatch.c — the sockets of the tcp probes, watched through one epoll fd of the env's own
 * (probe_internal.h), itself watched by one uv_poll. A socket is added once, armed for one event
 * at a time (EPOLLONESHOT: re-arming is one EPOLL_CTL_MOD), and leaves the set when it is closed:
 * a bare connect costs one epoll_ctl, where a uv_poll per socket costs an ioctl and several
 * epoll_ctl calls (add, modify, delete). */
#include "probe/probe_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define SOCKWATCH_BATCH 256

struct sockwatch {
    struct probe_env *env;
    int epfd;
    uv_poll_t poll;
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
    probe_env_hold(env);
    uv_close((uv_handle_t *)&w->poll, on_closed);
}
