/* model/alert.h — one alert as the router (alert/router.h) sees it: what it is about (kind,
 * name, labels), how bad (severity, or a resolve), what people read (subject and a plain-text
 * body that each channel escapes for its own format), a stable dedup key that ties a problem to
 * its resolve, and a link to its page. Producers fill it on the loop thread and hand it to
 * alert_route(); nothing in it is owned (pointers are borrowed for the call). */
#ifndef FAULTLINE_MODEL_ALERT_H
#define FAULTLINE_MODEL_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/label.h"

/* Stored as text in outbox rows ("worker", "check", ...); values are append-only. */
enum alert_kind {
    ALERT_KIND_WORKER,   /* a worker DOWN or UP */
    ALERT_KIND_CHECK,    /* an active check (the check engine) */
    ALERT_KIND_INCIDENT, /* a correlated incident (network, widespread, server) */
    ALERT_KIND_FOLLOWUP, /* the diagnosis that follows an incident */
    ALERT_KIND_GPU,      /* a machine lost or got back GPUs */
    ALERT_KIND_MESH,     /* reserved for mesh links */
    ALERT_KIND_TEST,     /* `faultline alert test` */
    ALERT_KIND_COUNT
};

enum alert_severity {
    ALERT_SEVERITY_INFO,
    ALERT_SEVERITY_WARNING,
    ALERT_SEVERITY_CRITICAL,
    ALERT_SEVERITY_COUNT
};

/* Never NULL ("unknown" for an out-of-range value). */
const char *alert_kind_name(enum alert_kind kind);
const char *alert_severity_name(enum alert_severity severity);
/* Return 0 and set *out, or -1 for an unknown name. */
int alert_kind_parse(const char *name, enum alert_kind *out);
int alert_severity_parse(const char *name, enum alert_severity *out);

#define ALERT_KEY_MAX 160  /* dedup keys: "worker:NAME", "check:NAME", "incident:ID" */
#define ALERT_LABELS_MAX 16

struct alert_message {
    enum alert_kind kind;
    enum alert_severity severity;
    /* The problem under dedup_key is over: sent to exactly the channels that were told of it. */
    bool resolve;
    const char *name;    /* the worker, check or incident id it is about */
    const char *subject; /* one line: "brickbox-43 is DOWN" */
    const char *text;    /* the whole message, plain text (no markup): the channel escapes it */
    const struct label *labels; /* site, tags; n_labels of them (base/label.h) */
    size_t n_labels;
    /* Ties a problem to its resolve and to its duplicates after a crash: "worker:NAME",
     * "gpu:NAME", "check:NAME", "incident:ID". NULL or "": a one-off message (follow-ups). */
    const char *dedup_key;
    const char *link;     /* PUBLIC_URL + the page it is about; NULL when PUBLIC_URL is unset */
    int64_t created_ms;   /* wall clock */
    /* Channels asked for by name besides the routes (a check's alerters.warning/critical). */
    const char *const *channels;
    size_t n_channels;
};

#endif
