/* analyze.c — `faultline analyze`: reads an agent's metrics.jsonl and diagnostics.jsonl (and
 * their rotated .1 files, and mtr/<time>.json files), or the uptime-rca-bot client's (mapped by
 * analyze/uptimebot.h, rotated *.old files too), splits the heartbeats into outage periods,
 * diagnoses each period from the diagnoses recorded inside it, and ranks the hops of all
 * recorded paths by loss; see analyze.h. */
#include "analyze/analyze.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "analyze/diagnose.h"
#include "analyze/uptimebot.h"
#include "base/cli.h"
#include "base/clock.h"
#include "probe/path.h"

#define ANALYZE_MAX_FILES 256   /* the bot client keeps its last 99 mtr files */
#define ANALYZE_MAX_WARNINGS 20 /* per run; the rest are only counted */
#define ANALYZE_WORST_HOPS 5
/* A record may span this many lines (the bot's diagnostics with `mtr -j` in them) and bytes. */
#define ANALYZE_RECORD_LINES 2000
#define ANALYZE_RECORD_BYTES (4 * 1024 * 1024)
/* Without heartbeats, diagnoses further apart than this belong to different outages. */
#define ANALYZE_DIAG_GAP_MS (5 * 60 * 1000)

static const char *const analyze_cli_options[] = {"LOG_LEVEL"};

static const struct cli_spec analyze_cli = {
    .command = "analyze",
    .usage = "analyze METRICS.jsonl [DIAGNOSTICS.jsonl ...] [--json]",
    .description =
        "Offline root-cause analysis of an agent's logs (copied from DATA_DIR/logs/ of a\n"
        "machine): heartbeat attempts and failure rate, outage periods (consecutive failed\n"
        "heartbeats), a diagnosis per period from the diagnoses recorded in it (local network,\n"
        "upstream ISP, path to server, server side) with its evidence, and the hops with the\n"
        "highest loss over all recorded paths.\n\n"
        "Files are recognised by their lines: lines with \"ok\" are heartbeats, lines with\n"
        "\"trigger\" or \"mtr\" are diagnoses. Rotated files (metrics.jsonl.1) and mtr/*.json\n"
        "files may be given too, in any order. The uptime-rca-bot client's logs are read as\n"
        "well (metrics.jsonl, diagnostics.jsonl, mtr/*.json, rotated *.old files), told apart\n"
        "by their fields. Lines that cannot be read are skipped with a warning naming\n"
        "file:line.\n\n"
        "  --json   print one JSON object instead of the table\n\n"
        "Exit status: 0 no outage found, 1 outages found, 2 usage error or unreadable file.",
    .options = analyze_cli_options,
    .option_count = 1,
    .max_positional = ANALYZE_MAX_FILES,
    .json = true,
};

/* ---- reading the files -------------------------------------------------------------------- */

struct log_record {
    int64_t time_ms;
    size_t order; /* position in the input, to keep the files' order among equal times */
    json_t *json; /* owned */
};

struct record_list {
    struct log_record *items;
    size_t n, cap;
};

struct log_set {
    struct record_list metrics, diagnostics;
    size_t read, skipped, order;
};

static int record_list_push(struct record_list *l, struct log_record r)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        struct log_record *items = realloc(l->items, cap * sizeof *items);
        if (!items)
            return -1;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = r;
    return 0;
}

static void record_list_free(struct record_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        json_decref(l->items[i].json);
    free(l->items);
}

static void skip_line(struct log_set *set, const char *file, size_t line, const char *why)
{
    if (set->skipped++ < ANALYZE_MAX_WARNINGS)
        fprintf(stderr, "faultline analyze: %s:%zu: skipped: %s\n", file, line, why);
}

/* A mtr/<time>.json file holds the mtr object alone: made into a diagnosis with that path. */
static json_t *diagnosis_of_mtr(json_t *mtr)
{
    json_t *d = json_pack("{s:O?,s:O?,s:O}", "time", json_object_get(mtr, "time"), "id",
                          json_object_get(mtr, "id"), "mtr", mtr);
    json_decref(mtr);
    return d;
}

