/* followup.c — the follow-up after an outage: once agents upload what they recorded while they
 * could not reach the server (backlog.c), the server waits FOLLOWUP_DELAY_MS for the other
 * agents of the same outage, finds the incident the records belong to, diagnoses every worker
 * of it from its stored records (analyze/diagnose.h) and sends one message naming where the
 * paths broke. The diagnosis is kept in the incident's evidence ("diagnosis"). A follow-up
 * whose text would repeat the last one is not sent again.
 *
 * Steps, each a store read answered on the loop thread: recent incidents → the records of each
 * affected incident's workers → diagnosis, message and incident saved in one transaction. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/diagnose.h"
#include "base/clock.h"
#include "base/log.h"
#include "server/server_internal.h"

#define FOLLOWUP_DELAY_MS 3000
#define FOLLOWUP_INCIDENTS 200
#define FOLLOWUP_MAX_WORKERS 64
#define FOLLOWUP_RECORDS 1000
#define FOLLOWUP_TEXT_MAX 3072
#define FOLLOWUP_MAX_PENDING 1024

/* A worker whose backlog arrived, waiting for the timer. */
struct followup_worker {
    char name[WORKER_NAME_MAX + 1];
    int64_t first_ms, last_ms;
};

/* One incident being diagnosed: its stored row and its workers' records as they arrive. */
struct followup_job {
    struct server *srv;
    struct incident_record inc;
    char *scope, *workers_text, *evidence;
    char names[FOLLOWUP_MAX_WORKERS][WORKER_NAME_MAX + 1];
    size_t n_names, answered;
    struct worker_diagnosis diags[FOLLOWUP_MAX_WORKERS];
    size_t n_diags;
};

struct followup_state {
    uv_timer_t timer;
    struct followup_worker pending[FOLLOWUP_MAX_PENDING];
    size_t n_pending;
    /* Diagnoses of open incidents, merged into their evidence whenever the engine saves them. */
    json_t *by_incident; /* {"<id>": diagnosis} */
};

static void on_followup_timer(uv_timer_t *t);

int followup_open(struct server *srv)
{
    struct followup_state *f = calloc(1, sizeof *f);
    if (!f || !(f->by_incident = json_object())) {
        free(f);
        return -1;
    }
    uv_timer_init(srv->loop, &f->timer);
    f->timer.data = srv;
    srv->followup = f;
    return 0;
}

static void on_followup_closed(uv_handle_t *h)
{
    struct server *srv = h->data;
    json_decref(srv->followup_closing->by_incident);
    free(srv->followup_closing);
    srv->followup_closing = NULL;
}

void followup_close(struct server *srv)
{
    if (!srv->followup)
        return;
    srv->followup_closing = srv->followup;
    srv->followup = NULL;
    uv_close((uv_handle_t *)&srv->followup_closing->timer, on_followup_closed);
}

void followup_backlog_stored(struct server *srv, const char *worker, int64_t first_ms,
                             int64_t last_ms)
{
    struct followup_state *f = srv->followup;
    if (!f)
        return;
    size_t i = 0;
    while (i < f->n_pending && strcmp(f->pending[i].name, worker))
        i++;
    if (i == f->n_pending) {
        if (f->n_pending == FOLLOWUP_MAX_PENDING)
            return;
        f->n_pending++;
        snprintf(f->pending[i].name, sizeof f->pending[i].name, "%s", worker);
        f->pending[i].first_ms = first_ms;
        f->pending[i].last_ms = last_ms;
    }
    if (first_ms < f->pending[i].first_ms)
        f->pending[i].first_ms = first_ms;
    if (last_ms > f->pending[i].last_ms)
        f->pending[i].last_ms = last_ms;
    if (!uv_is_active((uv_handle_t *)&f->timer))
        uv_timer_start(&f->timer, on_followup_timer, FOLLOWUP_DELAY_MS, 0);
}

/* Evidence text with the diagnosis of that incident merged in, if there is one (malloc'd), or
 * NULL to keep evidence_json as it is. */
char *followup_merge_evidence(struct server *srv, int64_t id, const char *evidence_json)
{
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)id);
    json_t *diag = srv->followup ? json_object_get(srv->followup->by_incident, key) : NULL;
    if (!diag)
        return NULL;
    json_t *ev = json_loads(evidence_json ? evidence_json : "{}", 0, NULL);
    if (!json_is_object(ev)) {
        json_decref(ev);
        return NULL;
    }
    json_object_set(ev, "diagnosis", diag);
    char *text = json_dumps(ev, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(ev);
    return text;
}

/* ---- step 3: diagnosis, message, save ------------------------------------------------------- */

static void job_free(struct followup_job *job)
{
    free(job->scope);
    free(job->workers_text);
    free(job->evidence);
    free(job);
}

