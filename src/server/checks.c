/* checks.c — the server's check engine (checks.h): the checks sorted by name, each scheduled on
 * one heap (check/schedule.h) and run through check/runner.h; results folded into a state per
 * runner with the thresholds, then across runners by quorum; state changes written as events
 * and handed to the notification path in one function (check_state_changed); the views and
 * actions of the API. CHECKS_DIR is checks_files.c, the API's own checks checks_api.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "alert/outbox.h"
#include "alert/router.h"
#include "base/clock.h"
#include "base/log.h"
#include "server/dependencies.h"
#include "server/checks_internal.h"
#include "store/store.h"

#define ALERTERS_MAX 16

/* ---- the set -------------------------------------------------------------------------------- */

int checks_by_name(const void *a, const void *b)
{
    return strcmp((*(struct check *const *)a)->def->name, (*(struct check *const *)b)->def->name);
}

struct check *checks_find(const struct checks *c, const char *name)
{
    for (size_t lo = 0, hi = c->n; lo < hi;) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp(name, c->all[mid]->def->name);
        if (cmp == 0)
            return c->all[mid];
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* spread_ms: over how long the first runs of the checks scheduled together are spread. */
void checks_schedule_check(struct check *k, uint64_t spread_ms)
{
    k->owner->generation++;
    if (k->enabled && k->def->on_server)
        schedule_add(k->owner->schedule, &k->entry, k->def->name, (uint64_t)k->def->interval_ms,
                     spread_ms);
    else
        schedule_remove(k->owner->schedule, &k->entry);
}

/* A new check for def (taken). */
struct check *checks_new_check(struct checks *c, struct checkdef *def)
{
    struct check *k = calloc(1, sizeof *k);
    if (!k) {
        checkdef_free(def);
        return NULL;
    }
    *k = (struct check){.owner = c,
                        .def = def,
                        .enabled = checks_enabled_for(c, def),
                        .state = CHECK_UNKNOWN,
                        .since_ms = clock_wall_ms()};
    return k;
}

void checks_free_check(struct check *k)
{
    k->owner->generation++;
    checks_agents_free_check(k);
    schedule_remove(k->owner->schedule, &k->entry);
    runner_cancel(k->run);
    for (size_t i = 0; i < k->ring_n; i++)
        free(k->ring[i].message);
    free(k->ring);
    free(k->message);
    free(k->last_result);
    checkdef_free(k->def);
    free(k);
}

/* ---- state ---------------------------------------------------------------------------------- */

bool checks_runner_apply(struct runner_state *rs, enum check_state r, const struct checkdef *d)
{
    if (r == CHECK_OK) {
        rs->fails = 0;
        rs->successes++;
        if (rs->decided && rs->state == CHECK_OK)
            return false;
        if (rs->decided && rs->successes < d->success_threshold)
            return false;
    } else {
        rs->successes = 0;
        rs->fails++;
        if (rs->decided && rs->state == r)
            return false;
        /* from OK (or nothing yet) it takes fail_threshold; between failing states, at once */
        bool failing = rs->decided && rs->state != CHECK_OK;
        if (!failing && rs->fails < d->fail_threshold)
            return false;
    }
    rs->state = r;
    rs->decided = true;
    return true;
}

/* A few critical runners (fewer than the quorum) make a WARNING. */
enum check_state checks_fold_runners(const struct runner_state *const *rs, size_t n, int quorum)
{
    size_t critical = 0, warning = 0, ok = 0, undecided = 0;
    for (size_t i = 0; i < n; i++) {
        undecided += !rs[i]->decided;
        if (!rs[i]->decided)
            continue;
        critical += rs[i]->state == CHECK_CRITICAL;
        warning += rs[i]->state == CHECK_WARNING;
        ok += rs[i]->state == CHECK_OK;
    }
    if (quorum > 0 ? critical >= (size_t)quorum : critical * 2 > n)
        return CHECK_CRITICAL;
    if (critical || warning)
        return CHECK_WARNING;
    /* runners that have not decided yet (an agent's first result) do not make a WARNING */
    return ok && ok + undecided == n ? CHECK_OK : (ok ? CHECK_WARNING : CHECK_UNKNOWN);
}

static void on_change_committed(int status, const struct event_record *ev,
                                const struct outbox_record *msgs, size_t n_msgs, void *ctx)
{
    struct outbox *const *outbox = ctx;
    if (status != 0) {
        log_error("checks: the state change of %s could not be stored; it is not told", ev->worker);
        return;
    }
    if (outbox && *outbox && n_msgs)
        outbox_enqueue(*outbox, msgs, n_msgs);
}

/* The notification's text: "CRITICAL: api (http https://api.example.com/): [STATUS] == 200
 * failed: 503", "OK: api again after 2m 5s (was critical)". */
static void change_text(const struct check *k, enum check_state from, int64_t from_since,
                        char *text, size_t len)
{
    static const char *const upper[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
    char buf[512];
    const char *target = checkdef_member_text(k->def, "target", buf, sizeof buf) ? buf : NULL;
    if (k->state == CHECK_OK) {
        int64_t s = (k->since_ms - from_since) / 1000;
        snprintf(text, len, "OK: %s (%s%s%s) again after %lldm %llds (was %s)", k->def->name,
                 k->def->type->name, target ? " " : "", target ? target : "", (long long)(s / 60),
                 (long long)(s % 60), check_state_name(from));
    } else {
        snprintf(text, len, "%s: %s (%s%s%s): %s", upper[k->state], k->def->name,
                 k->def->type->name, target ? " " : "", target ? target : "",
                 k->message ? k->message : "");
    }
}

/* The channels the check's alerters.warning or alerters.critical name for state (borrowed from
 * def, its definition) into names; returns how many. */
static size_t check_alerters(const struct check *k, const json_t *def, const char **names,
                             size_t max)
{
    json_t *list = json_object_get(json_object_get(def, "alerters"), check_state_name(k->state));
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (json_is_string(v) && n < max)
            names[n++] = json_string_value(v);
    }
    return n;
}

/* The check's tags as labels (borrowed from def, its definition); returns how many. */
static size_t check_labels(const json_t *def, struct label *labels, size_t max)
{
    const char *key;
    json_t *v;
    size_t n = 0;
    json_object_foreach(json_object_get(def, "tags"), key, v)
    {
        if (json_is_string(v) && n < max)
            labels[n++] = (struct label){key, json_string_value(v)};
    }
    return n;
}

/* The change as an alert: a problem (warning, critical; unknown counts as warning) or, back to
 * OK, the resolve of "check:NAME", with the check's tags as labels. */
static void route_change(struct checks *c, struct check *k, const char *text,
                         struct alert_batch *batch)
{
    json_t *def = checkdef_json(k->def);
    char subject[CHECK_NAME_MAX + 48], key[CHECK_NAME_MAX + 8];
    const char *alerters[ALERTERS_MAX];
    struct label labels[ALERT_LABELS_MAX];
    if (k->flap.flapping)
        snprintf(subject, sizeof subject, "%s is flapping", k->def->name);
    else
        snprintf(subject, sizeof subject, "%s is %s", k->def->name, check_state_name(k->state));
    snprintf(key, sizeof key, "check:%s", k->def->name);
    struct alert_message msg = {
        .kind = ALERT_KIND_CHECK,
        .severity = k->flap.flapping           ? ALERT_SEVERITY_WARNING
                    : k->state == CHECK_CRITICAL ? ALERT_SEVERITY_CRITICAL
                    : k->state == CHECK_OK       ? ALERT_SEVERITY_INFO
                                                 : ALERT_SEVERITY_WARNING,
        .resolve = k->state == CHECK_OK && !k->flap.flapping,
        .name = k->def->name,
        .subject = subject,
        .text = text,
        .labels = labels,
        .n_labels = check_labels(def, labels, ALERT_LABELS_MAX),
        .dedup_key = key,
        .created_ms = k->since_ms,
        .channels = alerters,
        .n_channels = check_alerters(k, def, alerters, ALERTERS_MAX),
    };
    alert_route(c->opts.router, &msg, batch);
    json_decref(def);
}

/* Why k's problem is not told now, into why (len bytes): the name of a check of its depends_on
 * that is failing, "server" while the server itself is cut off (the monitor's fault, not the
 * target's), "incident:ID" while an incident cut off the only site it runs from (its id in
 * *incident); NULL when nothing holds it back. */
static const char *held_back_by(const struct checks *c, const struct check *k, char *why,
                                size_t len, int64_t *incident)
{
    *incident = 0;
    if (c->opts.cut_off && c->opts.cut_off(c->opts.cut_off_ctx))
        return "server";
    const char *held = NULL;
    json_t *def = checkdef_json(k->def);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(def, "depends_on"), i, v)
    {
        const struct check *p = json_is_string(v) ? checks_find(c, json_string_value(v)) : NULL;
        if (!held && p && p != k && (p->state == CHECK_CRITICAL || p->state == CHECK_WARNING))
            held = p->def->name;
    }
    json_decref(def);
    if (held)
        return held;
    const char *site = c->opts.site_outage ? checks_only_site(k) : NULL;
    *incident = site ? c->opts.site_outage(site, c->opts.site_outage_ctx) : 0;
    if (*incident <= 0)
        return NULL;
    snprintf(why, len, "incident:%lld", (long long)*incident);
    return why;
}

