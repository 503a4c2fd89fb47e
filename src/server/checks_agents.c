/* checks_agents.c — agents as runners of the server's checks (checks.h): the agents' labels
 * from their heartbeats (kept in the store, so an agent's results are taken after a restart
 * before its next heartbeat), their assignments and checks_version, their batches of results folded
 * per runner (thresholds) then across runners (quorum), runners that stop reporting swept out of
 * the count, and the message that names the failing locations and where their paths stop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "check/tags.h"
#include "probe/path.h"
#include "server/check_results.h"
#include "server/checks_internal.h"
#include "store/store.h"

#define STALE_SWEEP_MS 1000
#define LOCATIONS_TEXT_MAX 256

/* ---- the agents' labels ---------------------------------------------------------------------- */

static uint32_t fnv1a(uint32_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return (h ^ 0xffu) * 16777619u;
}

static struct check_agent *agent_find(const struct checks *c, const char *name)
{
    for (size_t lo = 0, hi = c->n_agents; lo < hi;) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp(name, c->agents[mid].name);
        if (cmp == 0)
            return &c->agents[mid];
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* A new entry for name, kept sorted; NULL when out of memory. */
static struct check_agent *agent_add(struct checks *c, const char *name)
{
    struct check_agent *grown = realloc(c->agents, (c->n_agents + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    c->agents = grown;
    size_t at = 0;
    while (at < c->n_agents && strcmp(c->agents[at].name, name) < 0)
        at++;
    memmove(&c->agents[at + 1], &c->agents[at], (c->n_agents - at) * sizeof *grown);
    c->n_agents++;
    c->agents[at] = (struct check_agent){0};
    snprintf(c->agents[at].name, sizeof c->agents[at].name, "%s", name);
    return &c->agents[at];
}

/* Sets agent name's labels (adding it when new); 1 when they changed, 0 when they did not, -1
 * with err when tags is not valid or out of memory. */
static int agent_learn(struct checks *c, const char *name, const char *site, const char *tags,
                       struct check_agent **out, char *err, size_t errlen)
{
    struct check_agent *a = *out = agent_find(c, name);
    if (a && strcmp(a->site, site) == 0 && strcmp(a->tags_text, tags) == 0)
        return 0;
    json_t *parsed = tags_parse(tags, site[0] ? site : NULL, err, errlen);
    if (!parsed)
        return -1;
    if (!a && !(a = *out = agent_add(c, name))) {
        json_decref(parsed);
        snprintf(err, errlen, "server out of memory");
        return -1;
    }
    json_decref(a->tags);
    a->tags = parsed;
    snprintf(a->site, sizeof a->site, "%s", site);
    snprintf(a->tags_text, sizeof a->tags_text, "%s", tags);
    a->tags_hash = fnv1a(fnv1a(2166136261u, site), tags);
    return 1;
}

static void on_labels_stored(int status, void *ctx)
{
    (void)ctx;
    if (status != 0)
        log_error("checks: an agent's labels could not be stored; after a restart its results "
                  "wait for its next heartbeat");
}

/* Keeps a's labels in the store, read back by checks_agents_load. */
static void labels_store(struct checks *c, const struct check_agent *a)
{
    json_t *o = json_pack("{ss ss}", "site", a->site, "tags", a->tags_text);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text && c->opts.store)
        store_save_check_record(c->opts.store, STORE_CHECK_AGENTS, a->name, text, clock_wall_ms(),
                                on_labels_stored, NULL);
    free(text);
    json_decref(o);
}

int checks_agent_seen(struct checks *c, const char *name, const char *site, const char *tags,
                      char *version, size_t versionlen, char *err, size_t errlen)
{
    struct check_agent *a;
    int changed = agent_learn(c, name, site, tags, &a, err, errlen);
    if (changed < 0)
        return -1;
    if (changed)
        labels_store(c, a);
    snprintf(version, versionlen, "%llx-%08x", (unsigned long long)c->generation,
             (unsigned)a->tags_hash);
    return 0;
}

static void on_labels_row(const char *name, const char *body, void *ctx)
{
    struct checks *c = ctx;
    json_t *o = json_loads(body, 0, NULL);
    const char *site = json_string_value(json_object_get(o, "site"));
    const char *tags = json_string_value(json_object_get(o, "tags"));
    struct check_agent *a;
    char err[256] = "not JSON with site and tags";
    if (!site || !tags || agent_learn(c, name, site, tags, &a, err, sizeof err) < 0)
        log_warn("checks: the stored labels of agent %s do not read (%s); its results wait for "
                 "its next heartbeat",
                 name, err);
    json_decref(o);
}

int checks_agents_load(struct checks *c, char *err, size_t errlen)
{
    return store_load_check_records(c->opts.store, STORE_CHECK_AGENTS, on_labels_row, c, err,
                                    errlen);
}

static bool runs_on(const struct check *k, const struct check_agent *a)
{
    return k->def->run_on_tags && tags_match(k->def->run_on_tags, a->tags);
}

static struct agent_runner *runner_of(struct check *k, const char *agent);

/* An agent took k: it is one of k's runners from now on (undecided until it reports, stale if
 * it never does), so the quorum counts it before its first result. */
static void assigned(struct check *k, const char *agent, int64_t now)
{
    size_t before = k->n_agents;
    struct agent_runner *r = runner_of(k, agent);
    if (r && k->n_agents > before)
        r->last_ms = now;
}

json_t *checks_agent_assignments(struct checks *c, const char *name)
{
    const struct check_agent *a = agent_find(c, name);
    if (!a)
        return NULL;
    char version[CHECKS_VERSION_MAX];
    snprintf(version, sizeof version, "%llx-%08x", (unsigned long long)c->generation,
             (unsigned)a->tags_hash);
    json_t *list = json_array();
    int64_t now = clock_wall_ms();
    for (size_t i = 0; i < c->n; i++) {
        struct check *k = c->all[i];
        if (!k->enabled || !runs_on(k, a))
            continue;
        json_t *def = checkdef_json(k->def);
        if (def)
            json_array_append_new(list, def);
        assigned(k, a->name, now);
    }
    return json_pack("{ss so}", "version", version, "checks", list);
}

/* ---- results ----------------------------------------------------------------------------------
 */

static struct agent_runner *runner_of(struct check *k, const char *agent)
{
    for (size_t i = 0; i < k->n_agents; i++)
        if (strcmp(k->agents[i].agent, agent) == 0)
            return &k->agents[i];
    struct agent_runner *grown = realloc(k->agents, (k->n_agents + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    k->agents = grown;
    struct agent_runner *r = &k->agents[k->n_agents++];
    *r = (struct agent_runner){.last_state = CHECK_UNKNOWN};
    snprintf(r->agent, sizeof r->agent, "%s", agent);
    return r;
}

/* true when applied; false when k does not run on a (ignored). */
static bool result_apply(struct check *k, const struct check_agent *a, const json_t *res,
                         int64_t now)
{
    if (!runs_on(k, a))
        return false;
    struct agent_runner *r = runner_of(k, a->name);
    if (!r)
        return false;
    const json_t *path = json_object_get(res, "path");
    if (!json_object_get(res, "state")) { /* a path alone: the runner's latest */
        json_decref(r->path);
        r->path = json_deep_copy(path);
        checks_fold(k, now, r->latency_ms);
        return true;
    }
    const json_t *message = json_object_get(res, "message");
    enum check_state state = check_state_find(json_string_value(json_object_get(res, "state")));
    r->last_ms = now;
    r->last_state = state;
    r->latency_ms = json_number_value(json_object_get(res, "latency_ms"));
    free(r->message);
    r->message = json_is_string(message) && json_string_length(message)
                     ? strdup(json_string_value(message))
                     : NULL;
    if (path && !json_is_null(path)) {
        json_decref(r->path);
        r->path = json_deep_copy(path);
    } else if (state == CHECK_OK) { /* the path of a past failure says nothing now */
        json_decref(r->path);
        r->path = NULL;
    }
    bool was_stale = r->stale;
    r->stale = r->down = false;
    if (checks_runner_apply(&r->rs, state, k->def) || was_stale || state != CHECK_OK)
        checks_fold(k, now, r->latency_ms);
    return true;
}

int checks_agent_results(struct checks *c, const char *name, const json_t *body, json_t **answer,
                         char *field, size_t fieldlen, char *err, size_t errlen)
{
    const json_t *results = json_object_get(body, "results");
    *answer = NULL;
    if (check_results_validate(body, field, fieldlen, err, errlen) != 0)
        return -1;
    size_t i;
    const json_t *r;
    const struct check_agent *a = agent_find(c, name);
    size_t accepted = 0;
    int64_t now = clock_wall_ms();
    json_array_foreach(results, i, r)
    {
        struct check *k = a ? checks_find(c, json_string_value(json_object_get(r, "check"))) : NULL;
        accepted += k && result_apply(k, a, r, now);
    }
    *answer = json_pack("{sI sI}", "accepted", (json_int_t)accepted, "ignored",
                        (json_int_t)(json_array_size(results) - accepted));
    return 0;
}

/* ---- folding ----------------------------------------------------------------------------------
 */

static int64_t stale_after_ms(const struct check *k)
{
    int64_t ms = CHECKS_STALE_INTERVALS * k->def->interval_ms;
    int64_t min =
        k->owner->opts.stale_min_ms > 0 ? k->owner->opts.stale_min_ms : CHECKS_STALE_MIN_MS;
    return ms > min ? ms : min;
}

/* Where agent runs: its site, else its name. */
static const char *location_of(const struct checks *c, const char *agent)
{
    const struct check_agent *a = agent_find(c, agent);
    return a && a->site[0] ? a->site : agent;
}

/* "; the path from fra1 stops after hop 4", when r has a path with a fault. */
static void path_text(const struct checks *c, const struct agent_runner *r, char *out, size_t len)
{
    out[0] = '\0';
    struct trace_result *t = r->path ? malloc(sizeof *t) : NULL;
    char err[256];
    struct path_fault f;
    if (t && trace_result_from_json(r->path, t, err, sizeof err) == 0 &&
        path_fault_of(t, &f) == 0 && f.found) {
        if (f.last_good_ttl > 0)
            snprintf(out, len, "the path from %s stops after hop %d (%s)", location_of(c, r->agent),
                     f.last_good_ttl, f.last_good_addr);
        else
            snprintf(out, len, "the path from %s stops at the first hop", location_of(c, r->agent));
    }
    free(t);
}

static void append(char *out, size_t len, const char *sep, const char *text)
{
    size_t n = strlen(out);
    if (n < len)
        snprintf(out + n, len - n, "%s%s", n ? sep : "", text);
}

/* One place the check runs from (an agent's SITE, its name without one, or the server), with
 * what its counted runners say. */
struct location {
    const char *name;
    bool failing, ok;
    const char *message;               /* a failing runner's */
    const struct agent_runner *traced; /* a failing runner with a path, or NULL */
};

static struct location *location_add(struct location *locs, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(locs[i].name, name) == 0)
            return &locs[i];
    locs[*n] = (struct location){.name = name};
    return &locs[(*n)++];
}

static void location_count(struct location *l, const struct runner_state *rs, const char *message,
                           const struct agent_runner *r)
{
    if (!rs->decided)
        return;
    if (rs->state == CHECK_OK) {
        l->ok = true;
        return;
    }
    l->failing = true;
    if (!l->message)
        l->message = message;
    if (r && r->path && !l->traced)
        l->traced = r;
}

/* The server runner's latest message (the newest result of the ring). */
static const char *server_message(const struct check *k)
{
    size_t cap = (size_t)k->owner->opts.history;
    return k->ring_n ? k->ring[(k->ring_next + cap - 1) % cap].message : NULL;
}

/* "api.example.com is unreachable from fra1 only (2 of 3 locations fine): the path from fra1
 * stops after hop 4 (10.0.4.1)", or NULL when no location fails. */
static char *locations_message(const struct check *k, const struct location *locs, size_t n)
{
    size_t failing = 0, fine = 0;
    char where[LOCATIONS_TEXT_MAX] = "", evidence[CHECK_MESSAGE_MAX] = "", text[1024];
    const char *first_message = NULL;
    for (size_t i = 0; i < n; i++) {
        fine += locs[i].ok && !locs[i].failing;
        if (!locs[i].failing)
            continue;
        failing++;
        append(where, sizeof where, ", ", locs[i].name);
        if (!first_message)
            first_message = locs[i].message;
        if (locs[i].traced) {
            char p[256];
            path_text(k->owner, locs[i].traced, p, sizeof p);
            append(evidence, sizeof evidence, "; ", p);
        }
    }
    if (!failing)
        return NULL;
    if (!evidence[0] && first_message)
        snprintf(evidence, sizeof evidence, "%s", first_message);
    char target_text[512];
    const char *target = checkdef_member_text(k->def, "target", target_text, sizeof target_text)
                             ? target_text
                             : k->def->name;
    if (fine)
        snprintf(text, sizeof text, "%s is unreachable from %s only (%zu of %zu locations fine)",
                 target, where, fine, n);
    else if (n > 1 && failing == n)
        snprintf(text, sizeof text, "%s is unreachable from every location: %s", target, where);
    else
        snprintf(text, sizeof text, "%s is unreachable from %s", target, where);
    if (evidence[0])
        append(text, sizeof text, ": ", evidence);
    return strdup(text);
}

void checks_fold(struct check *k, int64_t now, double latency_ms)
{
    bool on_server = k->def->on_server;
    const struct runner_state **rs = malloc((k->n_agents + 1) * sizeof *rs);
    struct location *locs = malloc((k->n_agents + 1) * sizeof *locs);
    if (!rs || !locs) {
        free(rs);
        free(locs);
        return;
    }
    size_t n = 0, n_locs = 0;
    if (on_server) {
        rs[n++] = &k->server;
        location_count(location_add(locs, &n_locs, "server"), &k->server, server_message(k), NULL);
    }
    for (size_t i = 0; i < k->n_agents; i++) {
        const struct agent_runner *r = &k->agents[i];
        if (r->stale)
            continue;
        rs[n++] = &r->rs;
        location_count(location_add(locs, &n_locs, location_of(k->owner, r->agent)), &r->rs,
                       r->message, r);
    }
    size_t decided = 0;
    for (size_t i = 0; i < n; i++)
        decided += rs[i]->decided;
    if (n && !decided) { /* none has decided since the start: the state stays (as restored) */
        free(rs);
        free(locs);
        return;
    }
    enum check_state state = checks_fold_runners(rs, n, k->def->quorum);
    if (k->def->run_on_tags) {
        free(k->message);
        k->message = locations_message(k, locs, n_locs);
    }
    free(rs);
    free(locs);
    checks_set_state(k, state, now, latency_ms);
}

/* Forgets the runners of agents that k no longer runs on (their tags or k's run_on changed).
 * True when one was forgotten. */
static bool drop_unassigned(struct check *k)
{
    size_t kept = 0;
    for (size_t j = 0; j < k->n_agents; j++) {
        struct agent_runner *r = &k->agents[j];
        const struct check_agent *a = agent_find(k->owner, r->agent);
        if (a && runs_on(k, a)) {
            k->agents[kept++] = *r;
            continue;
        }
        free(r->message);
        json_decref(r->path);
    }
    bool dropped = kept != k->n_agents;
    k->n_agents = kept;
    return dropped;
}

const char *checks_only_site(const struct check *k)
{
    const char *site = NULL;
    if (k->n_agents == 0 || k->def->on_server)
        return NULL;
    for (size_t i = 0; i < k->n_agents; i++) {
        const struct check_agent *a = agent_find(k->owner, k->agents[i].agent);
        if (!a || !a->site[0] || (site && strcmp(site, a->site) != 0))
            return NULL;
        site = a->site;
    }
    return site;
}

void checks_agent_down(struct checks *c, const char *name)
{
    int64_t now = clock_wall_ms();
    for (size_t i = 0; i < c->n; i++) {
        struct check *k = c->all[i];
        for (size_t j = 0; j < k->n_agents; j++) {
            struct agent_runner *r = &k->agents[j];
            if (strcmp(r->agent, name) != 0 || r->down)
                continue;
            r->down = r->stale = true;
            checks_fold(k, now, 0);
        }
    }
}

static void on_stale_sweep(uv_timer_t *t)
{
    struct checks *c = t->data;
    int64_t now = clock_wall_ms();
    for (size_t i = 0; i < c->n; i++) {
        struct check *k = c->all[i];
        bool changed = drop_unassigned(k);
        for (size_t j = 0; j < k->n_agents; j++) {
            struct agent_runner *r = &k->agents[j];
            bool stale = r->down || !k->enabled || now - r->last_ms > stale_after_ms(k);
            if (stale != r->stale) {
                if (stale)
                    log_info("checks: %s on %s stopped reporting; not counted", k->def->name,
                             r->agent);
                r->stale = stale;
                changed = true;
            }
        }
        if (changed)
            checks_fold(k, now, 0);
    }
}

int checks_agents_start(struct checks *c)
{
    int rc = uv_timer_init(c->opts.loop, &c->stale_timer);
    c->stale_timer.data = c;
    return rc ? rc
              : uv_timer_start(&c->stale_timer, on_stale_sweep, STALE_SWEEP_MS, STALE_SWEEP_MS);
}

void checks_agents_close(struct checks *c)
{
    for (size_t i = 0; i < c->n_agents; i++)
        json_decref(c->agents[i].tags);
    free(c->agents);
    c->agents = NULL;
    c->n_agents = 0;
    uv_close((uv_handle_t *)&c->stale_timer, NULL);
}

void checks_agents_free_check(struct check *k)
{
    for (size_t i = 0; i < k->n_agents; i++) {
        free(k->agents[i].message);
        json_decref(k->agents[i].path);
    }
    free(k->agents);
}

/* ---- the view ---------------------------------------------------------------------------------
 */

static json_t *iso_time(int64_t ms)
{
    char buf[CLOCK_ISO_LEN];
    clock_format_iso(ms, buf, sizeof buf);
    return json_string(buf);
}

json_t *checks_runners_json(const struct check *k)
{
    json_t *list = json_array();
    if (k->def->on_server)
        json_array_append_new(
            list, json_pack("{sn ss ss}", "agent", "location", "server", "state",
                            check_state_name(k->server.decided ? k->server.state : CHECK_UNKNOWN)));
    for (size_t i = 0; i < k->n_agents; i++) {
        const struct agent_runner *r = &k->agents[i];
        const struct check_agent *a = agent_find(k->owner, r->agent);
        enum check_state state = r->stale || !r->rs.decided ? CHECK_UNKNOWN : r->rs.state;
        json_t *last = json_pack("{so ss sf so}", "time", iso_time(r->last_ms), "state",
                                 check_state_name(r->last_state), "latency_ms", r->latency_ms,
                                 "message", r->message ? json_string(r->message) : json_null());
        json_t *o = json_pack("{ss ss ss sb so}", "agent", r->agent, "location",
                              location_of(k->owner, r->agent), "state", check_state_name(state),
                              "stale", r->stale, "last_result", last);
        json_object_set_new(o, "site", a && a->site[0] ? json_string(a->site) : json_null());
        json_object_set(o, "tags", a && a->tags ? a->tags : json_null());
        json_object_set(o, "path", r->path ? r->path : json_null());
        json_array_append_new(list, o);
    }
    return list;
}
