/* server_internal.h — the state one running server owns, shared by the server's own files
 * (server.c wires it; ingest.c, admin.c, public.c and events.c serve from it). Everything here
 * lives on the loop thread. Not for use outside src/server. */
#ifndef FAULTLINE_SERVER_INTERNAL_H
#define FAULTLINE_SERVER_INTERNAL_H

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <uv.h>

#include "alert/outbox.h"
#include "base/config.h"
#include "server/fleet.h"
#include "server/http.h"
#include "server/rca.h"
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
    struct canaries *canaries;
    struct rca *rca;      /* the correlation engine (incidents.c) */
    uv_timer_t rca_timer; /* fires at the engine's next deadline */
    bool rca_timer_started;
    int64_t cut_off_scan_mono; /* last hand-over of overdue workers while cut off */
    struct followup_state *followup, *followup_closing; /* followup.c */
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
void ingest_backlog(struct http_request *req, void *ctx);
void admin_api_rca(struct http_request *req, void *ctx);
void admin_api_analysis(struct http_request *req, void *ctx);
void admin_api_diagnostics(struct http_request *req, void *ctx);
void public_index(struct http_request *req, void *ctx);
void admin_page(struct http_request *req, void *ctx);
void admin_api_status(struct http_request *req, void *ctx);
void admin_api_events(struct http_request *req, void *ctx);
void admin_api_worker(struct http_request *req, void *ctx);

/* Answers 401 and returns false unless the request carries the API key (Bearer or X-API-Key). */
bool ingest_authorized(struct http_request *req, const struct server *srv);
/* Answers 403/401 and returns false unless the request carries the admin's credentials. */
bool admin_authorized(struct http_request *req, struct server *srv);
/* Answers with value as JSON (takes the reference). */
void admin_respond_json(struct http_request *req, int status, json_t *value);
/* "2026-11-21T10:00:00.123Z", or null for ms <= 0. */
json_t *admin_iso_time(int64_t ms);

/* GET parameters shared by admin endpoints: each answers 400 and returns -1 when bad. */
int admin_query_limit(struct http_request *req, int fallback, int *out);
int admin_query_time(struct http_request *req, const char *name, int64_t *out);
/* An incident as the API shows it (new reference). */
json_t *admin_incident_json(const struct incident_record *inc);
/* Reads the worker's latest diagnosis with a path probe; done gets {"time","record_id","mtr"}
 * or null (a new reference it owns). */
void admin_latest_mtr(struct server *srv, const char *worker, void (*done)(json_t *, void *),
                      void *ctx);

/* The correlation engine (incidents.c): opened after the store, with the incidents left open
 * restored; closed (delayed saves flushed) before the store. */
int incidents_open(struct server *srv, char *err, size_t errlen);
void incidents_close(struct server *srv);
/* A worker went DOWN (its event is queued): the engine groups and classifies it. */
void incidents_worker_down(struct server *srv, const struct worker_record *w);
/* A DOWN worker is back; true when its per-worker UP message is due (individual outages). Call
 * before its event is queued, so a held incident's messages come first. */
bool incidents_worker_up(struct server *srv, const struct worker_record *w);

/* Canary verdict changes (cut_off: no canary answers), and overdue workers while cut off: the
 * root-cause analysis records them as the server's outage, not the workers' (rca wiring). */
void server_canaries_changed(bool cut_off, json_t *evidence, void *ctx);
void server_cut_off_overdue(struct server *srv, int64_t now_mono);

/* The follow-up machinery (followup.c). followup_merge_evidence returns the evidence of incident
 * id with its diagnosis merged in (malloc'd), or NULL when it has none. */
int followup_open(struct server *srv);
void followup_close(struct server *srv);
char *followup_merge_evidence(struct server *srv, int64_t id, const char *evidence_json);

/* Backlog records of worker between first_ms and last_ms (agent time) are stored: look for the
 * incident they explain and, after a short pause for the other agents' uploads, tell the
 * person what they show (followup.c). */
void followup_backlog_stored(struct server *srv, const char *worker, int64_t first_ms,
                             int64_t last_ms);

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