/* Whether k lists name in its depends_on. */
static bool depends_on(const struct check *k, const char *name)
{
    bool found = false;
    json_t *def = checkdef_json(k->def);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(def, "depends_on"), i, v)
    {
        found = found || (json_is_string(v) && strcmp(json_string_value(v), name) == 0);
    }
    json_decref(def);
    return found;
}

/* Appends to a parent's text what depends on it and is held back: workers (DOWN, not told:
 * dependencies.h), then checks (failing, not told), in one "Held back, depending on it:" list. */
static void append_dependents(struct checks *c, const struct check *parent, char *text,
                              size_t len)
{
    size_t before = strlen(text);
    dependencies_append_held(c->opts.deps, parent->def->name, text, len);
    size_t used = strlen(text);
    bool first = used == before;
    /* Scanning 100,000 checks at every change of thousands failing together stalled the loop
     * for seconds: no check held, no scan. */
    size_t n_checks = c->held_at_most ? c->n : 0, held = 0;
    for (size_t i = 0; i < n_checks && used + 1 < len; i++) {
        const struct check *k = c->all[i];
        held += k->held;
        if (!k->held || k->state == CHECK_OK || !depends_on(k, parent->def->name))
            continue;
        int w = snprintf(text + used, len - used, "%s%s",
                         first ? "\nHeld back, depending on it: " : ", ", k->def->name);
        used += w > 0 ? (size_t)w : 0;
        first = false;
    }
    if (n_checks && used + 1 < len) /* the scan went through every check */
        c->held_at_most = held;
}

