/* silence.h — silences and maintenance windows: what the alert router asks before it tells
 * anyone. A silence has matchers (a name glob, a kind, a severity, labels with =, != or =~)
 * and a time: from a start to an end (or for a duration), or recurring, a cron expression plus
 * a duration in a time zone. Silences come from the API (stored, src/store/store_silences.c)
 * and from the `silences:` section of the --config file (read here; they cannot be deleted).
 * Everything here is pure: the caller passes the time. Loop thread only. docs/silences.md. */
#ifndef FAULTLINE_SILENCE_H
#define FAULTLINE_SILENCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/label.h"

#define SILENCE_ID_MAX 32
#define SILENCE_TEXT_MAX 1024 /* comment */
#define SILENCE_LABELS_MAX 16

/* What the router knows of a message; every member may be NULL (then only silences without a
 * matcher on it match). Borrowed for the call. */
struct alert_match_input {
    const char *kind;     /* "worker", "check", "incident", ... */
    const char *name;     /* the worker's or check's name */
    const struct label_set *labels;
    const char *severity; /* "warning", "critical", ... */
};

struct silence;
struct silences;

/* ---- one silence ---- */

/* Reads a silence's definition (the body of POST /api/v1/silences, or an item of the YAML
 * section with every scalar as text):
 *   {"name": "gpu-*", "kind": "worker", "severity": "critical",
 *    "labels": ["region=eu", "role!=db", "rack=~a[0-9]+"],
 *    "starts_at": "2026-11-30T10:00:00Z" or ms, "ends_at": ... or "duration": "2h",
 *    "cron": "0 2 * * 6", "tz": "Europe/Berlin", "comment": "...", "author": "alice"}
 * At least one matcher; a one-off has ends_at or duration (starts_at defaults to now_ms); a
 * recurring one has cron, duration and optionally tz (default UTC). Returns the silence (free
 * with silence_free), or NULL with *field set to the member at fault (static text, e.g.
 * "labels") and err to "FIELD: expected ..., got \"...\"". tz_dir: NULL for TZ_DIR (tests). */
struct silence *silence_parse(const json_t *def, int64_t now_ms, const char *tz_dir,
                              const char **field, char *err, size_t errlen);
void silence_free(struct silence *s); /* NULL is a no-op */

/* Identity and bookkeeping, set by whoever keeps the silence. */
const char *silence_id(const struct silence *s);
const char *silence_comment(const struct silence *s); /* NULL: none */
void silence_set_id(struct silence *s, const char *id);
/* The config file that defines it (a copy is kept), or NULL when it came from the API. */
const char *silence_source(const struct silence *s);
void silence_set_source(struct silence *s, const char *file);
int64_t silence_expired_ms(const struct silence *s); /* 0: not expired */
void silence_set_times(struct silence *s, int64_t created_ms, int64_t expired_ms);
void silence_set_expired(struct silence *s, int64_t expired_ms);

/* Whether its matchers all match in (its time is not looked at). */
bool silence_matches(const struct silence *s, const struct alert_match_input *in);
/* Whether it silences at now_ms: not expired and inside its time (a one-off's [start, end), a
 * recurring window's [firing, firing + duration)). */
bool silence_active(const struct silence *s, int64_t now_ms);
/* The next start after now_ms (a recurring window's next firing, a one-off's start while it is
 * ahead), or -1 when none. */
int64_t silence_next_start(const struct silence *s, int64_t now_ms);

/* The definition as it is stored: times made absolute, a new reference. */
json_t *silence_definition_json(const struct silence *s);
/* The API's shape: the definition plus id, source, created_at, expired_at, active and (when
 * there is one) next_start, at now_ms. A new reference. */
json_t *silence_json(const struct silence *s, int64_t now_ms);

/* ---- a set of silences ---- */

struct silences *silences_new(void); /* NULL when out of memory */
void silences_free(struct silences *set); /* frees every silence in it; NULL is a no-op */
/* Takes s. Returns 0, or -1 when out of memory (s is then freed). */
int silences_add(struct silences *set, struct silence *s);
size_t silences_count(const struct silences *set);
struct silence *silences_at(const struct silences *set, size_t i);
struct silence *silences_find(const struct silences *set, const char *id); /* NULL: none */
/* Moves every silence of from into to (from is left empty). Returns 0 or -1 (out of memory). */
int silences_move(struct silences *to, struct silences *from);

/* The first silence of set (which may be NULL) active at now_ms whose matchers match in, or
 * NULL. For the alert router. */
const struct silence *silences_match(const struct silences *set,
                                     const struct alert_match_input *in, int64_t now_ms);

/* ---- the `silences:` section of the --config file ---- */

/* Filled by the section's reader; the caller that attached the table frees configured with
 * silences_free. Silences read from a file get the ids "config-1", "config-2", ... in order. */
struct silence_settings {
    struct silences *configured;
};

extern const struct config_table silence_settings_table;

#endif