static void on_followup_saved(int status, const struct incident_record *inc,
                              const struct outbox_record *msgs, size_t n, void *ctx)
{
    struct server *srv = ctx;
    if (status == 0 && srv->outbox && n > 0)
        outbox_enqueue(srv->outbox, msgs, n);
}

static json_t *diagnosis_json(const struct followup_job *job, const char *text)
{
    json_t *workers = json_array();
    for (size_t i = 0; i < job->n_diags; i++)
        json_array_append_new(workers, worker_diagnosis_json(&job->diags[i]));
    return json_pack("{s:s, s:o, s:o}", "text", text, "workers", workers, "at",
                     admin_iso_time(clock_wall_ms()));
}

/* The text of the previous follow-up of this incident, from its stored evidence. */
static bool same_as_before(const char *evidence_json, const char *text)
{
    json_t *ev = json_loads(evidence_json ? evidence_json : "{}", 0, NULL);
    const char *before =
        json_string_value(json_object_get(json_object_get(ev, "diagnosis"), "text"));
    bool same = before && !strcmp(before, text);
    json_decref(ev);
    return same;
}

static void job_finish(struct followup_job *job)
{
    struct server *srv = job->srv;
    char text[FOLLOWUP_TEXT_MAX];
    if (job->n_diags == 0)
        goto done;
    if (job->n_diags == 1)
        worker_diagnosis_text(&job->diags[0], text, sizeof text);
    else
        diagnosis_group_text(job->diags, job->n_diags, text, sizeof text);
    if (same_as_before(job->evidence, text))
        goto done;
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)job->inc.id);
    json_t *diag = diagnosis_json(job, text);
    if (job->inc.closed_ms <= 0 && srv->followup) /* NULL while the server stops */
        json_object_set(srv->followup->by_incident, key, diag);
    json_t *ev = json_loads(job->evidence ? job->evidence : "{}", 0, NULL);
    if (!json_is_object(ev)) {
        json_decref(ev);
        ev = json_object();
    }
    json_object_set_new(ev, "diagnosis", diag);
    char *evidence = json_dumps(ev, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(ev);
    struct incident_record rec = job->inc;
    rec.evidence_json = evidence;
    rec.updated_ms = clock_wall_ms();
    char message[FOLLOWUP_TEXT_MAX + 128];
    snprintf(message, sizeof message, "🔎 Follow-up on incident #%lld (%s):\n%s", (long long)rec.id,
             rec.classification, text);
    const char *channels[8];
    size_t nch = srv->outbox ? outbox_channel_names(srv->outbox, channels, 8) : 0;
    struct outbox_record msgs[8];
    for (size_t i = 0; i < nch; i++) {
        msgs[i] = (struct outbox_record){.text = message, .created_ms = rec.updated_ms};
        snprintf(msgs[i].channel, sizeof msgs[i].channel, "%s", channels[i]);
    }
    log_info("server: follow-up on incident %lld: %s", (long long)rec.id, text);
    store_save_incident(srv->store, &rec, msgs, nch, on_followup_saved, srv);
    free(evidence);
done:
    job_free(job);
}

/* ---- step 2: each worker's records ------------------------------------------------------------
 */

struct worker_read {
    struct followup_job *job;
    size_t index;
};

static void on_worker_records(int status, const struct diag_record *recs, size_t n, void *ctx)
{
    struct worker_read *wr = ctx;
    struct followup_job *job = wr->job;
    json_t **records = n ? calloc(n, sizeof *records) : NULL;
    size_t parsed = 0;
    for (size_t i = 0; status == 0 && records && i < n; i++) {
        json_t *r = json_loads(recs[i].body_json, 0, NULL);
        if (r)
            records[parsed++] = r;
    }
    if (parsed > 0 &&
        diagnose_worker(job->names[wr->index], records, parsed, &job->diags[job->n_diags]) == 0 &&
        job->diags[job->n_diags].records > 0)
        job->n_diags++;
    for (size_t i = 0; i < parsed; i++)
        json_decref(records[i]);
    free(records);
    free(wr);
    if (++job->answered == job->n_names)
        job_finish(job);
}