/* The notice of a check that starts flapping (one, then quiet) or is stable again (with its
 * state: OK resolves what was told). */
static void flap_text(const struct check *k, enum flap_change flap, char *text, size_t len)
{
    if (flap == FLAP_STARTED)
        snprintf(text, len,
                 "FLAPPING: %s changed state in %.0f%% of its last %d results (now %s: %s); "
                 "quiet until it is stable",
                 k->def->name, k->flap.percent, FLAP_WINDOW, check_state_name(k->state),
                 k->message ? k->message : "ok");
    else
        snprintf(text, len, "STABLE: %s is no longer flapping; it is %s%s%s", k->def->name,
                 check_state_name(k->state), k->message ? ": " : "", k->message ? k->message : "");
}

static void on_notice_committed(int status, const struct event_record *ev,
                                const struct outbox_record *msgs, size_t n_msgs, void *ctx)
{
    if (status != 0)
        log_error("checks: a notice could not be stored; it is not told");
    else if (ctx && *(struct outbox *const *)ctx && n_msgs)
        outbox_enqueue(*(struct outbox *const *)ctx, msgs, n_msgs);
}

/* The group of k's alerts: its target, else its tags ("team=db,tier=1"), into key; false when
 * it has neither (its alerts go at once). */
static bool group_key(const struct check *k, char *key, size_t len)
{
    json_t *def = checkdef_json(k->def);
    const char *target = json_string_value(json_object_get(def, "target"));
    const char *tag;
    json_t *v;
    size_t used = 0;
    key[0] = '\0';
    if (target && target[0])
        snprintf(key, len, "%s", target);
    else
        json_object_foreach(json_object_get(def, "tags"), tag, v)
        {
            int w = snprintf(key + used, used < len ? len - used : 0, "%s%s=%s", used ? "," : "",
                             tag, json_string_value(v) ? json_string_value(v) : "");
            used += w > 0 ? (size_t)w : 0;
        }
    json_decref(def);
    return key[0] != '\0';
}

