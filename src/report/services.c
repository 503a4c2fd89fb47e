/* services.c — the report's "services" section: the REPORT_UNITS units' states, restarts, memory
 * and CPU read through sd-bus (libsystemd) from systemd's manager, the failed units, and restart
 * loops (report_unit_restart_loop, with the caller's history of NRestarts when it keeps one).
 * Without a system bus (a container), an error and empty lists. Every call has the report's 4 s
 * command limit. */
#include "report/report_internal.h"

#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "base/clock.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT "org.freedesktop.systemd1.Unit"
#define SYSTEMD_SERVICE "org.freedesktop.systemd1.Service"

/* ---- the history of NRestarts across collections ------------------------------------------- */

#define REPORT_HISTORY_UNITS 64
#define REPORT_HISTORY_SAMPLES 16

struct report_history {
    struct report_history_unit {
        char name[256];
        size_t n; /* samples, oldest first */
        struct {
            int64_t time_ms, restarts;
        } samples[REPORT_HISTORY_SAMPLES];
    } units[REPORT_HISTORY_UNITS];
    size_t count;
};

struct report_history *report_history_new(void)
{
    return calloc(1, sizeof(struct report_history));
}

void report_history_free(struct report_history *h)
{
    free(h);
}

void report_history_note(struct report_history *h, struct report_unit *u, int64_t now_ms)
{
    u->restarts_before = -1;
    if (!h || u->restarts < 0)
        return;
    struct report_history_unit *hu = NULL;
    for (size_t i = 0; i < h->count && !hu; i++)
        if (strcmp(h->units[i].name, u->name) == 0)
            hu = &h->units[i];
    if (!hu && h->count == REPORT_HISTORY_UNITS)
        return;
    if (!hu) {
        hu = &h->units[h->count++];
        snprintf(hu->name, sizeof hu->name, "%s", u->name);
        hu->n = 0;
    }
    size_t keep = 0; /* the first sample still within the window */
    while (keep < hu->n && now_ms - hu->samples[keep].time_ms > REPORT_RESTART_WINDOW_S * 1000LL)
        keep++;
    if (hu->n - keep == REPORT_HISTORY_SAMPLES)
        keep++;
    memmove(hu->samples, hu->samples + keep, (hu->n - keep) * sizeof hu->samples[0]);
    hu->n -= keep;
    if (hu->n > 0)
        u->restarts_before = hu->samples[0].restarts;
    hu->samples[hu->n].time_ms = now_ms;
    hu->samples[hu->n].restarts = u->restarts;
    hu->n++;
}

bool report_unit_restart_loop(const struct report_unit *u, int64_t now_ms)
{
    if (strcmp(u->sub_state, "auto-restart") == 0)
        return true;
    if (u->restarts_before >= 0 && u->restarts - u->restarts_before >= 3)
        return true;
    if (strcmp(u->active_state, "activating") == 0 && u->restarts > 0)
        return true;
    return u->restarts >= 3 && u->active_since_ms > 0 &&
           now_ms - u->active_since_ms < REPORT_RESTART_WINDOW_S * 1000LL;
}

json_t *report_unit_json(const struct report_unit *u, int64_t now_ms)
{
    char iso[CLOCK_ISO_LEN] = "";
    if (u->active_since_ms > 0)
        clock_format_iso(u->active_since_ms, iso, sizeof iso);
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:b}", "name", u->name, "load_state",
                     u->load_state, "active_state", u->active_state, "sub_state", u->sub_state,
                     "restarts", report_int_or_null(u->restarts), "memory_bytes",
                     report_int_or_null(u->memory_bytes), "cpu_ns", report_int_or_null(u->cpu_ns),
                     "active_since", report_text_or_null(iso), "restart_loop",
                     report_unit_restart_loop(u, now_ms));
}

static void report_bus_string(sd_bus *bus, const char *path, const char *name, char *out,
                              size_t len)
{
    char *value = NULL;
    sd_bus_error e = SD_BUS_ERROR_NULL;
    if (sd_bus_get_property_string(bus, SYSTEMD_DEST, path, SYSTEMD_UNIT, name, &e, &value) >= 0)
        snprintf(out, len, "%s", value);
    free(value);
    sd_bus_error_free(&e);
}

