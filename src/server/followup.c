/* followup.c — the follow-up after an outage (followup.h).
 *
 * Steps of a pass: the timer fires (a few seconds after an upload, or when a watched incident's
 * wait is over) → recent incidents are read from the store → each affected incident's workers'
 * records are read (bodies copied into the job) → the records are parsed and diagnosed on
 * libuv's thread pool, touching only the job → back on the loop, the follow-up is sent when it
 * is due (every worker uploaded, or the wait is over) and the message and the incident are saved
 * in one transaction. One pass runs at a time; uploads during it wait for the next. f->jobs
 * counts the steps in flight, so the state is freed only once the last one has come back. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/diagnose.h"
#include "base/clock.h"
#include "base/log.h"
#include "alert/outbox.h"
#include "alert/router.h"
#include "model/json.h"
#include "server/followup.h"
#include "store/store.h"

#define FOLLOWUP_DELAY_MS 3000
#define FOLLOWUP_INCIDENTS 200
#define FOLLOWUP_MAX_WORKERS 64
#define FOLLOWUP_RECORDS 1000
#define FOLLOWUP_TEXT_MAX 3072
#define FOLLOWUP_MAX_PENDING 1024
#define FOLLOWUP_MAX_WATCHED 256

/* A worker whose backlog arrived, waiting for the timer. */
struct followup_worker {
    char name[WORKER_NAME_MAX + 1];
    int64_t first_ms, last_ms;
};

/* A closed incident whose follow-up waits for its workers' uploads until deadline_ms (wall). */
struct followup_watch {
    int64_t id, deadline_ms;
};

/* The stored records of one worker, copied for the thread pool (owned by the job). */
struct worker_records {
    char **bodies;
    size_t n;
};

/* One incident being diagnosed: its stored row, its workers' records as they arrive and, once
 * the thread pool is done, their diagnoses and the text. Owned by the step in flight. */
struct followup_job {
    struct followup *f;
    uv_work_t work;
    struct incident_record inc;
    char *scope, *workers_text, *evidence;
    char names[FOLLOWUP_MAX_WORKERS][WORKER_NAME_MAX + 1];
    struct worker_records records[FOLLOWUP_MAX_WORKERS];
    size_t n_names, answered;
    bool due;            /* the wait is over: send what there is */
    bool server_cut_off; /* the server's canaries failed during the incident */
    struct worker_diagnosis diags[FOLLOWUP_MAX_WORKERS];
    size_t n_diags;
    struct diagnosis_headline headline;
    char text[FOLLOWUP_TEXT_MAX];
};

struct followup {
    struct store *store;
    struct outbox *outbox; /* may be NULL */
    struct alert_router *router; /* may be NULL */
    struct followup_settings settings;
    uv_timer_t timer;
    struct followup_worker pending[FOLLOWUP_MAX_PENDING];
    size_t n_pending;
    int64_t pending_since_ms; /* wall time of the first pending upload */
    struct followup_watch watched[FOLLOWUP_MAX_WATCHED];
    size_t n_watched;
    size_t pass_steps; /* steps of the current pass still in flight; 0: no pass runs */
    /* Diagnoses of open incidents, merged into their evidence whenever the engine saves them. */
    json_t *by_incident; /* {"<id>": diagnosis} */
    size_t jobs;         /* steps in flight (store reads, diagnoses) */
    bool closing, timer_closed;
};

static void on_followup_timer(uv_timer_t *t);

struct followup *followup_open(uv_loop_t *loop, struct store *store, struct outbox *outbox,
                               struct alert_router *router, const struct followup_settings *settings)
{
    struct followup *f = calloc(1, sizeof *f);
    if (!f || !(f->by_incident = json_object())) {
        free(f);
        return NULL;
    }
    f->store = store;
    f->outbox = outbox;
    f->router = router;
    f->settings = *settings;
    uv_timer_init(loop, &f->timer);
    f->timer.data = f;
    return f;
}