/* Files one record of a line, or says why not. Takes the reference to j. */
static void add_record(struct log_set *set, json_t *j, const char *file, size_t line)
{
    char why[300];
    struct record_list *list = NULL;
    if (!json_is_object(j)) {
        skip_line(set, file, line, "expected a JSON object");
        json_decref(j);
        return;
    }
    if (uptimebot_format_of(j) != UPTIMEBOT_NONE) {
        char field[96], err[256];
        int64_t file_ms = 0;
        uptimebot_mtr_file_time(file, &file_ms);
        json_t *mapped = uptimebot_record_map(j, file_ms, field, sizeof field, err, sizeof err);
        json_decref(j);
        if (!mapped) {
            snprintf(why, sizeof why, "uptime-rca-bot record: %s", err);
            skip_line(set, file, line, why);
            return;
        }
        j = mapped;
    }
    if (json_is_boolean(json_object_get(j, "ok")))
        list = &set->metrics;
    else if (json_object_get(j, "trigger") || json_object_get(j, "mtr") ||
             json_object_get(j, "gateway"))
        list = &set->diagnostics;
    else if (json_object_get(j, "hops") && (j = diagnosis_of_mtr(j)) != NULL)
        list = &set->diagnostics;
    const char *time = json_string_value(json_object_get(j, "time"));
    struct log_record r = {.order = set->order++, .json = j};
    if (!list) {
        skip_line(set, file, line,
                  "neither a heartbeat (\"ok\") nor a diagnosis (\"trigger\", \"mtr\")");
    } else if (!time || clock_parse_iso(time, &r.time_ms) != 0) {
        snprintf(why, sizeof why,
                 "\"time\": expected an ISO 8601 time with Z or a +HH:MM offset, got %s%.40s%s",
                 time ? "\"" : "", time ? time : "nothing", time ? "\"" : "");
        skip_line(set, file, line, why);
    } else if (record_list_push(list, r) == 0) {
        set->read++;
        return;
    }
    json_decref(j);
}

static bool is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/* A file that is one JSON object over several lines (the bot's `mtr -j` output): filed whole.
 * Returns true when it was one. */
static bool read_whole_object(struct log_set *set, FILE *f, const char *path)
{
    json_t *j = json_loadf(f, 0, NULL);
    if (json_is_object(j)) {
        add_record(set, j, path, 1);
        return true;
    }
    json_decref(j);
    rewind(f);
    return false;
}

/* A record being read: its text so far, which may span lines (the uptime-rca-bot's client puts
 * the indented output of `mtr -j` inside its diagnostics lines), and its first line. */
struct pending_record {
    char *text;
    size_t len, cap, first_line, lines;
};

static int pending_add(struct pending_record *p, const char *s, size_t n)
{
    if (p->len + n + 1 > p->cap) {
        size_t cap = (p->len + n + 1) * 2;
        char *text = realloc(p->text, cap);
        if (!text)
            return -1;
        p->text = text;
        p->cap = cap;
    }
    memcpy(p->text + p->len, s, n);
    p->len += n;
    p->text[p->len] = '\0';
    p->lines++;
    return 0;
}

/* Adds a line to the record being read and files the record once it parses. An object that
 * runs to the end of its line unfinished waits for the next (up to ANALYZE_RECORD_LINES); one
 * that cannot join is skipped, and the line that did not fit is read again alone. */
static void read_line(struct log_set *set, struct pending_record *p, const char *path,
                      const char *line, size_t n, size_t number)
{
    bool joining = p->len > 0;
    if (!joining)
        p->first_line = number;
    json_error_t jerr;
    json_t *j =
        pending_add(p, line, n) == 0 ? json_loadb(p->text, p->len, JSON_DECODE_ANY, &jerr) : NULL;
    if (j) {
        add_record(set, j, path, p->first_line);
    } else if (json_error_code(&jerr) == json_error_premature_end_of_input &&
               (size_t)jerr.position >= p->len && p->text[strspn(p->text, " \t")] == '{' &&
               p->lines < ANALYZE_RECORD_LINES && p->len < ANALYZE_RECORD_BYTES) {
        return;
    } else {
        char why[200];
        snprintf(why, sizeof why, "not JSON (%s at column %d)", jerr.text, jerr.column);
        skip_line(set, path, p->first_line, joining ? "not JSON (cut short)" : why);
    }
    p->len = p->lines = 0;
    if (!j && joining)
        read_line(set, p, path, line, n, number);
}

