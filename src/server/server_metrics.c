/* server_metrics.c — the server's own metrics (server_metrics.h): counters bumped by hooks,
 * gauges read at scrape time. */
#include "server/server_metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alert/outbox.h"
#include "model/incident.h"
#include "model/worker.h"
#include "server/agent_metrics.h"
#include "server/checks.h"
#include "server/fleet.h"
#include "server/incidents.h"
#include "store/store.h"

#define STATUSES_MAX 16 /* distinct statuses kept per route; more are counted as the last */
#define OUTBOX_CHANNELS_MAX 16

/* Upper bounds of the request latency histogram, in seconds. */
static const double LATENCY_BOUNDS[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define LATENCY_BUCKETS (sizeof LATENCY_BOUNDS / sizeof LATENCY_BOUNDS[0])

/* Every metric written below (agents may not push these names). */
static const char *const OWN_METRICS[] = {
    "faultline_build_info",
    "faultline_heartbeats_received_total",
    "faultline_workers",
    "faultline_worker_up",
    "faultline_incidents_open",
    "faultline_outbox_pending",
    "faultline_notifications_sent_total",
    "faultline_notifications_failed_total",
    "faultline_store_queue_jobs",
    "faultline_store_commit_seconds",
    "faultline_http_requests_total",
    "faultline_http_request_duration_seconds",
    "faultline_metrics_pushes_total",
    "faultline_metrics_refused_lines_total",
    "faultline_metrics_agents",
    "faultline_metrics_series",
    "faultline_push_time_seconds",
    "faultline_checks_scheduled",
    "faultline_check_runs_total",
    "faultline_check_runs_late_total",
    "faultline_check_slots_skipped_total",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
};

/* One route's requests (the last slot: requests that matched none). */
struct route_stats {
    struct {
        int status;
        unsigned long long count;
    } statuses[STATUSES_MAX];
    size_t nstatuses;
    unsigned long long buckets[LATENCY_BUCKETS]; /* not cumulative */
    unsigned long long count;
    double sum;
};

struct server_metrics {
    const struct http_route *routes;
    size_t nroutes;
    struct route_stats *stats; /* nroutes + 1 */
    int64_t start_wall_ms;
    unsigned long long heartbeats, pushes, refused_lines;
};

struct server_metrics *server_metrics_new(const struct http_route *routes, int64_t start_wall_ms)
{
    struct server_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    while (routes[m->nroutes].path)
        m->nroutes++;
    m->stats = calloc(m->nroutes + 1, sizeof *m->stats);
    if (!m->stats) {
        free(m);
        return NULL;
    }
    m->routes = routes;
    m->start_wall_ms = start_wall_ms;
    return m;
}

void server_metrics_free(struct server_metrics *m)
{
    if (m)
        free(m->stats);
    free(m);
}

void server_metrics_heartbeat(struct server_metrics *m)
{
    m->heartbeats++;
}

void server_metrics_push(struct server_metrics *m, size_t accepted, size_t refused)
{
    m->pushes++;
    m->refused_lines += refused;
}

void server_metrics_observe(void *ctx, const struct http_route *route, int status, double seconds)
{
    struct server_metrics *m = ctx;
    size_t i = route ? (size_t)(route - m->routes) : m->nroutes;
    struct route_stats *r = &m->stats[i < m->nroutes ? i : m->nroutes];
    size_t s = 0;
    while (s < r->nstatuses && r->statuses[s].status != status)
        s++;
    if (s == r->nstatuses && s < STATUSES_MAX)
        r->statuses[r->nstatuses++].status = status;
    r->statuses[s < STATUSES_MAX ? s : STATUSES_MAX - 1].count++;
    size_t b = 0;
    while (b < LATENCY_BUCKETS && seconds > LATENCY_BOUNDS[b])
        b++;
    if (b < LATENCY_BUCKETS)
        r->buckets[b]++;
    r->count++;
    r->sum += seconds;
}

bool server_metrics_reserved(const char *name)
{
    if (name[0] != 'f' && name[0] != 'p') /* every one starts "faultline_" or "process_" */
        return false;
    for (size_t i = 0; i < sizeof OWN_METRICS / sizeof OWN_METRICS[0]; i++)
        if (!strcmp(name, OWN_METRICS[i]))
            return true;
    return false;
}

/* ---- the scrape ---- */

static const char *route_label(const struct server_metrics *m, size_t i)
{
    return i < m->nroutes ? m->routes[i].path : "unmatched";
}

static void render_http(const struct server_metrics *m, struct expo *out)
{
    char status[12];
    expo_family(out, "faultline_http_requests_total", "counter",
                "HTTP requests answered, by route and status.");
    for (size_t i = 0; i <= m->nroutes; i++)
        for (size_t s = 0; s < m->stats[i].nstatuses; s++) {
            snprintf(status, sizeof status, "%d", m->stats[i].statuses[s].status);
            expo_sample(out, "faultline_http_requests_total", (double)m->stats[i].statuses[s].count,
                        2, "route", route_label(m, i), "status", status);
        }
    expo_family(out, "faultline_http_request_duration_seconds", "histogram",
                "Seconds from a request's headers to the end of its answer, by route.");
    for (size_t i = 0; i <= m->nroutes; i++) {
        const struct route_stats *r = &m->stats[i];
        if (!r->count)
            continue;
        unsigned long long cumulative = 0;
        char le[24];
        for (size_t b = 0; b < LATENCY_BUCKETS; b++) {
            cumulative += r->buckets[b];
            snprintf(le, sizeof le, "%g", LATENCY_BOUNDS[b]);
            expo_sample(out, "faultline_http_request_duration_seconds_bucket", (double)cumulative,
                        2, "le", le, "route", route_label(m, i));
        }
        expo_sample(out, "faultline_http_request_duration_seconds_bucket", (double)r->count, 2,
                    "le", "+Inf", "route", route_label(m, i));
        expo_sample(out, "faultline_http_request_duration_seconds_sum", r->sum, 1, "route",
                    route_label(m, i));
        expo_sample(out, "faultline_http_request_duration_seconds_count", (double)r->count, 1,
                    "route", route_label(m, i));
    }
}

static void write_worker_up(const struct worker_record *w, void *ctx)
{
    if (w->site[0])
        expo_sample(ctx, "faultline_worker_up", w->state == WORKER_UP, 2, "site", w->site, "worker",
                    w->name);
    else
        expo_sample(ctx, "faultline_worker_up", w->state == WORKER_UP, 1, "worker", w->name);
}

static void render_fleet(const struct server_metrics_sources *src, struct expo *out)
{
    size_t states[3];
    fleet_count_states(src->fleet, states);
    expo_family(out, "faultline_workers", "gauge", "Workers the server knows, by state.");
    for (int s = WORKER_UNKNOWN; s <= WORKER_DOWN; s++)
        expo_sample(out, "faultline_workers", (double)states[s], 1, "state",
                    worker_state_name((enum worker_state)s));
    expo_family(out, "faultline_worker_up", "gauge", "1 while the worker is UP, else 0.");
    fleet_each(src->fleet, false, write_worker_up, out);
}

static void render_incidents(const struct server_metrics_sources *src, struct expo *out)
{
    size_t counts[INCIDENT_CLASS_COUNT];
    incidents_count_open(src->incidents, counts);
    expo_family(out, "faultline_incidents_open", "gauge", "Incidents open, by class.");
    for (int c = 0; c < INCIDENT_CLASS_COUNT; c++)
        expo_sample(out, "faultline_incidents_open", (double)counts[c], 1, "class",
                    incident_class_name((enum incident_class)c));
}

static void render_outbox(const struct server_metrics_sources *src, struct expo *out)
{
    struct outbox_channel_stats ch[OUTBOX_CHANNELS_MAX];
    size_t n = outbox_stats(src->outbox, ch, OUTBOX_CHANNELS_MAX);
    n = n < OUTBOX_CHANNELS_MAX ? n : OUTBOX_CHANNELS_MAX;
    expo_family(out, "faultline_outbox_pending", "gauge",
                "Notifications not yet delivered (queued or waiting to retry).");
    expo_sample(out, "faultline_outbox_pending", (double)outbox_pending(src->outbox), 0);
    expo_family(out, "faultline_notifications_sent_total", "counter",
                "Notifications delivered, by channel.");
    for (size_t i = 0; i < n; i++)
        expo_sample(out, "faultline_notifications_sent_total", (double)ch[i].sent, 1, "channel",
                    ch[i].channel);
    expo_family(out, "faultline_notifications_failed_total", "counter",
                "Notification attempts that did not deliver (retried or refused), by channel.");
    for (size_t i = 0; i < n; i++)
        expo_sample(out, "faultline_notifications_failed_total", (double)ch[i].failed, 1, "channel",
                    ch[i].channel);
}

static void render_checks(const struct server_metrics_sources *src, struct expo *out)
{
    if (!src->checks)
        return;
    struct checks_stats st = checks_stats(src->checks);
    expo_family(out, "faultline_checks_scheduled", "gauge", "Checks on the schedule (enabled).");
    expo_sample(out, "faultline_checks_scheduled", (double)st.scheduled, 0);
    expo_family(out, "faultline_check_runs_total", "counter", "Check runs started on schedule.");
    expo_sample(out, "faultline_check_runs_total", (double)st.runs, 0);
    expo_family(out, "faultline_check_runs_late_total", "counter",
                "Check runs started more than 1 s after their due time.");
    expo_sample(out, "faultline_check_runs_late_total", (double)st.late, 0);
    expo_family(out, "faultline_check_slots_skipped_total", "counter",
                "Check runs not started: the server fell an interval behind or the run overran.");
    expo_sample(out, "faultline_check_slots_skipped_total", (double)st.skipped, 0);
}

static void render_store(const struct server_metrics_sources *src, struct expo *out)
{
    struct store_stats st = {0};
    if (src->store)
        store_get_stats(src->store, &st);
    expo_family(out, "faultline_store_queue_jobs", "gauge", "Writes waiting for the store thread.");
    expo_sample(out, "faultline_store_queue_jobs", (double)st.queued, 0);
    expo_family(out, "faultline_store_commit_seconds", "summary",
                "Seconds the store took to commit its batches of writes.");
    expo_sample(out, "faultline_store_commit_seconds_sum", st.commit_seconds, 0);
    expo_sample(out, "faultline_store_commit_seconds_count", (double)st.batches, 0);
}

static void render_pushes(const struct server_metrics *m, const struct server_metrics_sources *src,
                          int64_t now_mono, struct expo *out)
{
    struct agent_metrics_summary sum = {0};
    if (src->agents)
        agent_metrics_summarize(src->agents, now_mono, &sum);
    expo_family(out, "faultline_metrics_pushes_total", "counter",
                "Pushes of agents' metrics received.");
    expo_sample(out, "faultline_metrics_pushes_total", (double)m->pushes, 0);
    expo_family(out, "faultline_metrics_refused_lines_total", "counter",
                "Lines of agents' pushes refused (invalid, or over METRICS_MAX_SERIES).");
    expo_sample(out, "faultline_metrics_refused_lines_total", (double)m->refused_lines, 0);
    expo_family(out, "faultline_metrics_agents", "gauge",
                "Agents that pushed metrics within METRICS_TTL.");
    expo_sample(out, "faultline_metrics_agents", (double)sum.agents, 0);
    expo_family(out, "faultline_metrics_series", "gauge", "Series the agents' pushes hold.");
    expo_sample(out, "faultline_metrics_series", (double)sum.series, 0);
}

static size_t open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    size_t n = 0;
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n > 0 ? n - 1 : 0; /* less the descriptor reading the directory */
}