/* Starts the timer for the next pass: FOLLOWUP_DELAY_MS after the first pending upload, or at
 * the first watched deadline. Not while a pass runs: its end arms it. */
static void arm(struct followup *f)
{
    if (f->closing || f->pass_steps > 0)
        return;
    int64_t next = INT64_MAX;
    if (f->n_pending > 0)
        next = f->pending_since_ms + FOLLOWUP_DELAY_MS;
    for (size_t i = 0; i < f->n_watched; i++)
        if (f->watched[i].deadline_ms < next)
            next = f->watched[i].deadline_ms;
    if (next == INT64_MAX) {
        uv_timer_stop(&f->timer);
        return;
    }
    int64_t wait = next - clock_wall_ms();
    uv_timer_start(&f->timer, on_followup_timer, (uint64_t)(wait < 0 ? 0 : wait), 0);
}

static struct followup_watch *find_watched(struct followup *f, int64_t id)
{
    for (size_t i = 0; i < f->n_watched; i++)
        if (f->watched[i].id == id)
            return &f->watched[i];
    return NULL;
}

static void watch(struct followup *f, int64_t id, int64_t deadline_ms)
{
    if (find_watched(f, id))
        return;
    if (f->n_watched == FOLLOWUP_MAX_WATCHED) {
        log_warn("server: %d incidents already wait for their follow-up; incident %lld gets "
                 "one only when its workers upload",
                 FOLLOWUP_MAX_WATCHED, (long long)id);
        return;
    }
    f->watched[f->n_watched++] = (struct followup_watch){.id = id, .deadline_ms = deadline_ms};
}

static void unwatch(struct followup *f, int64_t id)
{
    struct followup_watch *w = find_watched(f, id);
    if (w)
        *w = f->watched[--f->n_watched];
}

/* A step of the current pass ended: once the last has, the next pass may be armed. */
static void pass_step_done(struct followup *f)
{
    if (f->pass_steps > 0 && --f->pass_steps == 0)
        arm(f);
}

static void free_if_done(struct followup *f)
{
    if (!f->closing || !f->timer_closed || f->jobs > 0)
        return;
    json_decref(f->by_incident);
    free(f);
}

/* A step in flight ended. */
static void job_done(struct followup *f)
{
    f->jobs--;
    free_if_done(f);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct followup *f = h->data;
    f->timer_closed = true;
    free_if_done(f);
}

void followup_close(struct followup *f)
{
    if (!f)
        return;
    f->closing = true;
    f->outbox = NULL; /* closed before the store, whose last callbacks may still come */
    f->router = NULL;
    uv_close((uv_handle_t *)&f->timer, on_timer_closed);
}

void followup_backlog_stored(struct followup *f, const char *worker, int64_t first_ms,
                             int64_t last_ms)
{
    if (!f || f->closing)
        return;
    size_t i = 0;
    while (i < f->n_pending && strcmp(f->pending[i].name, worker))
        i++;
    if (i == f->n_pending) {
        if (f->n_pending == FOLLOWUP_MAX_PENDING)
            return;
        if (f->n_pending == 0)
            f->pending_since_ms = clock_wall_ms();
        f->n_pending++;
        snprintf(f->pending[i].name, sizeof f->pending[i].name, "%s", worker);
        f->pending[i].first_ms = first_ms;
        f->pending[i].last_ms = last_ms;
    }
    if (first_ms < f->pending[i].first_ms)
        f->pending[i].first_ms = first_ms;
    if (last_ms > f->pending[i].last_ms)
        f->pending[i].last_ms = last_ms;
    arm(f);
}

void followup_incident_closed(struct followup *f, int64_t id, int64_t closed_ms)
{
    if (!f || f->closing)
        return;
    watch(f, id, closed_ms + f->settings.wait_ms);
    arm(f);
}