/* Reads one file, a record per line. Returns 0, or -1 when it cannot be opened or read. */
static int read_log_file(struct log_set *set, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "faultline analyze: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (read_whole_object(set, f, path)) {
        fclose(f);
        return 0;
    }
    char *buf = NULL;
    size_t cap = 0, line = 0;
    ssize_t n;
    struct pending_record pending = {0};
    while ((n = getline(&buf, &cap, f)) >= 0) {
        line++;
        if (!is_blank(buf, (size_t)n) || pending.len > 0)
            read_line(set, &pending, path, buf, (size_t)n, line);
    }
    if (pending.len > 0)
        skip_line(set, path, pending.first_line, "not JSON (cut short)");
    int failed = ferror(f);
    if (failed)
        fprintf(stderr, "faultline analyze: %s: %s\n", path, strerror(errno));
    free(pending.text);
    free(buf);
    fclose(f);
    return failed ? -1 : 0;
}

static int by_time(const void *a, const void *b)
{
    const struct log_record *x = a, *y = b;
    if (x->time_ms != y->time_ms)
        return (x->time_ms > y->time_ms) - (x->time_ms < y->time_ms);
    return (x->order > y->order) - (x->order < y->order);
}

/* Sorts by time and drops records whose id was already seen at the same time (a file given
 * twice, or a line in both a file and its rotated copy). */
static void sort_unique(struct record_list *l)
{
    if (l->n)
        qsort(l->items, l->n, sizeof l->items[0], by_time);
    size_t kept = 0;
    for (size_t i = 0; i < l->n; i++) {
        const char *id = json_string_value(json_object_get(l->items[i].json, "id"));
        bool dup = false;
        for (size_t k = kept; id && k-- > 0 && l->items[k].time_ms == l->items[i].time_ms;)
            dup = dup || (json_string_value(json_object_get(l->items[k].json, "id")) &&
                          !strcmp(id, json_string_value(json_object_get(l->items[k].json, "id"))));
        if (dup)
            json_decref(l->items[i].json);
        else
            l->items[kept++] = l->items[i];
    }
    l->n = kept;
}

/* The uptime-rca-bot's client writes each diagnosis' path to mtr/ too: a lone path (a record
 * without probes) whose "mtr_id" a diagnosis has is that diagnosis again. */
static bool has_path_of(const json_t *diagnosis, const char *mtr_id)
{
    const char *id = json_string_value(json_object_get(diagnosis, "mtr_id"));
    return json_object_get(diagnosis, "gateway") && id && !strcmp(id, mtr_id);
}

static void drop_copied_paths(struct record_list *l)
{
    size_t kept = 0;
    for (size_t i = 0; i < l->n; i++) {
        const json_t *r = l->items[i].json;
        const char *id = json_string_value(json_object_get(r, "mtr_id"));
        bool copy = false;
        for (size_t k = 0; id && !json_object_get(r, "gateway") && !copy && k < l->n; k++)
            copy = k != i && has_path_of(l->items[k].json, id);
        if (copy)
            json_decref(l->items[i].json);
        else
            l->items[kept++] = l->items[i];
    }
    l->n = kept;
}

/* ---- outage periods ----------------------------------------------------------------------- */

struct period {
    int64_t start_ms, end_ms;
    bool recovered;  /* a successful heartbeat ended it */
    bool open_ended; /* the heartbeats end inside it: later diagnoses belong to it too */
    struct worker_diagnosis diagnosis;
};

struct period_list {
    struct period *items;
    size_t n;
};

static bool metric_failed(const struct log_record *r)
{
    return !json_is_true(json_object_get(r->json, "ok"));
}

static int period_push(struct period_list *ps, int64_t start, int64_t end, bool recovered)
{
    struct period *items = realloc(ps->items, (ps->n + 1) * sizeof *items);
    if (!items)
        return -1;
    ps->items = items;
    ps->items[ps->n++] = (struct period){.start_ms = start, .end_ms = end, .recovered = recovered};
    return 0;
}

