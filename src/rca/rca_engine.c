/* rca_engine.c — the correlation engine's state and transitions (see rca.h): open incidents as
 * a list ordered by id, each with the workers that joined it in order of DOWN. The class is
 * recomputed from those workers on every change (rca_classify.c); every report carries the
 * incident as the store keeps it (rca_codec.c) and as its texts see it (rca_alert.c). */
#include "base/err.h"
#include "rca/rca.h"

#include <stdlib.h>
#include <string.h>

#include "rca/rca_classify.h"
#include "rca/rca_codec.h"
#include "rca/rca_state.h"

/* ---- worker and incident state ------------------------------------------------------------- */

bool rca_incident_canaries_hold(const struct rca_incident *inc)
{
    return inc->canary_driven && inc->canaries_ok_ms == 0;
}

bool rca_incident_worker_out(const struct rca_incident *inc, const struct rca_worker *w)
{
    return w->up_ms == 0 && (!w->unreachable || rca_incident_canaries_hold(inc));
}

void rca_incident_counts(const struct rca_incident *inc, int *down, int *unreachable)
{
    *down = *unreachable = 0;
    for (size_t i = 0; i < inc->n_workers; i++) {
        const struct rca_worker *w = &inc->workers[i];
        if (w->unreachable)
            (*unreachable)++;
        else if (w->up_ms == 0)
            (*down)++;
    }
}

struct rca_worker *rca_incident_add_worker(struct rca_incident *inc)
{
    if (inc->n_workers == inc->cap_workers) {
        size_t cap = inc->cap_workers ? inc->cap_workers * 2 : 8;
        struct rca_worker *grown = realloc(inc->workers, cap * sizeof *grown);
        if (!grown)
            return NULL;
        inc->workers = grown;
        inc->cap_workers = cap;
    }
    struct rca_worker *w = &inc->workers[inc->n_workers++];
    memset(w, 0, sizeof *w);
    return w;
}

void rca_incident_free(struct rca_incident *inc)
{
    if (!inc)
        return;
    json_decref(inc->canary_evidence);
    free(inc->workers);
    free(inc);
}

static bool incident_done(const struct rca_incident *inc)
{
    if (rca_incident_canaries_hold(inc))
        return false;
    if (inc->n_workers == 0)
        return inc->canary_driven;
    for (size_t i = 0; i < inc->n_workers; i++) {
        if (rca_incident_worker_out(inc, &inc->workers[i]))
            return false;
    }
    return true;
}

/* The open incident that takes new workers at now_ms: the newest, while its window is open. */
static struct rca_incident *accepting(struct rca *rca, int64_t now_ms)
{
    struct rca_incident *last = rca->incidents;
    while (last && last->next)
        last = last->next;
    return last && now_ms < last->window_end_ms ? last : NULL;
}

/* Where name is out (not back) in an open incident, newest first. */
static struct rca_worker *find_out(struct rca *rca, const char *name, struct rca_incident **in)
{
    struct rca_worker *found = NULL;
    for (struct rca_incident *inc = rca->incidents; inc; inc = inc->next) {
        for (size_t i = 0; i < inc->n_workers; i++) {
            if (strcmp(inc->workers[i].name, name) == 0 &&
                rca_incident_worker_out(inc, &inc->workers[i])) {
                found = &inc->workers[i];
                *in = inc;
            }
        }
    }
    return found;
}

static struct rca_worker *find_in(struct rca_incident *inc, const char *name)
{
    for (size_t i = 0; i < inc->n_workers; i++) {
        if (strcmp(inc->workers[i].name, name) == 0)
            return &inc->workers[i];
    }
    return NULL;
}

static bool is_open(const struct rca *rca, int64_t id)
{
    for (const struct rca_incident *inc = rca->incidents; inc; inc = inc->next) {
        if (inc->id == id)
            return true;
    }
    return false;
}

static void insert_incident(struct rca *rca, struct rca_incident *inc)
{
    struct rca_incident **at = &rca->incidents;
    while (*at && (*at)->id < inc->id)
        at = &(*at)->next;
    inc->next = *at;
    *at = inc;
}

static void unlink_incident(struct rca *rca, struct rca_incident *inc)
{
    for (struct rca_incident **at = &rca->incidents; *at; at = &(*at)->next) {
        if (*at == inc) {
            *at = inc->next;
            return;
        }
    }
}

