/* format.c — the DOWN and UP texts and the incident texts (see format.h). Plain text meant to be
 * read on a phone at night: the state first, then how long, when and from where. Times are UTC
 * ("2026-11-21 10:05:12 UTC"); durations come from clock_format_duration. */
#include "alert/format.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "base/clock.h"

/* Appends to buf at *used, never past buflen; output is silently cut when it does not fit. */
static void append(char *buf, size_t buflen, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t buflen, size_t *used, const char *fmt, ...)
{
    if (*used >= buflen)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, buflen - *used, fmt, ap);
    va_end(ap);
    if (n > 0)
        *used += (size_t)n;
}

/* "2026-11-21 10:05:12 UTC" */
static void format_utc(int64_t wall_ms, char *buf, size_t buflen)
{
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(buf, buflen, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* "180s", or "2.5s" for a limit that is not a whole number of seconds. */
static void format_limit(int64_t ms, char *buf, size_t buflen)
{
    if (ms % 1000 == 0)
        snprintf(buf, buflen, "%llds", (long long)(ms / 1000));
    else
        snprintf(buf, buflen, "%.1fs", (double)ms / 1000.0);
}

static void format_since(int64_t from_ms, int64_t to_ms, char *buf, size_t buflen)
{
    clock_format_duration(to_ms > from_ms ? to_ms - from_ms : 0, buf, buflen);
}

void alert_format_down(const struct worker_record *w, int64_t now_ms, int64_t fail_timeout_ms,
                       char *buf, size_t buflen)
{
    if (buflen == 0)
        return;
    buf[0] = '\0';
    size_t used = 0;
    char silence[32], limit[32], seen[40];
    append(buf, buflen, &used, "🔴 %s is DOWN\n", w->name);
    format_limit(fail_timeout_ms, limit, sizeof limit);
    if (w->last_seen_ms > 0) {
        format_since(w->last_seen_ms, now_ms, silence, sizeof silence);
        append(buf, buflen, &used, "No heartbeat for %s (limit %s).\n", silence, limit);
        format_utc(w->last_seen_ms, seen, sizeof seen);
        append(buf, buflen, &used, "Last seen: %s", seen);
        if (w->ip[0])
            append(buf, buflen, &used, " from %s", w->ip);
    } else {
        append(buf, buflen, &used, "No heartbeat yet (limit %s).\nLast seen: never", limit);
    }
    if (w->site[0])
        append(buf, buflen, &used, "\nSite: %s", w->site);
    if (w->gpus > 0)
        append(buf, buflen, &used, "\nGPUs: %d", w->gpus);
    else if (w->gpus == WORKER_GPUS_FAILED)
        append(buf, buflen, &used, "\nGPUs: the GPU check failed");
}

void alert_format_up(const struct worker_record *w, int64_t now_ms, int64_t down_since_ms,
                     char *buf, size_t buflen)
{
    if (buflen == 0)
        return;
    buf[0] = '\0';
    size_t used = 0;
    char back[40], down[32];
    format_utc(now_ms, back, sizeof back);
    append(buf, buflen, &used, "🟢 %s is UP\nBack at %s", w->name, back);
    if (w->ip[0])
        append(buf, buflen, &used, " from %s", w->ip);
    if (down_since_ms > 0) {
        format_since(down_since_ms, now_ms, down, sizeof down);
        append(buf, buflen, &used, ", after %s down", down);
    }
    append(buf, buflen, &used, ".");
    if (w->site[0])
        append(buf, buflen, &used, "\nSite: %s", w->site);
}

static void gpus_text(int gpus, char *buf, size_t len)
{
    if (gpus == WORKER_GPUS_FAILED)
        snprintf(buf, len, "GPU_ERR");
    else
        snprintf(buf, len, "%d", gpus);
}

void alert_format_gpus(const struct worker_record *w, int prev_gpus, int64_t now_ms, char *buf,
                       size_t buflen)
{
    if (buflen == 0)
        return;
    buf[0] = '\0';
    size_t used = 0;
    char before[16], after[16], at[40];
    gpus_text(prev_gpus, before, sizeof before);
    gpus_text(w->gpus, after, sizeof after);
    format_utc(now_ms, at, sizeof at);
    bool failed = w->gpus == WORKER_GPUS_FAILED;
    bool lost = failed || (prev_gpus != WORKER_GPUS_FAILED && w->gpus < prev_gpus);
    int fewer = lost && !failed ? prev_gpus - w->gpus : 0;
    if (failed)
        append(buf, buflen, &used, "🟠 %s lost its GPUs: the GPU check failed (%s → %s)", w->name,
               before, after);
    else if (fewer == 1)
        append(buf, buflen, &used, "🟠 %s lost a GPU: %s → %s", w->name, before, after);
    else if (lost)
        append(buf, buflen, &used, "🟠 %s lost %d GPUs: %s → %s", w->name, fewer, before, after);
    else
        append(buf, buflen, &used, "🟢 %s has its GPU%s back: %s → %s", w->name,
               w->gpus - (prev_gpus < 0 ? 0 : prev_gpus) == 1 ? "" : "s", before, after);
    append(buf, buflen, &used, "\nAt %s", at);
    if (w->ip[0])
        append(buf, buflen, &used, " from %s", w->ip);
    append(buf, buflen, &used, ".");
    if (w->site[0])
        append(buf, buflen, &used, "\nSite: %s", w->site);
}

/* ---- incident texts ------------------------------------------------------------------------ */

/* How a class reads inside a sentence: "network issue". */
static const char *class_phrase(enum incident_class cls)
{
    switch (cls) {
    case INCIDENT_NETWORK:
        return "network issue";
    case INCIDENT_WIDESPREAD:
        return "widespread outage";
    case INCIDENT_SERVER:
        return "monitor problem";
    case INCIDENT_INDIVIDUAL:
        break;
    }
    return incident_class_name(cls);
}

/* "1 worker", "5 workers". */
static void append_count(char *buf, size_t buflen, size_t *used, int n, const char *noun)
{
    append(buf, buflen, used, "%d %s%s", n, noun, n == 1 ? "" : "s");
}

/* "at 6 sites", "in 5 networks", "at 2 sites and 3 networks". */
static void append_places(char *buf, size_t buflen, size_t *used, const struct alert_incident *inc)
{
    if (inc->sites > 0) {
        append(buf, buflen, used, "at ");
        append_count(buf, buflen, used, inc->sites, "site");
        if (inc->networks > 0) {
            append(buf, buflen, used, " and ");
            append_count(buf, buflen, used, inc->networks, "network");
        }
    } else if (inc->networks > 0) {
        append(buf, buflen, used, "in ");
        append_count(buf, buflen, used, inc->networks, "network");
    }
}

/* "box-1, box-2, +3 more" for names[from, to). */
static void append_names(char *buf, size_t buflen, size_t *used, const struct alert_incident *inc,
                         size_t from, size_t to)
{
    size_t shown = 0;
    for (size_t i = from; i < to && shown < ALERT_INCIDENT_NAMES; i++, shown++)
        append(buf, buflen, used, "%s%s", shown ? ", " : "", inc->names[i]);
    if (to - from > shown)
        append(buf, buflen, used, ", +%zu more", to - from - shown);
}

/* The names lines: the group at fault first, then the others of a network incident. */
static void append_name_lines(char *buf, size_t buflen, size_t *used,
                              const struct alert_incident *inc)
{
    if (!inc->names || inc->n_names == 0)
        return;
    size_t first = inc->n_names;
    if (inc->classification == INCIDENT_NETWORK && inc->scope_workers > 0 &&
        (size_t)inc->scope_workers < inc->n_names)
        first = (size_t)inc->scope_workers;
    append(buf, buflen, used, "\n");
    append_names(buf, buflen, used, inc, 0, first);
    if (first < inc->n_names) {
        append(buf, buflen, used, "\nAlso down elsewhere: ");
        append_names(buf, buflen, used, inc, first, inc->n_names);
    }
}

/* The sentence that says what happened, without its opening: "5 workers behind 203.0.113.7
 * (site fra1) went down". capital: start the cut-off server sentence with a capital letter. */
static void append_what(char *buf, size_t buflen, size_t *used, const struct alert_incident *inc,
                        bool capital)
{
    if (inc->classification == INCIDENT_NETWORK) {
        append_count(buf, buflen, used, inc->scope_workers, "worker");
        append(buf, buflen, used, " %s went down", inc->scope ? inc->scope : "");
    } else if (inc->classification == INCIDENT_WIDESPREAD) {
        append_count(buf, buflen, used, inc->workers, "worker");
        append(buf, buflen, used, " ");
        append_places(buf, buflen, used, inc);
        append(buf, buflen, used, " went down — possible DDoS or upstream outage");
    } else if (inc->canaries_failing) {
        append(buf, buflen, used, "%che monitor itself lost connectivity; ", capital ? 'T' : 't');
        append_count(buf, buflen, used, inc->workers, "worker");
        append(buf, buflen, used, " unreachable, not counted as down");
    } else {
        /* the 80% rule: the canaries answer, so these workers are recorded DOWN */
        append(buf, buflen, used, "%d of ", inc->workers);
        append_count(buf, buflen, used, inc->fleet, "worker");
        append(buf, buflen, used,
               " went down at once — likely the monitor's own connection (its canaries still "
               "answer, so they count as down)");
    }
}

/* The texts below are for network, widespread and server incidents (alert_format_incident_message
 * sends none for individual ones): whatever is neither network nor widespread reads as server. */

static void format_opened(const struct alert_incident *inc, char *buf, size_t buflen)
{
    size_t used = 0;
    if (inc->classification == INCIDENT_NETWORK)
        append(buf, buflen, &used, "🔴 NETWORK ISSUE: ");
    else if (inc->classification == INCIDENT_WIDESPREAD)
        append(buf, buflen, &used, "🔴 WIDESPREAD: ");
    else
        append(buf, buflen, &used, "⚠️ ");
    append_what(buf, buflen, &used, inc, true);
    append_name_lines(buf, buflen, &used, inc);
}

static void format_grew(const struct alert_incident *inc, char *buf, size_t buflen)
{
    size_t used = 0;
    if (inc->classification == INCIDENT_NETWORK) {
        append(buf, buflen, &used, "🔴 NETWORK ISSUE growing: %d workers down now (was %d), ",
               inc->workers, inc->previous_workers);
        if (inc->scope_workers < inc->workers)
            append(buf, buflen, &used, "%d of them ", inc->scope_workers);
        append(buf, buflen, &used, "%s", inc->scope ? inc->scope : "");
    } else if (inc->classification == INCIDENT_WIDESPREAD) {
        append(buf, buflen, &used, "🔴 WIDESPREAD growing: %d workers down now (was %d), ",
               inc->workers, inc->previous_workers);
        append_places(buf, buflen, &used, inc);
    } else if (inc->canaries_failing) {
        append(buf, buflen, &used,
               "⚠️ The monitor is still cut off: %d workers unreachable now "
               "(was %d), not counted as down",
               inc->workers, inc->previous_workers);
    } else {
        append(buf, buflen, &used, "⚠️ Monitor problem growing: %d of ", inc->workers);
        append_count(buf, buflen, &used, inc->fleet, "worker");
        append(buf, buflen, &used, " down now (was %d)", inc->previous_workers);
    }
    append_name_lines(buf, buflen, &used, inc);
}

static void format_reclassified(const struct alert_incident *inc, char *buf, size_t buflen)
{
    size_t used = 0;
    if (inc->classification == INCIDENT_NETWORK)
        append(buf, buflen, &used, "🔴 Now a NETWORK ISSUE");
    else if (inc->classification == INCIDENT_WIDESPREAD)
        append(buf, buflen, &used, "🔴 Now WIDESPREAD");
    else
        append(buf, buflen, &used, "⚠️ Now a monitor problem");
    append(buf, buflen, &used, " (was %s): ", class_phrase(inc->previous_classification));
    append_what(buf, buflen, &used, inc, false);
    append_name_lines(buf, buflen, &used, inc);
}

static void format_closed(const struct alert_incident *inc, char *buf, size_t buflen)
{
    size_t used = 0;
    char took[32];
    format_since(inc->opened_ms, inc->closed_ms, took, sizeof took);
    if (inc->classification == INCIDENT_NETWORK) {
        append(buf, buflen, &used, "✅ RESOLVED: network issue %s: ", inc->scope ? inc->scope : "");
    } else if (inc->classification == INCIDENT_WIDESPREAD) {
        append(buf, buflen, &used, "✅ RESOLVED: widespread outage ");
        append_places(buf, buflen, &used, inc);
        append(buf, buflen, &used, ": ");
    } else if (inc->canaries_failing) {
        append(buf, buflen, &used, "✅ RESOLVED: the monitor is connected again after %s; ", took);
        if (inc->workers > 0) {
            append_count(buf, buflen, &used, inc->workers, "worker");
            append(buf, buflen, &used, " %s unreachable, not counted as down",
                   inc->workers == 1 ? "was" : "were");
        } else {
            append(buf, buflen, &used, "no worker was affected");
        }
        return;
    } else {
        append(buf, buflen, &used, "✅ RESOLVED: monitor problem: ");
    }
    append_count(buf, buflen, &used, inc->workers, "worker");
    append(buf, buflen, &used, " back after %s", took);
}

bool alert_format_incident_message(enum incident_change change, const struct alert_incident *inc,
                                   char *buf, size_t buflen)
{
    if (buflen > 0)
        buf[0] = '\0';
    if (inc->classification == INCIDENT_INDIVIDUAL || !inc->announced)
        return false;
    switch (change) {
    case INCIDENT_OPENED:
        format_opened(inc, buf, buflen);
        return true;
    case INCIDENT_GREW:
        format_grew(inc, buf, buflen);
        return true;
    case INCIDENT_RECLASSIFIED:
        format_reclassified(inc, buf, buflen);
        return true;
    case INCIDENT_CLOSED:
        format_closed(inc, buf, buflen);
        return true;
    case INCIDENT_UPDATED:
        break;
    }
    return false;
}
