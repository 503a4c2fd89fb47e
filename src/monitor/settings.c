/* settings.c — the monitor's option table and its two YAML sections, `nodes:` and
 * `thresholds:`, read with the node API of base/config.h so that errors name file, line and
 * column; see settings.h. */
#include "monitor/settings.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(f) offsetof(struct monitor_settings, f)

const char *monitor_node_label(const struct monitor_node *n)
{
    return n->name ? n->name : n->host;
}

static void node_free(struct monitor_node *n)
{
    free(n->host);
    free(n->name);
    free(n->user);
    free(n->env);
    free(n->role);
    free(n->identity_file);
    for (size_t i = 0; i < n->ssh_option_count; i++)
        free(n->ssh_options[i]);
    free(n->faultline);
    memset(n, 0, sizeof *n);
}

void monitor_settings_init(struct monitor_settings *s)
{
    memset(s, 0, sizeof *s);
    s->thresholds = (struct monitor_thresholds){
        .mem_used_pct = 90,
        .disk_used_pct = 85,
        .swap_used_pct = 30,
        .tls_days_left = 14,
        .wg_handshake_age_s = 180,
        .clock_skew_s = 5,
        .report_age_s = 900,
    };
}

void monitor_settings_free(struct monitor_settings *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->node_count; i++)
        node_free(&s->nodes[i]);
    free(s->nodes);
    s->nodes = NULL;
    s->node_count = 0;
}

/* ---- nodes: ------------------------------------------------------------------------------- */

/* A scalar (a non-empty text without control characters, at most max bytes) into *out, copied;
 * absent leaves *out as it is. */
