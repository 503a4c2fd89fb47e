/* server_internal.h — the state one running server owns, shared by the server's own files
 * (server.c wires it; ingest.c, admin.c, public.c and events.c serve from it). Everything here
 * lives on the loop thread. Not for use outside src/server. */
#ifndef FAULTLINE_SERVER_INTERNAL_H
#define FAULTLINE_SERVER_INTERNAL_H

#include <sodium.h>
#include <stdbool.h>
#include <uv.h>

#include "alert/outbox.h"
#include "base/config.h"
#include "server/fleet.h"
#include "server/http.h"
#include "store/store.h"

struct server {
    struct config cfg;
    uv_loop_t *loop;
    struct store *store;
    struct outbox *outbox;
    struct fleet *fleet;
    struct http_server *http;
    uv_timer_t expire_timer;
    uv_timer_t flush_timer;
    uv_signal_t sigterm, sigint;
    bool timers_started;
    /* The heartbeat being applied, while fleet_heartbeat runs: a heartbeat that changes state is
     * answered only once its event is committed, so a 204 always means "stored". */
    struct http_request *heartbeat_in_progress;
    /* Secrets are kept as keyed hashes (SipHash with a random key made at start), so checking a
     * presented key takes the same time whatever it has in common with the real one. */
    unsigned char secret_hash_key[crypto_shorthash_KEYBYTES];
    unsigned char api_key_hash[crypto_shorthash_BYTES];
    unsigned char admin_user_hash[crypto_shorthash_BYTES];
    unsigned char admin_pass_hash[crypto_shorthash_BYTES];
};

/* Route handlers (ctx is the struct server). */
void ingest_heartbeat(struct http_request *req, void *ctx);
void public_index(struct http_request *req, void *ctx);
void admin_page(struct http_request *req, void *ctx);
void admin_api_status(struct http_request *req, void *ctx);
void admin_api_events(struct http_request *req, void *ctx);
void admin_api_worker(struct http_request *req, void *ctx);

/* Hashes a secret for server_secret_equal, with srv's hash key. */
void server_secret_hash(const struct server *srv, const char *secret,
                        unsigned char out[crypto_shorthash_BYTES]);
/* Constant-time check of a presented secret against a stored hash. */
bool server_secret_equal(const struct server *srv, const char *presented,
                         const unsigned char hash[crypto_shorthash_BYTES]);

/* The fleet's transition hook: records the event (and its notifications) in the store, then
 * hands the notifications to the outbox once they are committed. */
void events_on_transition(const struct worker_record *w, enum event_kind kind,
                          enum worker_state prev_state, int64_t prev_since_ms, void *ctx);

#endif