/* Holds k's addressed alerts in their group (GROUP_WAIT) when it has one and grouping is on:
 * they are written with the event all the same, and the outbox sends them at the group's
 * deadline, merged (alert/group.h). */
static void group_alerts(struct checks *c, const struct check *k, struct alert_batch *batch)
{
    char key[512];
    if (c->groups && batch->n && group_key(k, key, sizeof key) &&
        alert_groups_hold(c->groups, key, batch->rows[0].resolve, clock_wall_ms(), batch) != 0)
        log_error("checks: out of memory grouping %s; sent ungrouped", key);
}

/* k's open problem, if told, is not reminded of while it is held back or flapping. */
static void quiet_reminders(struct checks *c, const struct check *k)
{
    char key[CHECK_NAME_MAX + 8];
    snprintf(key, sizeof key, "check:%s", k->def->name);
    alert_router_quiet(c->opts.router, key);
}

/* A decided result that kept the check's state: flapping may end here (one "stable" notice),
 * or a problem held back is told now that nothing holds it (its parent is up, the server
 * connected again). Reminders are the router's (alert_router_remind). */
static void check_state_kept(struct checks *c, struct check *k, int64_t now)
{
    if (k->state == CHECK_UNKNOWN)
        return;
    char text[1024];
    bool stopped = flap_update(&k->flap, false, now, NULL) == FLAP_STOPPED;
    char why[48];
    int64_t incident;
    bool release =
        !stopped && k->held && !k->flap.flapping && !held_back_by(c, k, why, sizeof why, &incident);
    if (!stopped && !release)
        return;
    if (stopped)
        flap_text(k, FLAP_STOPPED, text, sizeof text);
    else
        change_text(k, CHECK_OK, k->since_ms, text, sizeof text);
    k->held = false;
    k->held_incident = 0;
    struct alert_batch batch = {0};
    route_change(c, k, text, &batch);
    log_info("checks: %s is %s, told now (%s)", k->def->name, check_state_name(k->state),
             stopped ? "stable again" : "no longer held back");
    group_alerts(c, k, &batch);
    store_append_messages(c->opts.store, batch.rows, batch.n, on_notice_committed,
                          (void *)c->opts.outbox);
    alert_batch_free(&batch);
}

/* The one place a check's state change goes: an event with its notifications, written first
 * (the outbox sends them once committed), addressed by the alert router. While the check flaps
 * (flap.h) its changes are recorded ("flapping": true) and not told: one notice when it starts,
 * one when it is stable again. */