/* Runs of failed heartbeats; each ends at the next successful one. */
static int periods_from_metrics(const struct record_list *m, struct period_list *ps)
{
    for (size_t i = 0; i < m->n; i++) {
        if (!metric_failed(&m->items[i]))
            continue;
        size_t j = i;
        while (j + 1 < m->n && metric_failed(&m->items[j + 1]))
            j++;
        bool recovered = j + 1 < m->n;
        int64_t end = recovered ? m->items[j + 1].time_ms : m->items[j].time_ms;
        if (period_push(ps, m->items[i].time_ms, end, recovered) != 0)
            return -1;
        ps->items[ps->n - 1].open_ended = !recovered;
        i = j;
    }
    return 0;
}

/* Without heartbeats: diagnoses close together are one outage. */
static int periods_from_diagnostics(const struct record_list *d, struct period_list *ps)
{
    for (size_t i = 0; i < d->n; i++) {
        size_t j = i;
        while (j + 1 < d->n && d->items[j + 1].time_ms - d->items[j].time_ms <= ANALYZE_DIAG_GAP_MS)
            j++;
        if (period_push(ps, d->items[i].time_ms, d->items[j].time_ms, false) != 0)
            return -1;
        i = j;
    }
    return 0;
}

static bool in_period(const struct period *p, int64_t t)
{
    return t >= p->start_ms && (t <= p->end_ms || p->open_ended);
}

/* Diagnoses one period from the heartbeats and diagnoses inside it. */
static int diagnose_period(const struct log_set *set, struct period *p)
{
    json_t **rs = calloc(set->metrics.n + set->diagnostics.n + 1, sizeof *rs);
    if (!rs)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < set->metrics.n; i++)
        if (in_period(p, set->metrics.items[i].time_ms))
            rs[n++] = set->metrics.items[i].json;
    for (size_t i = 0; i < set->diagnostics.n; i++)
        if (in_period(p, set->diagnostics.items[i].time_ms))
            rs[n++] = set->diagnostics.items[i].json;
    int rc = diagnose_worker(NULL, rs, n, &p->diagnosis);
    free(rs);
    return rc;
}

/* ---- worst hops --------------------------------------------------------------------------- */

struct hop_stat {
    char addr[PROBE_ADDR_MAX];
    int ttl; /* the lowest TTL it was seen at */
    int samples, answered;
    double loss_sum, rtt_sum;
};

struct hop_stats {
    struct hop_stat *items;
    size_t n;
};

static double hop_loss(const struct hop_stat *h)
{
    return h->samples ? h->loss_sum / h->samples : 0;
}

static int hop_stat_add(struct hop_stats *hs, const struct trace_hop *hop)
{
    struct hop_stat *h = NULL;
    for (size_t i = 0; i < hs->n && !h; i++)
        if (!strcmp(hs->items[i].addr, hop->addr))
            h = &hs->items[i];
    if (!h) {
        struct hop_stat *items = realloc(hs->items, (hs->n + 1) * sizeof *items);
        if (!items)
            return -1;
        hs->items = items;
        h = &hs->items[hs->n++];
        *h = (struct hop_stat){.ttl = hop->ttl};
        snprintf(h->addr, sizeof h->addr, "%s", hop->addr);
    }
    if (hop->ttl < h->ttl)
        h->ttl = hop->ttl;
    h->samples++;
    h->loss_sum += hop->loss_pct;
    if (hop->received > 0) {
        h->answered++;
        h->rtt_sum += hop->avg_ms;
    }
    return 0;
}

static int by_worst(const void *a, const void *b)
{
    const struct hop_stat *x = a, *y = b;
    double lx = hop_loss(x), ly = hop_loss(y);
    if (lx != ly)
        return lx < ly ? 1 : -1;
    double rx = x->answered ? x->rtt_sum / x->answered : 0;
    double ry = y->answered ? y->rtt_sum / y->answered : 0;
    if (rx != ry)
        return rx < ry ? 1 : -1;
    return (x->ttl > y->ttl) - (x->ttl < y->ttl);
}

/* Every hop with an address in every readable mtr, ranked by average loss, then RTT. */
static int worst_hops(const struct record_list *d, struct hop_stats *hs)
{
    struct trace_result *t = malloc(sizeof *t);
    if (!t)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < d->n && rc == 0; i++) {
        char err[160];
        const json_t *mtr = json_object_get(d->items[i].json, "mtr");
        if (!mtr || trace_result_from_json(mtr, t, err, sizeof err) != 0)
            continue;
        for (int k = 0; k < t->n_hops && rc == 0; k++)
            if (t->hops[k].addr[0])
                rc = hop_stat_add(hs, &t->hops[k]);
    }
    free(t);
    if (hs->n)
        qsort(hs->items, hs->n, sizeof hs->items[0], by_worst);
    return rc;
}