static void render_process(const struct server_metrics *m, struct expo *out)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    unsigned long long pages_virtual = 0, pages_resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &pages_virtual, &pages_resident) != 2)
            pages_virtual = pages_resident = 0;
        fclose(f);
    }
    double page = (double)sysconf(_SC_PAGESIZE);
    struct rlimit rl = {0};
    getrlimit(RLIMIT_NOFILE, &rl);
    expo_family(out, "process_cpu_seconds_total", "counter", "CPU seconds, user and system.");
    expo_sample(out, "process_cpu_seconds_total", cpu, 0);
    expo_family(out, "process_resident_memory_bytes", "gauge", "Resident memory in bytes.");
    expo_sample(out, "process_resident_memory_bytes", (double)pages_resident * page, 0);
    expo_family(out, "process_virtual_memory_bytes", "gauge", "Virtual memory in bytes.");
    expo_sample(out, "process_virtual_memory_bytes", (double)pages_virtual * page, 0);
    expo_family(out, "process_open_fds", "gauge", "Open file descriptors.");
    expo_sample(out, "process_open_fds", (double)open_fds(), 0);
    expo_family(out, "process_max_fds", "gauge", "Most file descriptors the process may open.");
    expo_sample(out, "process_max_fds", (double)rl.rlim_cur, 0);
    expo_family(out, "process_start_time_seconds", "gauge",
                "When the server started, in seconds since the epoch.");
    expo_sample(out, "process_start_time_seconds", (double)m->start_wall_ms / 1000.0, 0);
}

void server_metrics_render(struct server_metrics *m, const struct server_metrics_sources *src,
                           int64_t now_mono, struct expo *out)
{
    expo_family(out, "faultline_build_info", "gauge", "The server's version, as a label.");
    expo_sample(out, "faultline_build_info", 1, 1, "version", FAULTLINE_VERSION);
    expo_family(out, "faultline_heartbeats_received_total", "counter",
                "Heartbeats received (valid ones).");
    expo_sample(out, "faultline_heartbeats_received_total", (double)m->heartbeats, 0);
    if (src->fleet)
        render_fleet(src, out);
    render_incidents(src, out);
    render_outbox(src, out);
    render_store(src, out);
    render_checks(src, out);
    render_http(m, out);
    render_pushes(m, src, now_mono, out);
    render_process(m, out);
}