static void check_state_changed(struct checks *c, struct check *k, enum check_state from,
                                int64_t from_since, double latency_ms)
{
    char text[1024];
    struct alert_batch batch = {0};
    bool news = from != CHECK_UNKNOWN || k->state != CHECK_OK; /* a first OK is not news */
    enum flap_change flap =
        from == CHECK_UNKNOWN ? FLAP_SAME : flap_update(&k->flap, true, k->since_ms, NULL);
    char why[48];
    int64_t incident = 0;
    const char *held = k->state == CHECK_OK ? NULL : held_back_by(c, k, why, sizeof why, &incident);
    k->held = held != NULL;
    k->held_incident = incident;
    c->held_at_most += k->held;
    if (flap != FLAP_SAME && !held) {
        flap_text(k, flap, text, sizeof text);
        route_change(c, k, text, &batch);
    } else if (news && !k->flap.flapping && !held) {
        change_text(k, from, from_since, text, sizeof text);
        append_dependents(c, k, text, sizeof text);
        route_change(c, k, text, &batch);
    }
    if (held || k->flap.flapping) /* not reminded of while held back or flapping */
        quiet_reminders(c, k);
    group_alerts(c, k, &batch);
    json_t *d =
        json_pack("{ss ss ss sf ss}", "check", k->def->name, "from", check_state_name(from), "to",
                  check_state_name(k->state), "latency_ms", latency_ms, "runner",
                  k->def->run_on_tags ? "agents" : "server");
    if (k->message)
        json_object_set_new(d, "message", json_string(k->message));
    if (batch.silenced) /* recorded, not sent (alert_filters) */
        json_object_set_new(d, "silenced", json_true());
    if (k->flap.flapping)
        json_object_set_new(d, "flapping", json_true());
    if (held) /* recorded, told once nothing holds it back (check_state_kept) */
        json_object_set_new(d, "held_back_by", json_string(held));
    char *details = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    struct event_record ev = {
        .time_ms = k->since_ms, .kind = EVENT_CHECK_STATE, .details_json = details};
    snprintf(ev.worker, sizeof ev.worker, "%s", k->def->name);
    log_info("checks: %s is %s (was %s)%s%s", k->def->name, check_state_name(k->state),
             check_state_name(from), k->message ? ": " : "", k->message ? k->message : "");
    store_append_event(c->opts.store, NULL, &ev, batch.rows, batch.n, on_change_committed,
                       (void *)c->opts.outbox);
    alert_batch_free(&batch);
    free(details);
    if (k->state == CHECK_OK || k->state == CHECK_UNKNOWN) /* no longer failing: the workers it
                                                              held go after its own message */
        dependencies_up(c->opts.deps, k->def->name);
}

static void ring_add(struct check *k, const struct check_outcome *o, int64_t now)
{
    size_t cap = (size_t)k->owner->opts.history;
    if (!k->ring && !(k->ring = calloc(cap, sizeof *k->ring)))
        return; /* out of memory: the result is not kept in the history */
    struct check_result *slot = &k->ring[k->ring_next];
    if (k->ring_n == cap)
        free(slot->message);
    else
        k->ring_n++;
    *slot = (struct check_result){.time_ms = now,
                                  .latency_ms = o->latency_ms,
                                  .state = (unsigned)o->state,
                                  .message = o->message[0] ? strdup(o->message) : NULL};
    k->ring_next = (k->ring_next + 1) % cap;
}

static void on_run_done(const struct check_outcome *o, void *ctx)
{
    struct check *k = ctx;
    int64_t now = clock_wall_ms();
    k->run = NULL;
    ring_add(k, o, now);
    free(k->last_result);
    k->last_result = probe_result_copy(k->def->type, o->probe);
    free(k->message);
    k->message = o->message[0] ? strdup(o->message) : NULL;
    if (checks_runner_apply(&k->server, o->state, k->def) || k->n_agents)
        checks_fold(k, now, o->latency_ms);
    else
        check_state_kept(k->owner, k, now);
}

/* The folded state of k's runners: a change is told (check_state_changed), a kept state may
 * end flapping, release a held-back problem or remind (check_state_kept). */
void checks_set_state(struct check *k, enum check_state state, int64_t now, double latency_ms)
{
    if (state == k->state) {
        check_state_kept(k->owner, k, now);
        return;
    }
    enum check_state from = k->state;
    int64_t from_since = k->since_ms;
    k->state = state;
    k->since_ms = now;
    check_state_changed(k->owner, k, from, from_since, latency_ms);
}

static void check_start_run(struct check *k)
{
    if (k->run) { /* the previous run overran its interval: this slot is skipped */
        k->skipped++;
        k->owner->overran++;
        return;
    }
    k->runs++;
    k->run = runner_start(k->owner->opts.env, k->def, on_run_done, k);
}

static void on_due(struct schedule_entry *e, void *ctx)
{
    check_start_run((struct check *)e);
}