/* The incident's evidence with the diagnosis in it (malloc'd), or NULL when out of memory. */
static char *evidence_with(const char *evidence_json, json_t *diag)
{
    json_t *ev = json_loads(evidence_json ? evidence_json : "{}", 0, NULL);
    if (!json_is_object(ev)) {
        json_decref(ev);
        ev = json_object();
    }
    json_object_set(ev, "diagnosis", diag);
    char *text = json_dumps(ev, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(ev);
    return text;
}

/* Evidence text with the diagnosis of that incident merged in, if there is one (malloc'd), or
 * NULL to keep evidence_json as it is. */
char *followup_merge_evidence(struct followup *f, int64_t id, const char *evidence_json)
{
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)id);
    json_t *diag = f && !f->closing ? json_object_get(f->by_incident, key) : NULL;
    return diag ? evidence_with(evidence_json, diag) : NULL;
}

/* ---- step 3: diagnosis (thread pool), message, save (loop) ---------------------------------- */

static void job_free(struct followup_job *job)
{
    struct followup *f = job->f;
    for (size_t k = 0; k < job->n_names; k++) {
        for (size_t i = 0; i < job->records[k].n; i++)
            free(job->records[k].bodies[i]);
        free(job->records[k].bodies);
    }
    free(job->scope);
    free(job->workers_text);
    free(job->evidence);
    free(job);
    pass_step_done(f);
    job_done(f);
}

/* The follow-up and its messages are committed: they go out, and the incident's diagnosis
 * keeps the messages' ids ("messages": {"telegram": id}), which a correction replaces. An open
 * incident gets them with its next save by the engine (followup_merge_evidence), which may
 * have changed it since; a closed one is saved again here. */
static void on_followup_saved(int status, const struct incident_record *inc,
                              const struct outbox_record *msgs, size_t n, void *ctx)
{
    struct followup *f = ctx;
    if (status != 0 || n == 0)
        return;
    if (f->outbox)
        outbox_enqueue(f->outbox, msgs, n);
    json_t *ev = json_loads(inc->evidence_json ? inc->evidence_json : "{}", 0, NULL);
    json_t *diag = json_object_get(ev, "diagnosis");
    json_t *ids = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(ids, msgs[i].channel, json_integer(msgs[i].id));
    if (json_is_object(diag) && json_object_set_new(diag, "messages", ids) == 0) {
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)inc->id);
        if (!f->closing && json_object_get(f->by_incident, key))
            json_object_set(f->by_incident, key, diag);
        char *text =
            inc->closed_ms > 0 ? json_dumps(ev, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
        struct incident_record rec = *inc;
        rec.evidence_json = text;
        if (text)
            store_save_incident(f->store, &rec, NULL, 0, NULL, NULL);
        free(text);
    } else {
        json_decref(ids);
    }
    json_decref(ev);
}

static json_t *diagnosis_json(const struct followup_job *job)
{
    json_t *workers = json_array();
    for (size_t i = 0; i < job->n_diags; i++)
        json_array_append_new(workers, worker_diagnosis_json(&job->diags[i]));
    return json_pack("{s:s, s:s, s:o, s:o}", "text", job->text, "headline",
                     diagnosis_place_id(job->headline.place), "workers", workers, "at",
                     json_time(clock_wall_ms()));
}

/* The diagnosis of the follow-up already sent for this incident (kept for an open incident,
 * else from its stored evidence): a new reference, or NULL when none was sent. */
static json_t *sent_before(const struct followup_job *job)
{
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)job->inc.id);
    json_t *diag = json_object_get(job->f->by_incident, key);
    if (diag)
        return json_incref(diag);
    json_t *ev = json_loads(job->evidence ? job->evidence : "{}", 0, NULL);
    diag = json_incref(json_object_get(ev, "diagnosis"));
    json_decref(ev);
    return diag;
}

/* Thread pool: parses and diagnoses each worker's records and writes the text. Touches only
 * the job. */