/* A new empty incident with the next id, or NULL with err. */
static struct rca_incident *open_incident(struct rca *rca, int64_t now_ms, char *err, size_t errlen)
{
    int64_t id = rca->next_id(rca->id_ctx);
    if (id < 1 || is_open(rca, id)) {
        err_set(err, errlen, "rca: the id source gave %lld, which is %s", (long long)id,
                id < 1 ? "not >= 1" : "already open");
        return NULL;
    }
    struct rca_incident *inc = calloc(1, sizeof *inc);
    if (!inc) {
        err_set(err, errlen, "rca: out of memory");
        return NULL;
    }
    inc->id = id;
    inc->opened_ms = inc->updated_ms = now_ms;
    inc->window_end_ms = now_ms + rca->cfg.window_ms;
    insert_incident(rca, inc);
    return inc;
}

/* ---- reporting ----------------------------------------------------------------------------- */

/* Hands one change to the callback, with the incident's record and text view built for it.
 * notify_down lists the names whose per-worker DOWN text is due (borrowed). */
static void report(struct rca *rca, struct rca_incident *inc, enum incident_change change,
                   enum incident_class previous_class, int previous_workers,
                   const char *const *notify_down, size_t n_notify_down)
{
    if (change != INCIDENT_RECLASSIFIED)
        previous_class = inc->verdict.cls;
    if (change != INCIDENT_GREW)
        previous_workers = (int)inc->n_workers;
    struct rca_grouping g;
    if (rca_group_workers(inc->workers, inc->n_workers, &g) != 0)
        return;
    const struct rca_group *at_fault = rca_scope_group(inc->verdict.cls, &g);
    char label[RCA_LABEL_MAX] = "";
    if (at_fault)
        rca_scope_label(inc->workers, inc->n_workers, at_fault, label, sizeof label);
    struct rca_incident_view view = {
        .previous_class = previous_class,
        .announced = inc->announced,
        .workers = (int)inc->n_workers,
        .previous_workers = previous_workers,
        .notify_down = notify_down,
        .n_notify_down = n_notify_down,
    };
    rca_incident_counts(inc, &view.down, &view.unreachable);
    struct alert_incident *alert = rca_alert_new(inc, &g, label, previous_class, previous_workers);
    if (alert && rca_codec_encode(&rca->cfg, inc, &g, label, &view.record) == 0) {
        view.alert = alert;
        inc->dirty = false;
        rca->cb(change, &view, rca->ctx);
        rca_codec_record_free(&view.record);
    }
    rca_alert_free(alert);
    rca_grouping_free(&g);
}

/* A change with nothing to tell: reported now, or with others at most save_delay_ms later. */
static void mark_updated(struct rca *rca, struct rca_incident *inc)
{
    if (rca->cfg.save_delay_ms == 0) {
        report(rca, inc, INCIDENT_UPDATED, inc->told_cls, inc->told_workers, NULL, 0);
    } else if (!inc->dirty) {
        inc->dirty = true;
        inc->save_at_ms = inc->updated_ms + rca->cfg.save_delay_ms;
    }
}

static void reclassify(struct rca *rca, struct rca_incident *inc)
{
    struct rca_grouping g;
    if (rca_group_workers(inc->workers, inc->n_workers, &g) != 0)
        return;
    rca_classify(&rca->cfg, &g, inc->n_workers, inc->fleet, inc->canary_driven, &inc->verdict);
    rca_grouping_free(&g);
}

/* First message after the hold. For an individual incident, every worker that is out gets its
 * per-worker DOWN text now. */
static void announce(struct rca *rca, struct rca_incident *inc, int64_t now_ms)
{
    const char **notify = calloc(inc->n_workers ? inc->n_workers : 1, sizeof *notify);
    size_t n_notify = 0;
    for (size_t i = 0; notify && inc->verdict.cls == INCIDENT_INDIVIDUAL && i < inc->n_workers;
         i++) {
        struct rca_worker *w = &inc->workers[i];
        if (!w->unreachable && w->up_ms == 0 && !w->down_message) {
            w->down_message = true;
            notify[n_notify++] = w->name;
        }
    }
    inc->announced = true;
    inc->announce_at_ms = 0;
    inc->told_cls = inc->verdict.cls;
    inc->told_workers = (int)inc->n_workers;
    inc->told_ms = now_ms;
    inc->updated_ms = now_ms;
    report(rca, inc, INCIDENT_OPENED, inc->verdict.cls, (int)inc->n_workers, notify, n_notify);
    free(notify);
}

/* Closes it (reporting CLOSED and freeing it) when all its workers are back; otherwise
 * reports UPDATED. */
