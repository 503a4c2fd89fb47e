/* admin.c — the admin page and JSON API (/admin, /admin/api/status, /events, /worker/NAME with
 * its latest MTR; RCA endpoints are in admin_rca.c),
 * behind HTTP Basic with ADMIN_USER/ADMIN_PASS. Worker state comes from memory; events are read
 * from the store on its thread, with the connection suspended meanwhile. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "server/server_internal.h"

#define REALM "faultline admin"
#define WORKER_PREFIX "/admin/api/worker/"
#define PAGE_EVENTS 50
#define WORKER_EVENTS 20

enum admin_view { VIEW_EVENTS, VIEW_WORKER, VIEW_PAGE };

/* One suspended admin request waiting for the store. */
struct admin_query {
    struct server *srv;
    struct http_request *req;
    enum admin_view view;
    char worker[WORKER_NAME_MAX + 1];
    json_t *reply; /* VIEW_WORKER: the answer, waiting for the latest MTR */
};

bool admin_authorized(struct http_request *req, struct server *srv)
{
    if (!srv->cfg.admin_pass) {
        http_respond_error(req, 403, "admin is disabled: set ADMIN_PASS to enable it", NULL);
        return false;
    }
    const char *user, *pass;
    bool ok = http_basic_auth(req, &user, &pass);
    /* Both comparisons always run, so timing does not tell which one failed. */
    bool user_ok = ok && server_secret_equal(srv, user, srv->admin_user_hash);
    bool pass_ok = ok && server_secret_equal(srv, pass, srv->admin_pass_hash);
    if (!(user_ok && pass_ok)) {
        http_respond_auth_required(req, REALM);
        return false;
    }
    return true;
}

json_t *admin_iso_time(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[CLOCK_ISO_LEN];
    clock_format_iso(ms, buf, sizeof buf);
    return json_string(buf);
}

static json_t *worker_json(const struct worker_record *w)
{
    return json_pack("{s:s, s:s, s:o, s:s, s:i, s:s, s:I, s:s?, s:o, s:o}", "name", w->name,
                     "state", worker_state_name(w->state), "last_seen",
                     admin_iso_time(w->last_seen_ms), "ip", w->ip, "gpus", w->gpus, "version",
                     w->version, "uptime_s", (json_int_t)w->uptime_s, "site",
                     w->site[0] ? w->site : NULL, "state_since", admin_iso_time(w->state_since_ms),
                     "first_seen", admin_iso_time(w->first_seen_ms));
}

static json_t *events_json(const struct event_record *evs, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *details = json_loads(evs[i].details_json ? evs[i].details_json : "{}", 0, NULL);
        json_array_append_new(arr,
                              json_pack("{s:I, s:o, s:s, s:s, s:o}", "id", (json_int_t)evs[i].id,
                                        "time", admin_iso_time(evs[i].time_ms), "worker",
                                        evs[i].worker, "kind", event_kind_name(evs[i].kind),
                                        "details", details ? details : json_object()));
    }
    return arr;
}

void admin_respond_json(struct http_request *req, int status, json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(value);
    if (text)
        http_respond_json_text(req, status, text);
    else
        http_respond_error(req, 500, "internal error", NULL);
    free(text);
}

static void append_worker(const struct worker_record *w, void *ctx)
{
    json_array_append_new(ctx, worker_json(w));
}

void admin_api_status(struct http_request *req, void *ctx)
{
    struct server *srv = ctx;
    if (!admin_authorized(req, srv))
        return;
    json_t *workers = json_array();
    fleet_each(srv->fleet, true, append_worker, workers);
    size_t counts[3];
    fleet_count_states(srv->fleet, counts);
    admin_respond_json(req, 200,
                       json_pack("{s:o, s:I, s:{s:I, s:I, s:I}, s:f, s:o}", "workers", workers,
                                 "total", (json_int_t)fleet_count(srv->fleet), "counts", "up",
                                 (json_int_t)counts[WORKER_UP], "down",
                                 (json_int_t)counts[WORKER_DOWN], "unknown",
                                 (json_int_t)counts[WORKER_UNKNOWN], "fail_timeout_s",
                                 (double)srv->cfg.fail_timeout_ms / 1000.0, "server_time",
                                 admin_iso_time(clock_wall_ms())));
}

