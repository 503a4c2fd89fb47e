/* model/names.c — the text names of the model's enums, as stored and served. */
#include <string.h>

#include "model/alert.h"
#include "model/event.h"
#include "model/incident.h"
#include "model/worker.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const worker_state_names[] = {
    [WORKER_UNKNOWN] = "unknown", [WORKER_UP] = "up", [WORKER_DOWN] = "down"};
static const char *const event_kind_names[] = {[EVENT_UP] = "up",
                                               [EVENT_DOWN] = "down",
                                               [EVENT_GPU_LOST] = "gpu_lost",
                                               [EVENT_GPU_BACK] = "gpu_back",
                                               [EVENT_CHECK_STATE] = "check_state",
                                               [EVENT_ALERT_FAILED] = "alert_failed"};
static const char *const incident_class_names[] = {[INCIDENT_INDIVIDUAL] = "individual",
                                                   [INCIDENT_NETWORK] = "network",
                                                   [INCIDENT_WIDESPREAD] = "widespread",
                                                   [INCIDENT_SERVER] = "server"};
static const char *const incident_change_names[] = {[INCIDENT_OPENED] = "opened",
                                                    [INCIDENT_GREW] = "grew",
                                                    [INCIDENT_RECLASSIFIED] = "reclassified",
                                                    [INCIDENT_CLOSED] = "closed",
                                                    [INCIDENT_UPDATED] = "updated"};

static const char *const alert_kind_names[] = {
    [ALERT_KIND_WORKER] = "worker",     [ALERT_KIND_CHECK] = "check",
    [ALERT_KIND_INCIDENT] = "incident", [ALERT_KIND_FOLLOWUP] = "followup",
    [ALERT_KIND_GPU] = "gpu",           [ALERT_KIND_MESH] = "mesh",
    [ALERT_KIND_TEST] = "test"};
static const char *const alert_severity_names[] = {[ALERT_SEVERITY_INFO] = "info",
                                                   [ALERT_SEVERITY_WARNING] = "warning",
                                                   [ALERT_SEVERITY_CRITICAL] = "critical"};

/* Index of name in names (NULL slots skipped), or -1. */
static int name_index(const char *const *names, unsigned count, const char *name)
{
    for (unsigned i = 0; name && i < count; i++)
        if (names[i] && strcmp(name, names[i]) == 0)
            return (int)i;
    return -1;
}

const char *worker_state_name(enum worker_state state)
{
    if ((unsigned)state < COUNT(worker_state_names))
        return worker_state_names[state];
    return "unknown";
}

int worker_state_parse(const char *name, enum worker_state *out)
{
    int i = name_index(worker_state_names, COUNT(worker_state_names), name);
    if (i < 0)
        return -1;
    *out = (enum worker_state)i;
    return 0;
}

const char *event_kind_name(enum event_kind kind)
{
    if ((unsigned)kind < COUNT(event_kind_names) && event_kind_names[kind])
        return event_kind_names[kind];
    return "unknown";
}

int event_kind_parse(const char *name, enum event_kind *out)
{
    int i = name_index(event_kind_names, COUNT(event_kind_names), name);
    if (i < 0)
        return -1;
    *out = (enum event_kind)i;
    return 0;
}

const char *incident_class_name(enum incident_class cls)
{
    if ((unsigned)cls < COUNT(incident_class_names))
        return incident_class_names[cls];
    return "unknown";
}

int incident_class_parse(const char *name, enum incident_class *out)
{
    int i = name_index(incident_class_names, COUNT(incident_class_names), name);
    if (i < 0)
        return -1;
    *out = (enum incident_class)i;
    return 0;
}

const char *incident_change_name(enum incident_change change)
{
    if ((unsigned)change < COUNT(incident_change_names))
        return incident_change_names[change];
    return "unknown";
}

const char *alert_kind_name(enum alert_kind kind)
{
    if ((unsigned)kind < COUNT(alert_kind_names) && alert_kind_names[kind])
        return alert_kind_names[kind];
    return "unknown";
}

int alert_kind_parse(const char *name, enum alert_kind *out)
{
    int i = name_index(alert_kind_names, COUNT(alert_kind_names), name);
    if (i < 0)
        return -1;
    *out = (enum alert_kind)i;
    return 0;
}

const char *alert_severity_name(enum alert_severity severity)
{
    if ((unsigned)severity < COUNT(alert_severity_names))
        return alert_severity_names[severity];
    return "unknown";
}

int alert_severity_parse(const char *name, enum alert_severity *out)
{
    int i = name_index(alert_severity_names, COUNT(alert_severity_names), name);
    if (i < 0)
        return -1;
    *out = (enum alert_severity)i;
    return 0;
}