struct checks_stats checks_stats(const struct checks *c)
{
    struct schedule_stats s = schedule_stats(c->schedule);
    return (struct checks_stats){.scheduled = schedule_count(c->schedule),
                                 .runs = s.fired,
                                 .late = s.late,
                                 .skipped = s.skipped + c->overran};
}

/* The state a check had when the server stopped (its latest check_state event), so that what
 * was told before a restart is resolved after it. The server's runner takes it too when it is
 * the only runner (its thresholds go on from there); agents' runners start anew. */
static void restore_state(const struct event_record *ev, void *ctx)
{
    struct check *k = checks_find(ctx, ev->worker);
    json_t *d = k ? json_loads(ev->details_json, 0, NULL) : NULL;
    const char *to = json_string_value(json_object_get(d, "to"));
    int state = to ? check_state_find(to) : -1;
    const char *message = json_string_value(json_object_get(d, "message"));
    if (state >= 0) {
        k->state = (enum check_state)state;
        k->since_ms = ev->time_ms;
        free(k->message);
        k->message = message ? strdup(message) : NULL;
        k->held = state != CHECK_OK && json_object_get(d, "held_back_by");
        ((struct checks *)ctx)->held_at_most += k->held;
        if (k->held)
            quiet_reminders(ctx, k);
        if (state != CHECK_UNKNOWN && !k->def->run_on_tags)
            k->server = (struct runner_state){.state = (enum check_state)state, .decided = true};
    }
    json_decref(d);
}

/* Where an engine's generation starts: random, so that a restarted server's checks_version
 * differs from those agents hold from the last process, even when the same set loads again
 * (the set may have changed while the server was down). */
static uint64_t first_generation(void)
{
    uint64_t g;
    if (getrandom(&g, sizeof g, GRND_NONBLOCK) != (ssize_t)sizeof g)
        g = (uint64_t)clock_wall_ms() << 20;
    return g >> 1; /* room to count up */
}