static void html_escape(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '&':
            fputs("&amp;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&#39;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

static void page_worker_row(const struct worker_record *w, void *ctx)
{
    FILE *out = ctx;
    char seen[CLOCK_ISO_LEN];
    clock_format_iso(w->last_seen_ms, seen, sizeof seen);
    fprintf(out, "<tr class=\"%s\"><td>", worker_state_name(w->state));
    html_escape(out, w->name);
    fprintf(out, "</td><td>%s</td><td>%s</td><td>", worker_state_name(w->state), seen);
    html_escape(out, w->ip);
    fprintf(out, "</td><td>%d</td><td>", w->gpus);
    html_escape(out, w->version);
    fputs("</td></tr>\n", out);
}

static const char page_head[] =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>faultline admin</title>"
    "<meta http-equiv=\"refresh\" content=\"30\"><style>body{font-family:system-ui,sans-serif;"
    "margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:2em}td,th{padding:.3em "
    ".8em;border-bottom:1px solid #ddd;text-align:left}tr.down td{color:#b00020}"
    "tr.up td:nth-child(2){color:#137333}</style></head><body>";

static void render_page(struct http_request *req, struct server *srv,
                        const struct event_record *evs, size_t n)
{
    char *html = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&html, &len);
    size_t counts[3];
    fleet_count_states(srv->fleet, counts);
    fprintf(out, "%s<h1>faultline</h1><p>%zu workers: %zu up, %zu down, %zu unknown</p>", page_head,
            fleet_count(srv->fleet), counts[WORKER_UP], counts[WORKER_DOWN],
            counts[WORKER_UNKNOWN]);
    fputs("<h2>Workers</h2><table id=\"workers\"><tr><th>Name</th><th>State</th>"
          "<th>Last seen (UTC)</th><th>IP</th><th>GPUs</th><th>Version</th></tr>\n",
          out);
    fleet_each(srv->fleet, true, page_worker_row, out);
    fputs("</table><h2>Recent events</h2><table id=\"events\"><tr><th>Time (UTC)</th>"
          "<th>Worker</th><th>Event</th></tr>\n",
          out);
    for (size_t i = 0; i < n; i++) {
        char t[CLOCK_ISO_LEN];
        clock_format_iso(evs[i].time_ms, t, sizeof t);
        fprintf(out, "<tr class=\"%s\"><td>%s</td><td>", event_kind_name(evs[i].kind), t);
        html_escape(out, evs[i].worker);
        fprintf(out, "</td><td>%s</td></tr>\n", event_kind_name(evs[i].kind));
    }
    fputs("</table></body></html>\n", out);
    fclose(out);
    http_respond(req, 200, "text/html; charset=utf-8", html, len);
    free(html);
}

/* The last part of GET /admin/api/worker/NAME: its latest path probe (or null). */
static void on_worker_mtr(json_t *mtr, void *ctx)
{
    struct admin_query *q = ctx;
    json_object_set_new(q->reply, "mtr", mtr);
    admin_respond_json(q->req, 200, q->reply);
    free(q);
}

static void on_events(int status, const struct event_record *evs, size_t n, void *ctx)
{
    struct admin_query *q = ctx;
    if (status != 0) {
        http_respond_error(q->req, 503, "event store unavailable", NULL);
    } else if (q->view == VIEW_PAGE) {
        render_page(q->req, q->srv, evs, n);
    } else if (q->view == VIEW_WORKER) {
        const struct worker_record *w = fleet_find(q->srv->fleet, q->worker);
        q->reply = json_pack("{s:o, s:o}", "worker", w ? worker_json(w) : json_null(), "events",
                             events_json(evs, n));
        admin_latest_mtr(q->srv, q->worker, on_worker_mtr, q);
        return;
    } else {
        admin_respond_json(q->req, 200, json_pack("{s:o}", "events", events_json(evs, n)));
    }
    free(q);
}

static void start_query(struct http_request *req, struct server *srv, enum admin_view view,
                        const struct event_query *eq)
{
    struct admin_query *q = calloc(1, sizeof *q);
    if (!q) {
        http_respond_error(req, 503, "server out of memory", NULL);
        return;
    }
    q->srv = srv;
    q->req = req;
    q->view = view;
    if (eq->worker)
        snprintf(q->worker, sizeof q->worker, "%s", eq->worker);
    http_suspend(req);
    store_query_events(srv->store, eq, on_events, q);
}

/* Parses ?type=down,up into a kinds mask; returns -1 on an unknown kind. */
static int parse_kinds(const char *text, unsigned *kinds)
{
    *kinds = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *k = strtok_r(buf, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
        enum event_kind kind;
        if (event_kind_parse(k, &kind) != 0)
            return -1;
        *kinds |= 1u << kind;
    }
    return 0;
}

/* Fills q from ?limit=&type=&worker=&since=; answers 400 and returns -1 on a bad value. */
static int parse_event_query(struct http_request *req, struct event_query *q)
{
    const char *type = http_query(req, "type");
    *q = (struct event_query){.worker = http_query(req, "worker")};
    if (admin_query_limit(req, PAGE_EVENTS, &q->limit) != 0)
        return -1;
    if (type && parse_kinds(type, &q->kinds) != 0) {
        char err[160];
        snprintf(err, sizeof err, "type: expected a list of up,down, got \"%.40s\"", type);
        http_respond_error(req, 400, err, "type");
        return -1;
    }
    return admin_query_time(req, "since", &q->since_ms);
}

void admin_api_events(struct http_request *req, void *ctx)
{
    struct server *srv = ctx;
    struct event_query q;
    if (admin_authorized(req, srv) && parse_event_query(req, &q) == 0)
        start_query(req, srv, VIEW_EVENTS, &q);
}

void admin_api_worker(struct http_request *req, void *ctx)
{
    struct server *srv = ctx;
    if (!admin_authorized(req, srv))
        return;
    const char *name = http_path(req) + strlen(WORKER_PREFIX);
    if (!fleet_find(srv->fleet, name)) {
        http_respond_error(req, 404, "unknown worker", "name");
        return;
    }
    struct event_query q = {.limit = WORKER_EVENTS, .worker = name};
    start_query(req, srv, VIEW_WORKER, &q);
}

void admin_page(struct http_request *req, void *ctx)
{
    struct server *srv = ctx;
    struct event_query q = {.limit = PAGE_EVENTS};
    if (admin_authorized(req, srv))
        start_query(req, srv, VIEW_PAGE, &q);
}