/* ---- output ------------------------------------------------------------------------------- */

struct analysis {
    size_t attempts, failures;
    struct period_list periods;
    struct hop_stats hops;
};

/* "2026-11-21 10:00:00" (UTC) */
static void format_table_time(int64_t ms, char *buf, size_t len)
{
    char iso[CLOCK_ISO_LEN];
    clock_format_iso(ms, iso, sizeof iso);
    snprintf(buf, len, "%.10s %.8s", iso, iso + 11);
}

static void print_summary(const struct analysis *a)
{
    printf("attempts   %zu\n", a->attempts);
    if (a->attempts)
        printf("failures   %zu (%.1f%%)\n", a->failures, 100.0 * a->failures / a->attempts);
    else
        printf("failures   - (no heartbeats in these files)\n");
    printf("outages    %zu\n", a->periods.n);
}

static void print_periods(const struct analysis *a)
{
    if (!a->periods.n)
        return;
    printf("\n%-3s  %-19s  %-19s  %-8s  %6s  %s\n", "#", "start (UTC)", "end (UTC)", "duration",
           "failed", "diagnosis");
    for (size_t i = 0; i < a->periods.n; i++) {
        const struct period *p = &a->periods.items[i];
        char start[32], end[32], took[32], evidence[1024];
        format_table_time(p->start_ms, start, sizeof start);
        format_table_time(p->end_ms, end, sizeof end);
        diagnosis_format_duration(p->end_ms - p->start_ms, took, sizeof took);
        worker_diagnosis_evidence(&p->diagnosis, evidence, sizeof evidence);
        char failed[16] = "-";
        if (a->attempts)
            snprintf(failed, sizeof failed, "%d", p->diagnosis.failed_attempts);
        printf("%-3zu  %-19s  %-19s  %-8s  %6s  %s\n", i + 1, start, end, took, failed,
               diagnosis_verdict_text(p->diagnosis.verdict));
        printf("     %s%s\n", evidence,
               !a->attempts   ? " (no heartbeats: times are those of the diagnoses)"
               : p->recovered ? ""
                              : " (no recovery in the logs)");
    }
}

static void print_hops(const struct analysis *a)
{
    if (!a->hops.n)
        return;
    printf("\nworst hops\n%-3s  %-39s  %7s  %6s  %8s\n", "ttl", "address", "samples", "loss",
           "avg rtt");
    for (size_t i = 0; i < a->hops.n && i < ANALYZE_WORST_HOPS; i++) {
        const struct hop_stat *h = &a->hops.items[i];
        char rtt[32] = "-";
        if (h->answered)
            snprintf(rtt, sizeof rtt, "%.1f ms", h->rtt_sum / h->answered);
        printf("%-3d  %-39s  %7d  %5.1f%%  %8s\n", h->ttl, h->addr, h->samples, hop_loss(h), rtt);
    }
}

static json_t *period_json(const struct period *p)
{
    char start[CLOCK_ISO_LEN], end[CLOCK_ISO_LEN], evidence[1024];
    clock_format_iso(p->start_ms, start, sizeof start);
    clock_format_iso(p->end_ms, end, sizeof end);
    worker_diagnosis_evidence(&p->diagnosis, evidence, sizeof evidence);
    return json_pack("{s:s,s:s,s:f,s:i,s:b,s:i,s:s,s:s,s:s,s:o?}", "start", start, "end", end,
                     "duration_s", (double)(p->end_ms - p->start_ms) / 1000.0, "failed_attempts",
                     p->diagnosis.failed_attempts, "recovered", p->recovered, "diagnoses",
                     p->diagnosis.diagnoses, "diagnosis",
                     diagnosis_verdict_text(p->diagnosis.verdict), "verdict",
                     diagnosis_verdict_id(p->diagnosis.verdict), "evidence", evidence, "details",
                     worker_diagnosis_json(&p->diagnosis));
}