static void close_or_update(struct rca *rca, struct rca_incident *inc, int64_t now_ms)
{
    inc->updated_ms = now_ms;
    if (!incident_done(inc)) {
        mark_updated(rca, inc);
        return;
    }
    inc->closed_ms = now_ms;
    inc->announce_at_ms = 0;
    report(rca, inc, INCIDENT_CLOSED, inc->verdict.cls, (int)inc->n_workers, NULL, 0);
    unlink_incident(rca, inc);
    rca_incident_free(inc);
}

static bool grew_a_lot(const struct rca_incident *inc)
{
    int now = (int)inc->n_workers, told = inc->told_workers;
    return now - told >= 2 && 2 * (int64_t)now >= 3 * (int64_t)told;
}

/* An announced incident changed class or grew a lot since it was last told. */
static bool change_due(const struct rca_incident *inc)
{
    return inc->verdict.cls != inc->told_cls ||
           (inc->verdict.cls != INCIDENT_INDIVIDUAL && grew_a_lot(inc));
}

/* Tells the class change or the growth of an announced incident, if one is due; true if told. */
static bool tell_change(struct rca *rca, struct rca_incident *inc, int64_t now_ms)
{
    if (!change_due(inc))
        return false;
    enum incident_class told = inc->told_cls;
    int told_workers = inc->told_workers;
    enum incident_change change = inc->verdict.cls != told ? INCIDENT_RECLASSIFIED : INCIDENT_GREW;
    inc->told_cls = inc->verdict.cls;
    inc->told_workers = (int)inc->n_workers;
    inc->told_ms = now_ms;
    inc->tell_at_ms = 0;
    report(rca, inc, change, told, told_workers, NULL, 0);
    return true;
}

/* A class change or growth is due: told now, or once pace_ms has passed since the last message
 * (with the figures of then). */
static bool tell_change_paced(struct rca *rca, struct rca_incident *inc, int64_t now_ms)
{
    if (!change_due(inc))
        return false;
    if (now_ms >= inc->told_ms + rca->cfg.pace_ms)
        return tell_change(rca, inc, now_ms);
    if (inc->tell_at_ms == 0)
        inc->tell_at_ms = inc->told_ms + rca->cfg.pace_ms;
    return false;
}

/* After a worker joined (w) or the class may have changed (w NULL): the one report due. */
static void after_change(struct rca *rca, struct rca_incident *inc, struct rca_worker *w,
                         int64_t now_ms)
{
    reclassify(rca, inc);
    inc->updated_ms = now_ms;
    if (!inc->announced) {
        if (inc->announce_at_ms == 0 && inc->n_workers > 0)
            inc->announce_at_ms = inc->workers[0].down_ms + rca->cfg.hold_ms;
        if (inc->announce_at_ms != 0 && now_ms >= inc->announce_at_ms)
            announce(rca, inc, now_ms);
        else
            mark_updated(rca, inc);
        return;
    }
    enum incident_class cls = inc->verdict.cls, told = inc->told_cls;
    if (cls == told && cls == INCIDENT_INDIVIDUAL && w && !w->unreachable && !w->down_message) {
        w->down_message = true;
        const char *name = w->name;
        report(rca, inc, INCIDENT_UPDATED, told, inc->told_workers, &name, 1);
    } else if (!tell_change_paced(rca, inc, now_ms)) {
        mark_updated(rca, inc);
    }
}

/* ---- the public interface ------------------------------------------------------------------ */

int rca_new(const struct rca_config *cfg, rca_next_id_fn next_id, void *id_ctx, rca_change_cb cb,
            void *ctx, struct rca **out, char *err, size_t errlen)
{
    *out = NULL;
    if (cfg->window_ms < 0 || cfg->hold_ms < 0 || cfg->save_delay_ms < 0 || cfg->pace_ms < 0) {
        err_set(err, errlen,
                "rca: window_ms (%lld), hold_ms (%lld), save_delay_ms (%lld) and pace_ms (%lld) "
                "must be >= 0",
                (long long)cfg->window_ms, (long long)cfg->hold_ms, (long long)cfg->save_delay_ms,
                (long long)cfg->pace_ms);
        return -1;
    }
    if (cfg->threshold < 1) {
        err_set(err, errlen, "rca: threshold %d must be >= 1", cfg->threshold);
        return -1;
    }
    if (!(cfg->server_fraction > 0.0 && cfg->server_fraction <= 1.0)) {
        err_set(err, errlen, "rca: server_fraction %g must be in (0, 1]", cfg->server_fraction);
        return -1;
    }
    if (!next_id || !cb) {
        err_set(err, errlen, "rca: an id source and a change callback are required");
        return -1;
    }
    struct rca *rca = calloc(1, sizeof *rca);
    if (!rca) {
        err_set(err, errlen, "rca: out of memory");
        return -1;
    }
    *rca = (struct rca){.cfg = *cfg, .next_id = next_id, .id_ctx = id_ctx, .cb = cb, .ctx = ctx};
    *out = rca;
    return 0;
}

