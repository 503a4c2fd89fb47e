/* api.h — the server's HTTP API: one file per resource (api_*.c), one route table
 * (api_routes.c). Each route names who may call it (public, agent, admin); http.c checks that
 * before a handler runs, so handlers never check credentials themselves.
 *
 * Adding a route: write its handler in the file of its resource (or a new api_NAME.c), declare
 * it below, and add one row to api_routes[]. Handlers run on the loop thread and get the
 * struct api_context as ctx; they answer with http_respond_* (http.h), the JSON shapes come
 * from model/json.h, and store reads run on the store thread with the request suspended. */
#ifndef FAULTLINE_API_H
#define FAULTLINE_API_H

#include <stdint.h>

#include "model/event.h"
#include "server/http.h"

/* Agents' metrics pushes: the largest body (413 beyond it), and the largest text once a gzip
 * body is inflated. */
#define METRICS_BODY_MAX (8 * 1024 * 1024)
#define METRICS_TEXT_MAX (64 * 1024 * 1024)

/* What the handlers may reach: the server's modules, each behind its own interface. */
struct api_context {
    struct fleet *fleet;
    struct store *store;
    struct incidents *incidents;
    struct canaries *canaries;
    struct followup *followup;
    struct outbox *outbox;
    struct agent_metrics *agent_metrics;
    struct server_metrics *metrics;
    struct silences *silences; /* alert/silence.h: the config file's and the API's */
    struct event_streams *event_streams; /* api_events.c: the live stream's clients */
    struct checks *checks;
    int64_t fail_timeout_ms;
    uv_loop_t *loop;
    struct pool_job *pool_jobs;   /* api_metrics.c: requests waiting on the thread pool */
    struct push_batch *push_batch; /* api_metrics.c: pushes queued for the pool, not started */
};

/* Terminated by a zero row. */
extern const struct http_route api_routes[];

/* api_public.c: GET / */
void api_public_index(struct http_request *req, void *ctx);
/* api_heartbeat.c: POST /api/v1/heartbeat */
void api_heartbeat(struct http_request *req, void *ctx);
/* api_backlog.c: POST /api/v1/backlog */
void api_backlog(struct http_request *req, void *ctx);
/* api_ping.c: GET and POST /ping/NAME (the uptime-rca-bot's clients) */
void api_ping(struct http_request *req, void *ctx);
/* admin_page.c: GET /admin */
void api_admin_page(struct http_request *req, void *ctx);
/* api_workers.c: GET /admin/api/status, GET /admin/api/worker/NAME */
void api_status(struct http_request *req, void *ctx);
void api_worker(struct http_request *req, void *ctx);
/* api_events.c: GET /admin/api/events, GET /api/v1/events, GET /api/v1/events/stream */
void api_events(struct http_request *req, void *ctx);
void api_events_v1(struct http_request *req, void *ctx);
void api_events_stream(struct http_request *req, void *ctx);
/* The stream: a client's buffer (dropped beyond it), the heartbeat comment's interval, and how
 * many stored events one read of a resumed stream takes. */
#define EVENTS_STREAM_BUFFER (64 * 1024)
#define EVENTS_HEARTBEAT_MS 15000
#define EVENTS_REPLAY_PAGE 500
/* Starts the stream's heartbeat (after api->store and api->loop are set); 0 or -1. */
int api_events_start(struct api_context *api);
/* The event recorder's committed hook (events.h), ctx the struct api_context: writes the event
 * to every stream client. */
void api_events_publish(const struct event_record *ev, void *ctx);
/* After http_server_stop (which closed every stream): closes the heartbeat. */
void api_events_stop(struct api_context *api);
/* api_incidents.c: GET /admin/api/rca, GET /admin/api/analysis */
void api_incidents(struct http_request *req, void *ctx);
void api_analysis(struct http_request *req, void *ctx);
/* api_metrics.c: POST /api/v1/metrics/NAME, GET /metrics, GET /status */
void api_metrics_push(struct http_request *req, void *ctx);
void api_metrics(struct http_request *req, void *ctx);
void api_metrics_status(struct http_request *req, void *ctx);
/* Before the HTTP server stops: scrapes whose answer is still being compressed are resumed
 * (their connections close as the server stops) and the compressed text dropped when done. */
void api_metrics_stop(struct api_context *api);
/* api_silences.c: GET and POST /api/v1/silences, GET and DELETE /api/v1/silences/ID */
void api_silences_list(struct http_request *req, void *ctx);
void api_silences_create(struct http_request *req, void *ctx);
void api_silence_get(struct http_request *req, void *ctx);
void api_silence_expire(struct http_request *req, void *ctx);
/* api_checks.c: GET /api/v1/checks, GET /api/v1/checks/NAME, GET /api/v1/checks/errors,
 * POST /api/v1/checks/NAME/enable|disable|run, POST /api/v1/checks, PUT and DELETE
 * /api/v1/checks/NAME */
void api_checks_list(struct http_request *req, void *ctx);
void api_checks_get(struct http_request *req, void *ctx);
void api_checks_action(struct http_request *req, void *ctx);
void api_checks_create(struct http_request *req, void *ctx);
void api_checks_replace(struct http_request *req, void *ctx);
void api_checks_delete(struct http_request *req, void *ctx);
/* api_checks.c, agents as runners: GET /api/v1/agent/checks/NAME (its assignments), POST
 * /api/v1/checks/results/NAME (a batch of its results, at most CHECKS_RESULTS_MAX bytes) */
#define CHECKS_RESULTS_MAX (4 * 1024 * 1024)
void api_agent_checks(struct http_request *req, void *ctx);
void api_checks_results(struct http_request *req, void *ctx);
/* api_diagnostics.c: GET /admin/api/diagnostics */
void api_diagnostics(struct http_request *req, void *ctx);
/* api_reports.c: POST /api/v1/reports/NAME, GET /api/v1/reports, GET /api/v1/reports/NAME */
#define REPORT_BODY_MAX (4 * 1024 * 1024)
void api_report_push(struct http_request *req, void *ctx);
void api_reports(struct http_request *req, void *ctx);
void api_report(struct http_request *req, void *ctx);

/* api_diagnostics.c: the worker's latest path probe, {"time","record_id","mtr"} or null, handed
 * to done (which owns the new reference) on the loop thread. */
void api_latest_mtr(struct api_context *api, const char *worker, void (*done)(json_t *, void *),
                    void *ctx);
/* api_diagnostics.c: the worker's newest stored diagnosis (as in GET /admin/api/diagnostics) or
 * null, handed to done like api_latest_mtr. */
void api_latest_diagnostic(struct api_context *api, const char *worker,
                           void (*done)(json_t *, void *), void *ctx);
/* api_incidents.c: the body of GET /admin/api/analysis (a new reference, NULL when out of
 * memory); also the "health" of GET /admin/api/status. */
json_t *api_analysis_json(struct api_context *api);

#endif
