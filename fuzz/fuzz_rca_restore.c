/* fuzz_rca_restore.c — libFuzzer target for restoring stored incidents (rca_restore, and the
 * codec behind it). The input is the stored JSON texts of one incident, separated by NUL bytes:
 * workers, evidence, scope. A restored incident is then served (rca_analysis) and carried to
 * its end (tick, every worker back, canaries recovered), so what restore accepts is also
 * exercised by the rest of the engine and the incident texts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alert/format.h"
#include "model/incident.h"
#include "rca/rca.h"

#define T0 1795255332000LL

static int64_t next_id(void *ctx)
{
    int64_t *id = ctx;
    return (*id)++;
}

static void on_change(enum incident_change change, const struct rca_incident_view *v, void *ctx)
{
    char text[1024];
    alert_format_incident_message(change, v->alert, text, sizeof text);
}

/* The first n NUL-separated fields of text[0, size] (text[size] is NUL); missing ones are
 * NULL (restore reads them as empty). */
static void split(const char *text, size_t size, const char **fields, size_t n)
{
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        fields[i] = at <= size ? text + at : NULL;
        if (at <= size)
            at += strlen(text + at) + 1;
    }
}

/* Sends every worker named in the stored workers back. */
static void all_back(struct rca *rca, const char *workers_json, int64_t now_ms)
{
    json_t *arr = json_loads(workers_json ? workers_json : "[]", 0, NULL);
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));
        if (name)
            rca_worker_up(rca, name, now_ms);
    }
    json_decref(arr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    const char *fields[3];
    split(text, size, fields, 3);

    struct rca_config cfg = {
        .window_ms = 60000, .hold_ms = 30000, .threshold = 3, .server_fraction = 0.8};
    int64_t id = 2;
    struct rca *rca;
    char err[256];
    if (rca_new(&cfg, next_id, &id, on_change, NULL, &rca, err, sizeof err) != 0)
        abort();
    struct incident_record rec = {.id = 1,
                                  .classification = "network",
                                  .workers_json = fields[0],
                                  .evidence_json = fields[1],
                                  .scope_json = fields[2],
                                  .opened_ms = T0,
                                  .updated_ms = T0};
    if (rca_restore(rca, &rec, err, sizeof err) == 0) {
        json_decref(rca_analysis(rca, T0 + 1000));
        rca_worker_down(rca, "fuzz-new", "192.0.2.1", "", 10, T0 + 2000, err, sizeof err);
        rca_tick(rca, T0 + 3600000);
        all_back(rca, fields[0], T0 + 3600001);
        rca_worker_up(rca, "fuzz-new", T0 + 3600001);
        rca_canaries(rca, false, NULL, T0 + 3600002, err, sizeof err);
        rca_flush(rca);
    }
    rca_free(rca);
    free(text);
    return 0;
}