struct checks *checks_open(const struct checks_options *opts, char *err, size_t errlen)
{
    struct checks *c = calloc(1, sizeof *c);
    if (!c || !(c->dir = strdup(opts->dir))) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->opts = *opts;
    c->generation = first_generation();
    if (c->opts.history < 1)
        c->opts.history = 1;
    c->errors = json_array();
    c->schedule = schedule_new(opts->loop, on_due, c);
    c->groups = alert_groups_new(opts->group_wait_ms);
    if (!c->schedule || !c->groups) {
        alert_groups_free(c->groups);
        free(c->dir);
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    uv_fs_event_init(opts->loop, &c->watcher);
    c->watcher.data = c;
    uv_timer_init(opts->loop, &c->reload_timer);
    c->reload_timer.data = c;
    checks_agents_start(c);
    if (c->opts.store && checks_load_stored(c, err, errlen) != 0) {
        checks_close(c);
        return NULL;
    }
    checks_watch_start(c);
    if (c->opts.store && store_load_check_states(c->opts.store, restore_state, c, err, errlen) != 0) {
        checks_close(c);
        return NULL;
    }
    return c;
}

void checks_free_closed(struct checks *c)
{
    if (!c->reading && !c->handles_open)
        free(c);
}

static void on_closed(uv_handle_t *h)
{
    struct checks *c = h->data; /* the reload timer closes after the watcher: the last handle */
    c->handles_open = false;
    checks_free_closed(c);
}

void checks_close(struct checks *c)
{
    if (!c)
        return;
    checks_writes_orphan(c);
    json_decref(c->overrides);
    alert_groups_free(c->groups); /* what it holds is in the store */
    for (size_t i = 0; i < c->n; i++)
        checks_free_check(c->all[i]);
    free(c->all);
    schedule_free(c->schedule);
    json_decref(c->errors);
    free(c->dir);
    uv_close((uv_handle_t *)&c->watcher, NULL);
    checks_agents_close(c);
    c->closed = true;
    c->handles_open = true;
    uv_close((uv_handle_t *)&c->reload_timer, on_closed);
}

/* ---- views and actions ---------------------------------------------------------------------- */

static json_t *iso_time(int64_t ms)
{
    char buf[CLOCK_ISO_LEN];
    clock_format_iso(ms, buf, sizeof buf);
    return json_string(buf);
}

json_t *checks_check_json(const struct check *k, bool with_results)
{
    const struct checkdef *d = k->def;
    json_t *o = json_pack("{ss ss so? sb ss so sI sI}", "name", d->name, "type", d->type->name,
                          "config", checkdef_json(d), "enabled", k->enabled, "state",
                          check_state_name(k->state), "since", iso_time(k->since_ms), "interval_ms",
                          (json_int_t)d->interval_ms, "timeout_ms", (json_int_t)d->timeout_ms);
    json_object_set_new(o, "source", json_string(d->file ? "file" : "api"));
    checks_enabled_json(k, o);
    if (d->file)
        json_object_set_new(o, "file", json_string(d->file));
    json_object_set_new(o, "message", k->message ? json_string(k->message) : json_null());
    if (d->run_on_tags)
        json_object_set_new(o, "runners", checks_runners_json(k));
    if (!with_results)
        return o;
    json_t *results = json_array();
    size_t cap = (size_t)k->owner->opts.history;
    for (size_t i = 0; i < k->ring_n; i++) { /* newest first */
        const struct check_result *r = &k->ring[(k->ring_next + cap - 1 - i) % cap];
        json_array_append_new(
            results, json_pack("{so ss sf so}", "time", iso_time(r->time_ms), "state",
                               check_state_name((enum check_state)r->state), "latency_ms", r->latency_ms, "message",
                               r->message ? json_string(r->message) : json_null()));
    }
    json_object_set_new(o, "results", results);
    json_t *last = k->last_result ? probe_result_copy_json(k->last_result) : NULL;
    json_object_set_new(o, "last_result", last ? last : json_null());
    json_object_set_new(o, "runs", json_integer((json_int_t)k->runs));
    json_object_set_new(o, "skipped", json_integer((json_int_t)k->skipped));
    return o;
}

/* tag: "NAME=VALUE" or "NAME" (any value). */
static bool has_tag(const struct checkdef *d, const char *tag)
{
    if (!strstr(d->text, "\"tags\":")) /* most checks: no need to read the definition */
        return false;
    json_t *def = checkdef_json(d);
    const json_t *tags = json_object_get(def, "tags");
    const char *eq = strchr(tag, '=');
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(eq ? (size_t)(eq - tag) : strlen(tag)), tag);
    const json_t *v = json_object_get(tags, name);
    bool has = v && (!eq || (json_is_string(v) && strcmp(json_string_value(v), eq + 1) == 0));
    json_decref(def);
    return has;
}

json_t *checks_list_json(struct checks *c, const char *state, const char *tag, const char *type)
{
    json_t *list = json_array();
    for (size_t i = 0; i < c->n; i++) {
        const struct check *k = c->all[i];
        if ((state && strcmp(state, check_state_name(k->state)) != 0) ||
            (type && strcmp(type, k->def->type->name) != 0) || (tag && !has_tag(k->def, tag)))
            continue;
        json_array_append_new(list, checks_check_json(k, false));
    }
    return json_pack("{so}", "checks", list);
}

json_t *checks_get_json(struct checks *c, const char *name)
{
    const struct check *k = checks_find(c, name);
    return k ? checks_check_json(k, true) : NULL;
}

json_t *checks_errors_json(struct checks *c)
{
    return json_pack("{sO}", "errors", c->errors);
}

size_t checks_held_by_incident(const struct checks *c, int64_t id, const char **names, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; c && i < c->n && n < max; i++)
        if (c->all[i]->held && c->all[i]->held_incident == id && c->all[i]->state != CHECK_OK)
            names[n++] = c->all[i]->def->name;
    return n;
}

bool checks_failing(const struct checks *c, const char *name, bool *exists)
{
    const struct check *k = checks_find(c, name);
    *exists = k != NULL;
    return k && (k->state == CHECK_CRITICAL || k->state == CHECK_WARNING);
}

int checks_run_now(struct checks *c, const char *name)
{
    struct check *k = checks_find(c, name);
    if (!k)
        return -1;
    check_start_run(k);
    return 0;
}
