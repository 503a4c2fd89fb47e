/* clients.c — per-address bookkeeping (uthash by address); see clients.h. */
#include "server/clients.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

struct client {
    struct client_addr addr;
    int open;                /* connections open now */
    int64_t agent_until_ms;  /* counts as an agent's address until then */
    int64_t window_start_ms; /* start of the current window of failed authentications */
    int failures;            /* failed authentications in that window */
    UT_hash_handle hh;
};

struct clients {
    struct clients_limits lim;
    struct client *by_addr; /* uthash head */
    int open_total;
};

int client_addr_from_sockaddr(const struct sockaddr *sa, struct client_addr *out)
{
    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;
        out->bytes[10] = out->bytes[11] = 0xff;
        memcpy(out->bytes + 12, &sin->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family != AF_INET6)
        return -1;
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
    memcpy(out->bytes, &sin6->sin6_addr, 16);
    if (!IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
        memset(out->bytes + 8, 0, 8); /* the /64 */
    return 0;
}

struct clients *clients_new(const struct clients_limits *lim)
{
    struct clients *c = calloc(1, sizeof *c);
    if (c)
        c->lim = *lim;
    return c;
}

void clients_free(struct clients *c)
{
    if (!c)
        return;
    struct client *e, *tmp;
    HASH_ITER(hh, c->by_addr, e, tmp)
    {
        HASH_DEL(c->by_addr, e);
        free(e);
    }
    free(c);
}

static struct client *find(const struct clients *c, const struct client_addr *addr)
{
    struct client *e;
    HASH_FIND(hh, c->by_addr, addr, sizeof *addr, e);
    return e;
}

static struct client *find_or_add(struct clients *c, const struct client_addr *addr)
{
    struct client *e = find(c, addr);
    if (e)
        return e;
    e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->addr = *addr;
    HASH_ADD(hh, c->by_addr, addr, sizeof e->addr, e);
    return e;
}

static bool is_agent(const struct client *e, int64_t now_ms)
{
    return e && e->agent_until_ms > now_ms;
}

static bool in_window(const struct clients *c, const struct client *e, int64_t now_ms)
{
    return e && e->failures > 0 && now_ms < e->window_start_ms + c->lim.auth_window_ms;
}

/* Nothing left to remember: no connection, no failure that still counts, no agent. */
static bool forgettable(const struct clients *c, const struct client *e, int64_t now_ms)
{
    return e->open == 0 && !in_window(c, e, now_ms) && !is_agent(e, now_ms);
}

enum clients_verdict clients_admit(const struct clients *c, const struct client_addr *addr,
                                   int64_t now_ms)
{
    const struct client *e = find(c, addr);
    /* Agents' addresses have no cap of their own: a whole fleet may sit behind one NAT. */
    if (is_agent(e, now_ms))
        return CLIENTS_ADMIT;
    if (e && e->open >= c->lim.max_per_addr)
        return CLIENTS_ADDR_FULL;
    if (c->open_total >= c->lim.max_connections - c->lim.agent_reserve)
        return CLIENTS_SERVER_FULL;
    return CLIENTS_ADMIT;
}

int clients_connected(struct clients *c, const struct client_addr *addr)
{
    struct client *e = find_or_add(c, addr);
    if (!e)
        return -1;
    e->open++;
    c->open_total++;
    return 0;
}

void clients_disconnected(struct clients *c, const struct client_addr *addr)
{
    struct client *e = find(c, addr);
    if (!e || e->open == 0)
        return;
    e->open--;
    c->open_total--;
}

void clients_agent_seen(struct clients *c, const struct client_addr *addr, int64_t now_ms)
{
    struct client *e = find_or_add(c, addr);
    if (e)
        e->agent_until_ms = now_ms + c->lim.agent_memory_ms;
}

int clients_auth_failed(struct clients *c, const struct client_addr *addr, int64_t now_ms)
{
    struct client *e = find_or_add(c, addr);
    if (!e)
        return 0;
    if (!in_window(c, e, now_ms)) {
        e->window_start_ms = now_ms;
        e->failures = 0;
    }
    return ++e->failures;
}

int64_t clients_auth_wait_ms(const struct clients *c, const struct client_addr *addr,
                             int64_t now_ms)
{
    const struct client *e = find(c, addr);
    if (!in_window(c, e, now_ms) || e->failures < c->lim.auth_max_failures)
        return 0;
    return e->window_start_ms + c->lim.auth_window_ms - now_ms;
}

void clients_sweep(struct clients *c, int64_t now_ms)
{
    struct client *e, *tmp;
    HASH_ITER(hh, c->by_addr, e, tmp)
    {
        if (forgettable(c, e, now_ms)) {
            HASH_DEL(c->by_addr, e);
            free(e);
        }
    }
}

int clients_open_total(const struct clients *c)
{
    return c->open_total;
}

int clients_open_from(const struct clients *c, const struct client_addr *addr)
{
    const struct client *e = find(c, addr);
    return e ? e->open : 0;
}