static void diagnose_job(uv_work_t *work)
{
    struct followup_job *job = work->data;
    for (size_t k = 0; k < job->n_names; k++) {
        struct worker_records *wr = &job->records[k];
        json_t **records = wr->n ? calloc(wr->n, sizeof *records) : NULL;
        size_t parsed = 0;
        for (size_t i = 0; records && i < wr->n; i++) {
            json_t *r = json_loads(wr->bodies[i], 0, NULL);
            if (r)
                records[parsed++] = r;
        }
        if (parsed > 0 &&
            diagnose_worker(job->names[k], records, parsed, &job->diags[job->n_diags]) == 0 &&
            job->diags[job->n_diags].records > 0)
            job->n_diags++;
        for (size_t i = 0; i < parsed; i++)
            json_decref(records[i]);
        free(records);
    }
    if (job->n_diags == 0 ||
        diagnosis_headline_of(job->diags, job->n_diags, job->server_cut_off, &job->headline) != 0)
        job->n_diags = 0;
    else if (job->n_diags == 1 && job->headline.place != DIAGNOSIS_PLACE_SERVER_UPLINK)
        worker_diagnosis_text(&job->diags[0], job->text, sizeof job->text);
    else
        diagnosis_group_text(job->diags, job->n_diags, &job->headline, job->text, sizeof job->text);
}

/* before: the diagnosis of the follow-up sent before (NULL: none), whose messages this one
 * corrects. */
static void save_followup(struct followup_job *job, const json_t *before)
{
    bool correction = before != NULL;
    struct followup *f = job->f;
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)job->inc.id);
    json_t *diag = diagnosis_json(job);
    if (job->inc.closed_ms <= 0)
        json_object_set(f->by_incident, key, diag);
    char *evidence = evidence_with(job->evidence, diag);
    json_decref(diag);
    struct incident_record rec = job->inc;
    rec.evidence_json = evidence;
    rec.updated_ms = clock_wall_ms();
    char message[FOLLOWUP_TEXT_MAX + 128];
    snprintf(message, sizeof message, "🔎 %s incident #%lld (%s):\n%s",
             correction ? "Correction to the follow-up on" : "Follow-up on", (long long)rec.id,
             rec.classification, job->text);
    char subject[64], name[24];
    snprintf(subject, sizeof subject, "%s incident #%lld",
             correction ? "Correction to the follow-up on" : "Follow-up on", (long long)rec.id);
    snprintf(name, sizeof name, "%lld", (long long)rec.id);
    struct label cls = {"class", rec.classification};
    struct alert_message msg = {.kind = ALERT_KIND_FOLLOWUP,
                                .severity = ALERT_SEVERITY_INFO,
                                .name = name,
                                .subject = subject,
                                .text = message,
                                .labels = &cls,
                                .n_labels = 1,
                                .created_ms = rec.updated_ms};
    struct alert_batch batch = {0};
    alert_route(f->router, &msg, &batch);
    for (size_t i = 0; correction && i < batch.n; i++)
        batch.rows[i].replaces = json_integer_value(
            json_object_get(json_object_get(before, "messages"), batch.rows[i].channel));
    log_info("server: follow-up on incident %lld: %s", (long long)rec.id, job->text);
    store_save_incident(f->store, &rec, batch.rows, batch.n, on_followup_saved, f);
    alert_batch_free(&batch);
    free(evidence);
}

/* Some worker recorded at least one diagnosis (not only failed heartbeats). */
static bool any_diagnostics(const struct followup_job *job)
{
    for (size_t i = 0; i < job->n_diags; i++)
        if (job->diags[i].diagnoses > 0)
            return true;
    return false;
}

/* Loop: the diagnosis is done. The first follow-up goes out once every worker has uploaded or
 * the wait is over, and never without diagnostics; after it, only a changed headline is sent,
 * as a correction. Dropped when the server is stopping. */
