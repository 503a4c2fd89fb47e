/* admin_page.c — GET /admin (admin): the HTML page with every worker and the recent events,
 * read from the store with the request suspended meanwhile. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/clock.h"
#include "server/api.h"
#include "server/fleet.h"
#include "store/store.h"

#define PAGE_EVENTS 50

/* The page being built, waiting for the store's events. */
struct page_view {
    struct api_context *api;
    struct http_request *req;
};

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
    if (w->gpus == WORKER_GPUS_FAILED)
        fputs("</td><td>GPU_ERR</td><td>", out);
    else
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

/* What the alert router did with the event's message, when it was not sent: " (silenced)",
 * " (held back)" (a parent down, the server cut off), " (flapping)"; "" otherwise. */
static const char *event_note(const struct event_record *ev)
{
    json_t *d = ev->details_json ? json_loads(ev->details_json, 0, NULL) : NULL;
    const char *note = json_is_true(json_object_get(d, "silenced"))   ? " (silenced)"
                       : json_object_get(d, "held_back_by")            ? " (held back)"
                       : json_is_true(json_object_get(d, "flapping")) ? " (flapping)"
                                                                       : "";
    json_decref(d);
    return note;
}

static void render_page(struct http_request *req, struct fleet *fleet,
                        const struct event_record *evs, size_t n)
{
    char *html = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&html, &len);
    size_t counts[3];
    fleet_count_states(fleet, counts);
    fprintf(out, "%s<h1>faultline</h1><p>%zu workers: %zu up, %zu down, %zu unknown</p>", page_head,
            fleet_count(fleet), counts[WORKER_UP], counts[WORKER_DOWN],
            counts[WORKER_UNKNOWN]);
    fputs("<h2>Workers</h2><table id=\"workers\"><tr><th>Name</th><th>State</th>"
          "<th>Last seen (UTC)</th><th>IP</th><th>GPUs</th><th>Version</th></tr>\n",
          out);
    fleet_each(fleet, true, page_worker_row, out);
    fputs("</table><h2>Recent events</h2><table id=\"events\"><tr><th>Time (UTC)</th>"
          "<th>Worker</th><th>Event</th></tr>\n",
          out);
    for (size_t i = 0; i < n; i++) {
        char t[CLOCK_ISO_LEN];
        clock_format_iso(evs[i].time_ms, t, sizeof t);
        fprintf(out, "<tr class=\"%s\"><td>%s</td><td>", event_kind_name(evs[i].kind), t);
        html_escape(out, evs[i].worker);
        fprintf(out, "</td><td>%s%s</td></tr>\n", event_kind_name(evs[i].kind),
                event_note(&evs[i]));
    }
    fputs("</table></body></html>\n", out);
    fclose(out);
    http_respond_page(req, 200, html, len);
    free(html);
}

static void on_events(int status, const struct event_record *evs, size_t n, void *ctx)
{
    struct page_view *v = ctx;
    if (status != 0)
        http_respond_error(v->req, 503, "event store unavailable", NULL);
    else
        render_page(v->req, v->api->fleet, evs, n);
    free(v);
}

void api_admin_page(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    struct page_view *v = malloc(sizeof *v);
    if (!v) {
        http_respond_error(req, 503, "server out of memory", NULL);
        return;
    }
    *v = (struct page_view){.api = api, .req = req};
    struct event_query q = {.limit = PAGE_EVENTS};
    http_suspend(req);
    store_query_events(api->store, &q, on_events, v);
}