/* A uint64 ('t') or uint32 ('u') property; -1 when absent or systemd's "unknown" (all ones). */
static int64_t report_bus_number(sd_bus *bus, const char *path, const char *iface, const char *name,
                                 char type)
{
    sd_bus_error e = SD_BUS_ERROR_NULL;
    uint64_t v64 = 0;
    uint32_t v32 = 0;
    int r = sd_bus_get_property_trivial(bus, SYSTEMD_DEST, path, iface, name, &e, type,
                                        type == 't' ? (void *)&v64 : (void *)&v32);
    sd_bus_error_free(&e);
    if (r < 0)
        return -1;
    if (type == 'u')
        return v32 == UINT32_MAX ? -1 : (int64_t)v32;
    return v64 >= (uint64_t)INT64_MAX ? -1 : (int64_t)v64;
}

struct report_units_ctx {
    struct report_job *job;
    sd_bus *bus;
    json_t *units;
};

static void report_unit_of(const char *name, void *arg)
{
    struct report_units_ctx *c = arg;
    struct report_unit u = {
        .restarts = -1, .memory_bytes = -1, .cpu_ns = -1, .restarts_before = -1};
    snprintf(u.name, sizeof u.name, "%s%s", name, strchr(name, '.') ? "" : ".service");
    sd_bus_error e = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    const char *path = NULL;
    int r = sd_bus_call_method(c->bus, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "LoadUnit", &e,
                               &reply, "s", u.name);
    if (r < 0 || sd_bus_message_read(reply, "o", &path) < 0) {
        report_fail(c->job, "%s: %s", u.name, e.message ? e.message : strerror(-r));
        snprintf(u.load_state, sizeof u.load_state, "unknown");
    } else {
        report_bus_string(c->bus, path, "LoadState", u.load_state, sizeof u.load_state);
        report_bus_string(c->bus, path, "ActiveState", u.active_state, sizeof u.active_state);
        report_bus_string(c->bus, path, "SubState", u.sub_state, sizeof u.sub_state);
        int64_t since = report_bus_number(c->bus, path, SYSTEMD_UNIT, "ActiveEnterTimestamp", 't');
        u.active_since_ms = since > 0 ? since / 1000 : 0;
        if (strstr(u.name, ".service")) {
            u.restarts = report_bus_number(c->bus, path, SYSTEMD_SERVICE, "NRestarts", 'u');
            u.memory_bytes = report_bus_number(c->bus, path, SYSTEMD_SERVICE, "MemoryCurrent", 't');
            u.cpu_ns = report_bus_number(c->bus, path, SYSTEMD_SERVICE, "CPUUsageNSec", 't');
        }
    }
    sd_bus_message_unref(reply);
    sd_bus_error_free(&e);
    int64_t now_ms = clock_wall_ms();
    report_history_note(c->job->opts->history, &u, now_ms);
    json_array_append_new(c->units, report_unit_json(&u, now_ms));
}

/* ListUnitsFiltered(["failed"]): a(ssssssouso), the name first. */
static json_t *report_failed_units(struct report_job *job, sd_bus *bus)
{
    json_t *failed = json_array();
    sd_bus_error e = SD_BUS_ERROR_NULL;
    sd_bus_message *m = NULL, *reply = NULL;
    int r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "ListUnitsFiltered");
    if (r >= 0)
        r = sd_bus_message_append_strv(m, (char *[]){"failed", NULL});
    if (r >= 0)
        r = sd_bus_call(bus, m, 0, &e, &reply);
    if (r >= 0)
        r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
    const char *name;
    while (r >= 0 && (r = sd_bus_message_read(reply, "(ssssssouso)", &name, NULL, NULL, NULL, NULL,
                                              NULL, NULL, NULL, NULL, NULL)) > 0)
        json_array_append_new(failed, json_string(name));
    if (r < 0)
        report_fail(job, "failed units: %s", e.message ? e.message : strerror(-r));
    sd_bus_message_unref(m);
    sd_bus_message_unref(reply);
    sd_bus_error_free(&e);
    return failed;
}

static void report_services_collect(struct report_job *job)
{
    sd_bus *bus = NULL;
    json_t *units = json_array();
    json_t *failed = NULL;
    int r = sd_bus_open_system(&bus);
    if (r < 0) {
        report_fail(job, "no system bus (systemd not running here?): %s", strerror(-r));
    } else {
        sd_bus_set_method_call_timeout(bus, REPORT_COMMAND_TIMEOUT_MS * 1000ULL);
        struct report_units_ctx c = {job, bus, units};
        report_list_each(job->opts->settings->units, report_unit_of, &c);
        failed = report_failed_units(job, bus);
    }
    sd_bus_flush_close_unref(bus);
    json_object_set_new(job->data, "units", units);
    json_object_set_new(job->data, "failed_units", failed ? failed : json_array());
}

const struct report_section report_services = {"services", report_services_collect};
