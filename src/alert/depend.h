/* depend.h — worker dependencies: the `dependencies:` section of the --config file, read into
 * rules (which workers, by name glob and labels, depend on which checks or workers), and the
 * one question the server asks them: is a parent of this worker down now? Pure: the caller
 * says what is down. Loop thread only. docs/alerting.md, "Dependencies".
 *
 *     dependencies:
 *       - match: {name: "gpu-fra1-*"}                # or {labels: {site: fra1}}, or both
 *         depends_on: [fra1-uplink, core-router]     # names of checks or workers
 *
 * A name in depends_on need not exist when the file is read (checks come and go through the
 * API, workers appear with their first heartbeat): a name that is neither counts as up. */
#ifndef FAULTLINE_ALERT_DEPEND_H
#define FAULTLINE_ALERT_DEPEND_H

#include <stdbool.h>
#include <stddef.h>

#include "base/config.h"
#include "model/alert.h"

#define DEPEND_NAME_MAX 128  /* a parent's name, as checks' names */
#define DEPEND_WHERE_MAX 192 /* "FILE:LINE:COLUMN: dependencies[0].depends_on[1]" */

/* A parent as the file names it, and where (for the server's warning about unknown names). */
struct depend_parent {
    char *name;
    char where[DEPEND_WHERE_MAX];
};

/* One rule: a worker whose name matches name (a glob; NULL: any) and whose labels match every
 * label (key and a glob of its value) depends on every parent. */
struct depend_rule {
    char *name;
    struct label *labels; /* strings owned by the rule */
    size_t n_labels;
    struct depend_parent *parents;
    size_t n_parents;
};

/* Filled by the section's reader (strings owned here); freed by config_free. */
struct depend_settings {
    struct depend_rule *rules;
    size_t n_rules;
};

extern const struct config_table depend_settings_table;

/* Whether r applies to the worker name with its labels (a label it lacks never matches). */
bool depend_rule_matches(const struct depend_rule *r, const char *name, const struct label *labels,
                         size_t n_labels);

/* Whether parent (a check or worker) is down now; ctx is the caller's. */
typedef bool (*depend_is_down_fn)(const char *parent, void *ctx);

/* The first parent of the worker name (over the rules that match it, in file order) that is down,
 * or NULL when none is. A worker is never its own parent. The name is borrowed from s. */
const char *depend_down_parent(const struct depend_settings *s, const char *name,
                               const struct label *labels, size_t n_labels,
                               depend_is_down_fn is_down, void *ctx);

#endif