static json_t *hop_json(const struct hop_stat *h)
{
    json_t *rtt = h->answered ? json_real(h->rtt_sum / h->answered) : json_null();
    return json_pack("{s:i,s:s,s:i,s:f,s:o?}", "ttl", h->ttl, "addr", h->addr, "samples",
                     h->samples, "loss_pct", hop_loss(h), "avg_ms", rtt);
}

static int print_json(const struct analysis *a, size_t skipped)
{
    json_t *periods = json_array(), *hops = json_array();
    for (size_t i = 0; periods && i < a->periods.n; i++)
        json_array_append_new(periods, period_json(&a->periods.items[i]));
    for (size_t i = 0; hops && i < a->hops.n && i < ANALYZE_WORST_HOPS; i++)
        json_array_append_new(hops, hop_json(&a->hops.items[i]));
    json_t *rate = a->attempts ? json_real((double)a->failures / (double)a->attempts) : json_null();
    json_t *o =
        json_pack("{s:i,s:i,s:o?,s:i,s:o?,s:o?}", "attempts", (json_int_t)a->attempts, "failures",
                  (json_int_t)a->failures, "failure_rate", rate, "skipped_lines",
                  (json_int_t)skipped, "periods", periods, "worst_hops", hops);
    if (!o || json_dumpf(o, stdout, JSON_COMPACT) != 0) {
        json_decref(o);
        fprintf(stderr, "faultline analyze: out of memory\n");
        return -1;
    }
    putchar('\n');
    json_decref(o);
    return 0;
}

/* ---- the command -------------------------------------------------------------------------- */

static int analyze_logs(struct log_set *set, struct analysis *a)
{
    sort_unique(&set->metrics);
    sort_unique(&set->diagnostics);
    drop_copied_paths(&set->diagnostics);
    a->attempts = set->metrics.n;
    for (size_t i = 0; i < set->metrics.n; i++)
        a->failures += metric_failed(&set->metrics.items[i]);
    int rc = set->metrics.n ? periods_from_metrics(&set->metrics, &a->periods)
                            : periods_from_diagnostics(&set->diagnostics, &a->periods);
    for (size_t i = 0; rc == 0 && i < a->periods.n; i++)
        rc = diagnose_period(set, &a->periods.items[i]);
    return rc == 0 ? worst_hops(&set->diagnostics, &a->hops) : rc;
}

static int analyze_files(char **files, int count, bool as_json)
{
    struct log_set set = {0};
    struct analysis a = {0};
    int rc = 0;
    for (int i = 0; i < count && rc == 0; i++)
        rc = read_log_file(&set, files[i]) == 0 ? 0 : 2;
    if (rc == 0 && set.skipped > ANALYZE_MAX_WARNINGS)
        fprintf(stderr, "faultline analyze: %zu more lines skipped\n",
                set.skipped - ANALYZE_MAX_WARNINGS);
    if (rc == 0 && analyze_logs(&set, &a) != 0) {
        fprintf(stderr, "faultline analyze: out of memory\n");
        rc = 2;
    }
    if (rc == 0 && as_json) {
        rc = print_json(&a, set.skipped) == 0 ? 0 : 2;
    } else if (rc == 0) {
        print_summary(&a);
        print_periods(&a);
        print_hops(&a);
    }
    if (rc == 0)
        rc = a.periods.n ? 1 : 0;
    record_list_free(&set.metrics);
    record_list_free(&set.diagnostics);
    free(a.periods.items);
    free(a.hops.items);
    return rc;
}

int analyze_main(int argc, char **argv)
{
    struct config cfg;
    char *files[ANALYZE_MAX_FILES];
    struct cli_args args = {.positional = files};
    int rc;
    config_init(&cfg);
    enum cli_result parsed = cli_parse(&analyze_cli, argc, argv, &cfg, &args);
    if (parsed != CLI_RUN) {
        rc = parsed == CLI_EXIT_OK ? 0 : 2;
    } else if (args.positional_count == 0) {
        rc = cli_fail(&analyze_cli, "expected one or more log files (metrics.jsonl, "
                                    "diagnostics.jsonl)");
        fprintf(stderr, "usage: faultline %s\n", analyze_cli.usage);
    } else {
        rc = analyze_files(files, args.positional_count, args.json);
    }
    config_free(&cfg);
    return rc;
}
