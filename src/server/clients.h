/* clients.h — what the server remembers about each client address: the connections it holds
 * open, whether an agent proved the API key from it lately, and its failed authentications. The
 * HTTP layer asks it whether a new connection may come in (a cap per address, and a reserve of
 * the connection limit that only agents' addresses may use) and whether an address must wait
 * before it tries credentials again. Pure bookkeeping: no sockets, no clocks (callers pass now),
 * so the unit tests drive it directly.
 *
 * An IPv4 client is its address; an IPv6 client is its /64, since one host is usually given a
 * whole /64 and could otherwise open connections from as many addresses as it likes. */
#ifndef FAULTLINE_CLIENTS_H
#define FAULTLINE_CLIENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct clients;

struct clients_limits {
    int max_connections;   /* all addresses together */
    int max_per_addr;      /* connections one address may hold, unless agents use it */
    int agent_reserve;     /* of max_connections, the part only agents' addresses may use */
    int auth_max_failures; /* failed attempts within auth_window_ms before 429 */
    int64_t auth_window_ms;
    int64_t agent_memory_ms; /* an address is an agent's this long after its last valid key */
};

/* A client address as the table keys it (see above). */
struct client_addr {
    unsigned char bytes[16]; /* IPv4 as ::ffff:a.b.c.d; IPv6 with the last 64 bits zero */
};

/* Fills out from an AF_INET or AF_INET6 address; returns -1 for any other family. */
int client_addr_from_sockaddr(const struct sockaddr *sa, struct client_addr *out);

/* lim is copied. Returns NULL when out of memory. */
struct clients *clients_new(const struct clients_limits *lim);
void clients_free(struct clients *c);

/* Why a connection would be refused. */
enum clients_verdict {
    CLIENTS_ADMIT,
    CLIENTS_ADDR_FULL,   /* the address holds max_per_addr connections */
    CLIENTS_SERVER_FULL, /* only the agents' reserve is left, and this is no agent's address */
};

/* Whether a new connection from addr may come in now; counts nothing. */
enum clients_verdict clients_admit(const struct clients *c, const struct client_addr *addr,
                                   int64_t now_ms);

/* A connection from addr opened or closed. Returns -1 only when out of memory (opened). */
int clients_connected(struct clients *c, const struct client_addr *addr);
void clients_disconnected(struct clients *c, const struct client_addr *addr);

/* The API key was valid from addr: it counts as an agent's for agent_memory_ms. */
void clients_agent_seen(struct clients *c, const struct client_addr *addr, int64_t now_ms);

/* Records a failed authentication; returns the failures addr has in the current window. */
int clients_auth_failed(struct clients *c, const struct client_addr *addr, int64_t now_ms);

/* 0 when addr may try credentials now; else the ms until it may (the answer is then 429). */
int64_t clients_auth_wait_ms(const struct clients *c, const struct client_addr *addr,
                             int64_t now_ms);

/* Forgets addresses with no connection, no recent failure and no recent agent. Call now and
 * then (the HTTP layer does every second). */
void clients_sweep(struct clients *c, int64_t now_ms);

/* Open connections: all of them, and from one address. */
int clients_open_total(const struct clients *c);
int clients_open_from(const struct clients *c, const struct client_addr *addr);

#endif
