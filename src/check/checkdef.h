/* checkdef.h — check definitions: one check read from JSON (the API) or from a YAML file of
 * CHECKS_DIR (a top-level `checks:` list), validated whole: every error names the file, line,
 * column and field (docs/checks.md lists the members). The check's type parses its own members
 * (probe_type.h); the conditions are read here (condition.h). */
#ifndef FAULTLINE_CHECK_CHECKDEF_H
#define FAULTLINE_CHECK_CHECKDEF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "check/condition.h"
#include "probe/probe_type.h"

#define CHECK_NAME_MAX 64 /* it names the check's events, as a worker's name does */
#define CHECK_INTERVAL_MIN_MS 100LL
#define CHECK_INTERVAL_MAX_MS (365LL * 86400 * 1000)

/* Finds a check type by name: probe_type_find, or a test's own table. */
typedef const struct probe_type *(*checkdef_find_fn)(const char *name);

struct checkdef {
    char *name;
    const struct probe_type *type;
    void *options; /* the type's parse; freed with type->free_options */
    int64_t interval_ms, timeout_ms;
    int fail_threshold, success_threshold; /* consecutive results before the state changes */
    struct condition **conditions;         /* none: the type's default_condition */
    size_t n_conditions;
    const struct condition *fallback; /* that default, shared by the type's checks (not owned);
                                         NULL with conditions, or when the exit code judges */
    bool enabled;
    bool on_server;      /* run_on absent, `server`, or with server: true */
    json_t *run_on_tags; /* run_on.tags: the agents it runs on; NULL when on the server only */
    int quorum;          /* 0: more than half of the runners */
    char *text; /* the definition as written, compact JSON (a tenth of the jansson object):
                   tags, alerters, depends_on, target and description are read from it by
                   checkdef_json when a state changes or the API asks */
    char *file; /* the file that defines it; NULL for a check created through the API */
};

/* Errors are JSON objects {"file", "line", "column", "field", "message"} appended to an array
 * (file, line and column absent where unknown, e.g. a definition from the API). */

/* Reads one check from def (a JSON object). file: the file it came from (NULL: the API);
 * positions: {"PATH": [line, column]} from the YAML reader, or NULL; prefix: the path of def
 * in the file ("checks[2]"; "" for the API). Returns the check (free with checkdef_free), or
 * NULL after appending every error found to errors. */
struct checkdef *checkdef_parse(const json_t *def, checkdef_find_fn find, const char *file,
                                const json_t *positions, const char *prefix, json_t *errors);
void checkdef_free(struct checkdef *c); /* NULL: no-op */

/* Whether a and b define the same check (same JSON, same file): then a reload keeps its state. */
bool checkdef_same(const struct checkdef *a, const struct checkdef *b);

/* The definition as written, read from c->text: a new reference (NULL when out of memory). */
json_t *checkdef_json(const struct checkdef *c);

/* One member of the definition as text ("target"): copied into out, false when absent or not
 * text. */
bool checkdef_member_text(const struct checkdef *c, const char *member, char *out, size_t len);

/* A duration with its unit, "300ms", "1.5s", "30s", "5m", "2h", "14d", "1y", into ms. */
int checkdef_duration_parse(const char *text, int64_t *ms);

/* "FILE:LINE:COLUMN: FIELD: MESSAGE" (the parts known) of one error object. */
void checkdef_error_text(const json_t *error, char *out, size_t len);

/* The checks of a set of files (a CHECKS_DIR), in file order then list order. */
struct checkdef_set {
    struct checkdef **defs;
    size_t n;
    json_t *errors; /* every error of every file; empty when the set is good */
    size_t *index;  /* open addressing by name: 1 + the position in defs, 0 for empty */
    size_t index_cap; /* a power of two, at least twice n */
};
void checkdef_set_init(struct checkdef_set *set);
void checkdef_set_free(struct checkdef_set *set); /* frees the checks still in defs */

/* Reads text (YAML, the contents of file) into set: its checks, or its errors. Names already in
 * set are duplicates (an error naming both places). Returns the number of errors added. */
int checkdef_load_text(struct checkdef_set *set, const char *file, const char *text, size_t len,
                       checkdef_find_fn find);

/* Sorts set's checks by name (strcmp, as the server's list). */
void checkdef_set_sort(struct checkdef_set *set);

/* Reads every *.yaml and *.yml file of dir (sorted by name) into set. A missing dir is an empty
 * set; one that cannot be read (out of descriptors) an error. Returns the number of errors
 * added. */
int checkdef_load_dir(struct checkdef_set *set, const char *dir, checkdef_find_fn find);

#endif