static int read_text(const struct config_node *map, const char *key, size_t max, char **out,
                     char *err, size_t errlen)
{
    struct config_node v = config_node_get(map, key);
    if (config_node_type(&v) == CONFIG_NODE_NONE)
        return 0;
    const char *text = config_node_text(&v);
    if (!text || !*text || strlen(text) > max)
        return config_node_fail(&v, err, errlen, "expected a text of 1 to %zu bytes", max);
    for (const char *p = text; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return config_node_fail(&v, err, errlen, "expected no control characters");
    free(*out);
    *out = strdup(text);
    return *out ? 0 : config_node_fail(&v, err, errlen, "out of memory");
}

static bool valid_host(const char *h)
{
    /* A leading '-' would read as an ssh option. */
    return h[0] != '-' && config_check_host(h);
}

static int read_port(const struct config_node *map, int *port, char *err, size_t errlen)
{
    struct config_node v = config_node_get(map, "port");
    if (config_node_type(&v) == CONFIG_NODE_NONE)
        return 0;
    const char *text = config_node_text(&v);
    char *end = NULL;
    long p = text ? strtol(text, &end, 10) : 0;
    if (!text || !*text || *end || p < 1 || p > 65535)
        return config_node_fail(&v, err, errlen, "expected %s, got \"%.60s\"", CONFIG_EXPECT_PORT,
                                text ? text : "");
    *port = (int)p;
    return 0;
}

static int read_ssh_options(const struct config_node *map, struct monitor_node *n, char *err,
                            size_t errlen)
{
    struct config_node seq = config_node_get(map, "ssh_options");
    if (config_node_type(&seq) == CONFIG_NODE_NONE)
        return 0;
    if (config_node_type(&seq) != CONFIG_NODE_SEQUENCE)
        return config_node_fail(
            &seq, err, errlen,
            "expected a list of ssh options such as \"StrictHostKeyChecking=no\"");
    size_t count = config_node_length(&seq);
    if (count > MONITOR_SSH_OPTIONS_MAX)
        return config_node_fail(&seq, err, errlen, "expected at most %d options, got %zu",
                                MONITOR_SSH_OPTIONS_MAX, count);
    for (size_t i = 0; i < count; i++) {
        struct config_node item = config_node_item(&seq, i);
        const char *text = config_node_text(&item);
        if (!text || !*text || text[0] == '-' || strlen(text) > 1024)
            return config_node_fail(&item, err, errlen,
                                    "expected an ssh option as Name=value (without -o)");
        if (!(n->ssh_options[n->ssh_option_count] = strdup(text)))
            return config_node_fail(&item, err, errlen, "out of memory");
        n->ssh_option_count++;
    }
    return 0;
}

static const char *const node_keys[] = {"host", "name",          "user",        "port",     "env",
                                        "role", "identity_file", "ssh_options", "faultline"};

static int check_node_keys(const struct config_node *map, char *err, size_t errlen)
{
    for (size_t i = 0; i < config_node_length(map); i++) {
        struct config_node key = config_node_key_at(map, i);
        const char *k = config_node_text(&key);
        bool known = false;
        for (size_t j = 0; k && j < sizeof node_keys / sizeof node_keys[0]; j++)
            known = known || strcmp(k, node_keys[j]) == 0;
        if (!known)
            return config_node_fail(&key, err, errlen,
                                    "unknown key \"%.60s\" (expected host, name, user, port, env, "
                                    "role, identity_file, ssh_options or faultline)",
                                    k ? k : "");
    }
    return 0;
}

static int read_node(const struct config_node *map, struct monitor_node *n, char *err,
                     size_t errlen)
{
    if (config_node_type(map) != CONFIG_NODE_MAPPING)
        return config_node_fail(map, err, errlen, "expected a mapping with at least host:");
    if (check_node_keys(map, err, errlen) != 0)
        return -1;
    struct config_node host = config_node_get(map, "host");
    if (config_node_type(&host) == CONFIG_NODE_NONE)
        return config_node_fail(map, err, errlen, "host: required, not set");
    if (read_text(map, "host", 253, &n->host, err, errlen) != 0)
        return -1;
    if (!valid_host(n->host))
        return config_node_fail(&host, err, errlen, "expected %s, got \"%.60s\"",
                                CONFIG_EXPECT_HOST, n->host);
    if (read_text(map, "name", 128, &n->name, err, errlen) != 0 ||
        read_text(map, "user", 64, &n->user, err, errlen) != 0 ||
        read_text(map, "env", 64, &n->env, err, errlen) != 0 ||
        read_text(map, "role", 64, &n->role, err, errlen) != 0 ||
        read_text(map, "identity_file", 4096, &n->identity_file, err, errlen) != 0 ||
        read_text(map, "faultline", 1024, &n->faultline, err, errlen) != 0 ||
        read_port(map, &n->port, err, errlen) != 0 || read_ssh_options(map, n, err, errlen) != 0)
        return -1;
    if (n->user && n->user[0] == '-')
        return config_node_fail(map, err, errlen, "user: expected a user name, got \"%.60s\"",
                                n->user);
    if (!n->faultline && !(n->faultline = strdup("faultline")))
        return config_node_fail(map, err, errlen, "out of memory");
    return 0;
}

static int read_nodes(const struct config_node *value, void *settings, char *err, size_t errlen)
{
    if (config_node_type(value) != CONFIG_NODE_SEQUENCE)
        return config_node_fail(value, err, errlen, "expected a list of nodes (- host: ...)");
    size_t count = config_node_length(value);
    if (count > MONITOR_NODES_MAX)
        return config_node_fail(value, err, errlen, "expected at most %d nodes, got %zu",
                                MONITOR_NODES_MAX, count);
    struct monitor_node *nodes = calloc(count ? count : 1, sizeof *nodes);
    if (!nodes)
        return config_node_fail(value, err, errlen, "out of memory");
    for (size_t i = 0; i < count; i++) {
        struct config_node item = config_node_item(value, i);
        if (read_node(&item, &nodes[i], err, errlen) != 0) {
            for (size_t j = 0; j <= i; j++)
                node_free(&nodes[j]);
            free(nodes);
            return -1;
        }
    }
    struct monitor_settings *s = settings;
    if (!s) { /* another command: checked only */
        for (size_t i = 0; i < count; i++)
            node_free(&nodes[i]);
        free(nodes);
        return 0;
    }
    monitor_settings_free(s);
    s->nodes = nodes;
    s->node_count = count;
    return 0;
}

/* ---- thresholds: -------------------------------------------------------------------------- */

struct threshold_key {
    const char *name;
    size_t offset;
    double max;
};

#define LIMIT(f, m)                                                                                \
    {                                                                                              \
#f, offsetof(struct monitor_thresholds, f), m                                              \
    }
static const struct threshold_key threshold_keys[] = {
    LIMIT(mem_used_pct, 100),       LIMIT(disk_used_pct, 100),        LIMIT(swap_used_pct, 100),
    LIMIT(tls_days_left, 3650),     LIMIT(wg_handshake_age_s, 86400), LIMIT(clock_skew_s, 86400),
    LIMIT(report_age_s, 86400 * 7),
};

static int read_threshold(const struct config_node *key, const struct config_node *value,
                          struct monitor_thresholds *t, char *err, size_t errlen)
{
    const char *k = config_node_text(key);
    for (size_t i = 0; k && i < sizeof threshold_keys / sizeof threshold_keys[0]; i++) {
        if (strcmp(k, threshold_keys[i].name) != 0)
            continue;
        const char *text = config_node_text(value);
        char *end = NULL;
        double v = text && *text ? strtod(text, &end) : NAN;
        if (!text || !*text || *end || !isfinite(v) || v < 0 || v > threshold_keys[i].max)
            return config_node_fail(value, err, errlen,
                                    "expected a number from 0 to %g, got \"%.60s\"",
                                    threshold_keys[i].max, text ? text : "");
        if (t)
            *(double *)((char *)t + threshold_keys[i].offset) = v;
        return 0;
    }
    return config_node_fail(key, err, errlen,
                            "unknown threshold \"%.60s\" (expected mem_used_pct, disk_used_pct, "
                            "swap_used_pct, tls_days_left, wg_handshake_age_s, clock_skew_s or "
                            "report_age_s)",
                            k ? k : "");
}

static int read_thresholds(const struct config_node *value, void *settings, char *err,
                           size_t errlen)
{
    if (config_node_type(value) != CONFIG_NODE_MAPPING)
        return config_node_fail(value, err, errlen, "expected a mapping such as mem_used_pct: 90");
    struct monitor_settings *s = settings;
    struct monitor_thresholds t = s ? s->thresholds : (struct monitor_thresholds){0};
    for (size_t i = 0; i < config_node_length(value); i++) {
        struct config_node key = config_node_key_at(value, i);
        struct config_node v = config_node_value_at(value, i);
        if (read_threshold(&key, &v, &t, err, errlen) != 0)
            return -1;
    }
    if (s)
        s->thresholds = t;
    return 0;
}

static const struct config_option monitor_options[] = {
    {"MONITOR_TIMEOUT", CONFIG_SECONDS, FIELD(timeout_ms), "10",
     .help = "monitor: seconds each node has to answer over ssh (or the server to answer)"},
    {"MONITOR_REFRESH", CONFIG_SECONDS, FIELD(refresh_ms), "30",
     .help = "monitor: seconds between collections of `monitor live`"},
};

static const struct config_section monitor_sections[] = {
    {"nodes", read_nodes},
    {"thresholds", read_thresholds},
};

const struct config_table monitor_settings_table = {
    .module = "monitor",
    .options = monitor_options,
    .option_count = sizeof monitor_options / sizeof monitor_options[0],
    .sections = monitor_sections,
    .section_count = sizeof monitor_sections / sizeof monitor_sections[0],
};