void rca_free(struct rca *rca)
{
    if (!rca)
        return;
    while (rca->incidents) {
        struct rca_incident *next = rca->incidents->next;
        rca_incident_free(rca->incidents);
        rca->incidents = next;
    }
    json_decref(rca->canary_evidence);
    free(rca);
}

/* The common path of a DOWN and of an unreachable hand-over. */
static int worker_joins(struct rca *rca, const char *name, const char *ip, const char *site,
                        int fleet, int64_t now_ms, bool unreachable, char *err, size_t errlen)
{
    struct rca_worker id = {0};
    if (rca_worker_identify(&id, name, ip, site, err, errlen) != 0)
        return -1;
    struct rca_incident *in;
    if (find_out(rca, id.name, &in))
        return 0;
    struct rca_incident *inc = accepting(rca, now_ms);
    bool opened = !inc;
    if (opened && !(inc = open_incident(rca, now_ms, err, errlen)))
        return -1;
    struct rca_worker *w = find_in(inc, id.name);
    if (!w && !(w = rca_incident_add_worker(inc))) {
        if (opened) {
            unlink_incident(rca, inc);
            rca_incident_free(inc);
        }
        err_set(err, errlen, "rca: out of memory");
        return -1;
    }
    *w = id;
    w->down_ms = now_ms;
    w->unreachable = unreachable;
    if (fleet > 0)
        inc->fleet = fleet;
    if (unreachable && !inc->canary_driven) {
        inc->canary_driven = true;
        inc->window_end_ms = INT64_MAX;
    }
    after_change(rca, inc, w, now_ms);
    return 0;
}

int rca_worker_down(struct rca *rca, const char *name, const char *ip, const char *site, int fleet,
                    int64_t now_ms, char *err, size_t errlen)
{
    return worker_joins(rca, name, ip, site, fleet, now_ms, false, err, errlen);
}

int rca_worker_unreachable(struct rca *rca, const char *name, const char *ip, const char *site,
                           int fleet, int64_t now_ms, char *err, size_t errlen)
{
    if (!rca->canaries_failing) {
        err_set(err, errlen, "rca: %s handed over as unreachable, but the canaries are not failing",
                name ? name : "");
        return -1;
    }
    return worker_joins(rca, name, ip, site, fleet, now_ms, true, err, errlen);
}

bool rca_worker_up(struct rca *rca, const char *name, int64_t now_ms)
{
    struct rca_incident *inc;
    struct rca_worker *w = name ? find_out(rca, name, &inc) : NULL;
    if (!w)
        return true;
    if (!inc->announced && inc->n_workers > 0)
        announce(rca, inc, now_ms);
    w->up_ms = now_ms;
    bool send_up = w->down_message && !w->unreachable;
    close_or_update(rca, inc, now_ms);
    return send_up;
}

static int parse_evidence(const char *text, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!text)
        return 0;
    json_error_t jerr;
    *out = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!*out) {
        err_set(err, errlen, "rca: canary evidence is not JSON: %s", jerr.text);
        return -1;
    }
    return 0;
}

int rca_canaries(struct rca *rca, bool failing, const char *evidence_json, int64_t now_ms,
                 char *err, size_t errlen)
{
    json_t *evidence;
    if (parse_evidence(evidence_json, &evidence, err, errlen) != 0)
        return -1;
    if (evidence) {
        json_decref(rca->canary_evidence);
        rca->canary_evidence = evidence;
    }
    if (failing == rca->canaries_failing)
        return 0;
    rca->canaries_failing = failing;
    rca->canaries_since_ms = now_ms;
    if (failing) {
        struct rca_incident *inc = accepting(rca, now_ms);
        if (!inc && !(inc = open_incident(rca, now_ms, err, errlen)))
            return -1;
        inc->canary_driven = true;
        inc->canaries_ok_ms = 0;
        inc->window_end_ms = INT64_MAX;
        json_decref(inc->canary_evidence);
        inc->canary_evidence = json_incref(rca->canary_evidence);
        after_change(rca, inc, NULL, now_ms);
        return 0;
    }
    struct rca_incident *next;
    for (struct rca_incident *inc = rca->incidents; inc; inc = next) {
        next = inc->next;
        if (!rca_incident_canaries_hold(inc))
            continue;
        inc->canaries_ok_ms = now_ms;
        inc->window_end_ms = now_ms;
        close_or_update(rca, inc, now_ms);
    }
    return 0;
}