static void job_start(struct server *srv, const struct incident_record *inc)
{
    struct followup_job *job = calloc(1, sizeof *job);
    json_t *workers =
        job ? json_loads(inc->workers_json ? inc->workers_json : "[]", 0, NULL) : NULL;
    if (!workers) {
        free(job);
        return;
    }
    job->srv = srv;
    job->inc = *inc;
    job->scope = inc->scope_json ? strdup(inc->scope_json) : NULL;
    job->workers_text = inc->workers_json ? strdup(inc->workers_json) : NULL;
    job->evidence = inc->evidence_json ? strdup(inc->evidence_json) : NULL;
    job->inc.scope_json = job->scope;
    job->inc.workers_json = job->workers_text;
    job->inc.evidence_json = job->evidence;
    size_t i;
    json_t *w;
    json_array_foreach(workers, i, w)
    {
        const char *name = json_string_value(json_object_get(w, "name"));
        if (name && job->n_names < FOLLOWUP_MAX_WORKERS)
            snprintf(job->names[job->n_names++], WORKER_NAME_MAX + 1, "%s", name);
    }
    json_decref(workers);
    if (job->n_names == 0) {
        job_free(job);
        return;
    }
    /* The records of the outage: from a FAIL_TIMEOUT before it opened (the agents noticed
     * before the server did) to its close, or now. */
    struct diag_query q = {.limit = FOLLOWUP_RECORDS,
                           .since_ms = inc->opened_ms - srv->cfg.fail_timeout_ms - 60000,
                           .until_ms = inc->closed_ms > 0 ? inc->closed_ms + 60000 : 0,
                           .oldest_first = 1};
    size_t n_names = job->n_names;
    for (size_t k = 0; k < n_names; k++) {
        struct worker_read *wr = malloc(sizeof *wr);
        if (!wr) {
            if (++job->answered == job->n_names)
                job_finish(job);
            continue;
        }
        *wr = (struct worker_read){.job = job, .index = k};
        q.worker = job->names[k];
        store_query_diagnostics(srv->store, &q, on_worker_records, wr);
    }
}

/* ---- step 1: which incidents the uploads explain -----------------------------------------------
 */

/* When the incident says the worker went DOWN (wall ms), or -1 when it is not one of its
 * workers. */
static int64_t incident_down_at(const struct incident_record *inc, const char *name)
{
    json_t *workers = json_loads(inc->workers_json ? inc->workers_json : "[]", 0, NULL);
    size_t i;
    json_t *w;
    int64_t at = -1;
    json_array_foreach(workers, i, w)
    {
        const char *n = json_string_value(json_object_get(w, "name"));
        const char *down = json_string_value(json_object_get(w, "down_at"));
        if (n && !strcmp(n, name) && (!down || clock_parse_iso(down, &at) != 0))
            at = inc->opened_ms;
    }
    json_decref(workers);
    return at;
}

/* How well records starting at first_ms explain the worker's DOWN in inc: the agent's first
 * failure comes about FAIL_TIMEOUT before the server declares it DOWN. Lower is better; -1
 * when the incident does not hold the worker or began long after the records end. */
static int64_t fit_distance(const struct server *srv, const struct incident_record *inc,
                            const struct followup_worker *w)
{
    int64_t down_at = incident_down_at(inc, w->name);
    if (down_at < 0 || down_at > w->last_ms + srv->cfg.fail_timeout_ms + srv->cfg.rca_window_ms)
        return -1;
    if (inc->closed_ms > 0 && inc->closed_ms + 60000 < w->first_ms)
        return -1;
    int64_t d = down_at - (w->first_ms + srv->cfg.fail_timeout_ms);
    return d < 0 ? -d : d;
}

struct incidents_read {
    struct server *srv;
    struct followup_worker *workers;
    size_t n;
};

static void on_recent_incidents(int status, const struct incident_record *incs, size_t n, void *ctx)
{
    struct incidents_read *rd = ctx;
    /* Each worker's best fitting incident; each incident diagnosed once. */
    bool *chosen = n ? calloc(n, sizeof *chosen) : NULL;
    for (size_t w = 0; status == 0 && chosen && w < rd->n; w++) {
        size_t best = n;
        int64_t best_d = -1;
        for (size_t i = 0; i < n; i++) {
            int64_t d = fit_distance(rd->srv, &incs[i], &rd->workers[w]);
            if (d >= 0 && (best == n || d < best_d)) {
                best = i;
                best_d = d;
            }
        }
        if (best < n)
            chosen[best] = true;
    }
    for (size_t i = 0; chosen && i < n; i++)
        if (chosen[i])
            job_start(rd->srv, &incs[i]);
    free(chosen);
    free(rd->workers);
    free(rd);
}

static void on_followup_timer(uv_timer_t *t)
{
    struct server *srv = t->data;
    struct followup_state *f = srv->followup;
    struct incidents_read *rd = calloc(1, sizeof *rd);
    if (!rd || !(rd->workers = malloc(f->n_pending * sizeof *rd->workers + 1))) {
        free(rd);
        f->n_pending = 0;
        return;
    }
    rd->srv = srv;
    rd->n = f->n_pending;
    memcpy(rd->workers, f->pending, f->n_pending * sizeof *rd->workers);
    int64_t since = rd->workers[0].first_ms;
    for (size_t i = 1; i < rd->n; i++)
        if (rd->workers[i].first_ms < since)
            since = rd->workers[i].first_ms;
    f->n_pending = 0;
    /* since_ms matches incidents opened or updated since: a closed one was updated at close. */
    struct incident_query q = {.limit = FOLLOWUP_INCIDENTS, .since_ms = since - 60000};
    store_query_incidents(srv->store, &q, on_recent_incidents, rd);
}