static void on_diagnosed(uv_work_t *work, int status)
{
    struct followup_job *job = work->data;
    struct followup *f = job->f;
    json_t *before = sent_before(job);
    bool sent = before != NULL;
    const char *told = json_string_value(json_object_get(before, "headline"));
    bool all_uploaded = job->n_diags == job->n_names;
    bool useful = status == 0 && !f->closing && any_diagnostics(job);
    if (useful && !sent && (all_uploaded || job->due))
        save_followup(job, NULL);
    else if (useful && sent && strcmp(told ? told : "", diagnosis_place_id(job->headline.place)))
        save_followup(job, before);
    json_decref(before);
    if (sent || job->due || (useful && all_uploaded))
        unwatch(f, job->inc.id);
    job_free(job);
}

/* Every worker's records are in: diagnose them off the loop. */
static void job_records_read(struct followup_job *job)
{
    job->work.data = job;
    if (job->f->closing ||
        uv_queue_work(job->f->timer.loop, &job->work, diagnose_job, on_diagnosed) != 0)
        job_free(job);
}

/* ---- step 2: each worker's records ------------------------------------------------------------
 */

struct worker_read {
    struct followup_job *job;
    size_t index;
};

/* Copies the record bodies into the job; false when out of memory. */
static bool keep_bodies(struct worker_records *wr, const struct diag_record *recs, size_t n)
{
    wr->bodies = n ? calloc(n, sizeof *wr->bodies) : NULL;
    for (size_t i = 0; wr->bodies && i < n; i++)
        if (recs[i].body_json && (wr->bodies[wr->n] = strdup(recs[i].body_json)))
            wr->n++;
    return n == 0 || wr->bodies;
}