void rca_tick(struct rca *rca, int64_t now_ms)
{
    for (struct rca_incident *inc = rca->incidents; inc; inc = inc->next) {
        if (inc->tell_at_ms != 0 && now_ms >= inc->tell_at_ms) {
            inc->tell_at_ms = 0;
            if (tell_change(rca, inc, now_ms))
                continue;
        }
        if (!inc->announced && inc->announce_at_ms != 0 && now_ms >= inc->announce_at_ms)
            announce(rca, inc, now_ms);
        else if (inc->dirty && now_ms >= inc->save_at_ms)
            report(rca, inc, INCIDENT_UPDATED, inc->told_cls, inc->told_workers, NULL, 0);
    }
}

void rca_flush(struct rca *rca)
{
    for (struct rca_incident *inc = rca->incidents; inc; inc = inc->next) {
        if (inc->dirty)
            report(rca, inc, INCIDENT_UPDATED, inc->told_cls, inc->told_workers, NULL, 0);
    }
}

int64_t rca_next_deadline(const struct rca *rca)
{
    int64_t next = RCA_NO_DEADLINE;
    for (const struct rca_incident *inc = rca->incidents; inc; inc = inc->next) {
        if (!inc->announced && inc->announce_at_ms != 0 && inc->announce_at_ms < next)
            next = inc->announce_at_ms;
        if (inc->dirty && inc->save_at_ms < next)
            next = inc->save_at_ms;
        if (inc->tell_at_ms != 0 && inc->tell_at_ms < next)
            next = inc->tell_at_ms;
    }
    return next;
}

int64_t rca_site_incident(const struct rca *rca, const char *site)
{
    for (const struct rca_incident *inc = rca->incidents; site && site[0] && inc; inc = inc->next) {
        if (inc->verdict.cls != INCIDENT_NETWORK && inc->verdict.cls != INCIDENT_WIDESPREAD)
            continue;
        for (size_t i = 0; i < inc->n_workers; i++) {
            const struct rca_worker *w = &inc->workers[i];
            if (w->up_ms == 0 && !w->unreachable && strcmp(w->site, site) == 0)
                return inc->id;
        }
    }
    return 0;
}

size_t rca_open_count(const struct rca *rca)
{
    size_t n = 0;
    for (const struct rca_incident *inc = rca->incidents; inc; inc = inc->next)
        n++;
    return n;
}

void rca_open_by_class(const struct rca *rca, size_t counts[INCIDENT_CLASS_COUNT])
{
    for (const struct rca_incident *inc = rca->incidents; inc; inc = inc->next)
        if ((unsigned)inc->verdict.cls < INCIDENT_CLASS_COUNT)
            counts[inc->verdict.cls]++;
}

int rca_restore(struct rca *rca, const struct incident_record *rec, char *err, size_t errlen)
{
    if (rec->closed_ms != 0)
        return 0;
    if (rec->id < 1) {
        err_set(err, errlen, "rca: incident id %lld must be >= 1", (long long)rec->id);
        return -1;
    }
    if (is_open(rca, rec->id)) {
        err_set(err, errlen, "rca: incident %lld is already open", (long long)rec->id);
        return -1;
    }
    struct rca_incident *inc = calloc(1, sizeof *inc);
    if (!inc) {
        err_set(err, errlen, "rca: out of memory");
        return -1;
    }
    if (rca_codec_decode(rec, inc, err, errlen) != 0) {
        rca_incident_free(inc);
        return -1;
    }
    reclassify(rca, inc);
    if (rca_incident_canaries_hold(inc)) {
        inc->window_end_ms = INT64_MAX;
        /* Until told otherwise, the canaries are taken to be failing still. */
        rca->canaries_failing = true;
        if (!rca->canary_evidence && inc->canary_evidence)
            rca->canary_evidence = json_incref(inc->canary_evidence);
    } else if (inc->canary_driven) {
        inc->window_end_ms = inc->canaries_ok_ms;
    } else {
        inc->window_end_ms = inc->opened_ms + rca->cfg.window_ms;
    }
    if (!inc->announced && inc->n_workers > 0)
        inc->announce_at_ms = inc->workers[0].down_ms + rca->cfg.hold_ms;
    /* a change not yet told before the restart is told a pace after the last save */
    inc->told_ms = inc->updated_ms;
    if (inc->announced && change_due(inc))
        inc->tell_at_ms = inc->told_ms + rca->cfg.pace_ms;
    insert_incident(rca, inc);
    return 0;
}