static void on_worker_records(int status, const struct diag_record *recs, size_t n, void *ctx)
{
    struct worker_read *rd = ctx;
    struct followup_job *job = rd->job;
    if (status == 0 && !keep_bodies(&job->records[rd->index], recs, n))
        log_error("server: out of memory reading the records of %s", job->names[rd->index]);
    free(rd);
    if (++job->answered == job->n_names)
        job_records_read(job);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void job_start(struct followup *f, const struct incident_record *inc, bool due)
{
    struct followup_job *job = calloc(1, sizeof *job);
    json_t *workers =
        job ? json_loads(inc->workers_json ? inc->workers_json : "[]", 0, NULL) : NULL;
    json_t *ev = json_loads(inc->evidence_json ? inc->evidence_json : "{}", 0, NULL);
    bool cut_off = json_is_true(json_object_get(ev, "canary_driven"));
    json_decref(ev);
    if (!workers) {
        free(job);
        return;
    }
    f->jobs++;
    f->pass_steps++;
    job->f = f;
    job->due = due;
    job->server_cut_off = cut_off;
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
    /* The text lists the workers by name, not in the order they went DOWN (which was a race
     * when several stopped at once). */
    qsort(job->names, job->n_names, sizeof job->names[0], compare_names);
    /* The records of the outage: from a FAIL_TIMEOUT before it opened (the agents noticed
     * before the server did) to its close, or now. */
    struct diag_query q = {.limit = FOLLOWUP_RECORDS,
                           .since_ms = inc->opened_ms - f->settings.fail_timeout_ms - 60000,
                           .until_ms = inc->closed_ms > 0 ? inc->closed_ms + 60000 : 0,
                           .oldest_first = 1};
    size_t n_names = job->n_names;
    for (size_t k = 0; k < n_names; k++) {
        struct worker_read *wr = malloc(sizeof *wr);
        if (!wr) {
            if (++job->answered == job->n_names)
                job_records_read(job);
            continue;
        }
        *wr = (struct worker_read){.job = job, .index = k};
        q.worker = job->names[k];
        store_query_diagnostics(f->store, &q, on_worker_records, wr);
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
static int64_t fit_distance(const struct followup_settings *set, const struct incident_record *inc,
                            const struct followup_worker *w)
{
    int64_t down_at = incident_down_at(inc, w->name);
    if (down_at < 0 || down_at > w->last_ms + set->fail_timeout_ms + set->window_ms)
        return -1;
    if (inc->closed_ms > 0 && inc->closed_ms + 60000 < w->first_ms)
        return -1;
    int64_t d = down_at - (w->first_ms + set->fail_timeout_ms);
    return d < 0 ? -d : d;
}

struct incidents_read {
    struct followup *f;
    struct followup_worker *workers;
    size_t n;
    int64_t asked_ms; /* wall time of the query: what was due then is what it covers */
};

static void on_recent_incidents(int status, const struct incident_record *incs, size_t n, void *ctx)
{
    struct incidents_read *rd = ctx;
    struct followup *f = rd->f;
    /* Each worker's best fitting incident; each incident diagnosed once. */
    bool *chosen = !f->closing ? calloc(n ? n : 1, sizeof *chosen) : NULL;
    for (size_t w = 0; status == 0 && chosen && w < rd->n; w++) {
        size_t best = n;
        int64_t best_d = -1;
        for (size_t i = 0; i < n; i++) {
            int64_t d = fit_distance(&f->settings, &incs[i], &rd->workers[w]);
            if (d >= 0 && (best == n || d < best_d)) {
                best = i;
                best_d = d;
            }
        }
        if (best < n)
            chosen[best] = true;
    }
    /* Due means due when the query was made: a wait that ended while the store answered was
     * not covered by since_ms, so it is neither started nor given up here but by the next pass
     * (the timer can fire a few ms before a wall-clock deadline: libuv's time is cached). */
    int64_t now = rd->asked_ms;
    for (size_t i = 0; chosen && i < n; i++) {
        struct followup_watch *w = find_watched(f, incs[i].id);
        if (!chosen[i] && !(w && now >= w->deadline_ms))
            continue;
        if (!w && incs[i].closed_ms > 0) /* e.g. closed before a restart */
            watch(f, incs[i].id, incs[i].closed_ms + f->settings.wait_ms);
        w = find_watched(f, incs[i].id);
        job_start(f, &incs[i], w && now >= w->deadline_ms);
    }
    /* a watched incident no longer among the recent ones is given up */
    for (size_t k = 0; chosen && k < f->n_watched;) {
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            found = incs[i].id == f->watched[k].id;
        if (!found && now >= f->watched[k].deadline_ms)
            f->watched[k] = f->watched[--f->n_watched];
        else
            k++;
    }
    free(chosen);
    free(rd->workers);
    free(rd);
    pass_step_done(f);
    job_done(f);
}

static void on_followup_timer(uv_timer_t *t)
{
    struct followup *f = t->data;
    struct incidents_read *rd = calloc(1, sizeof *rd);
    if (!rd || !(rd->workers = malloc(f->n_pending * sizeof *rd->workers + 1))) {
        free(rd);
        f->n_pending = 0;
        f->n_watched = 0;
        return;
    }
    rd->f = f;
    rd->n = f->n_pending;
    memcpy(rd->workers, f->pending, f->n_pending * sizeof *rd->workers);
    int64_t since = INT64_MAX, now = clock_wall_ms();
    for (size_t i = 0; i < rd->n; i++)
        if (rd->workers[i].first_ms < since)
            since = rd->workers[i].first_ms;
    for (size_t i = 0; i < f->n_watched; i++) {
        int64_t closed = f->watched[i].deadline_ms - f->settings.wait_ms;
        if (now >= f->watched[i].deadline_ms && closed < since)
            since = closed;
    }
    f->n_pending = 0;
    rd->asked_ms = now;
    /* since_ms matches incidents opened or updated since: a closed one was updated at close. */
    struct incident_query q = {.limit = FOLLOWUP_INCIDENTS, .since_ms = since - 60000};
    f->jobs++;
    f->pass_steps++;
    store_query_incidents(f->store, &q, on_recent_incidents, rd);
}
