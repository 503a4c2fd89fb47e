/* config.h — faultline's settings: one table of named options, filled from defaults, a YAML file
 * (--config), .env in the working directory, the environment and command-line flags, in rising
 * precedence. Every value is validated where it is read; a bad one yields an error naming the
 * setting, the value and what was expected, e.g.
 *   FAIL_TIMEOUT: expected a positive number of seconds, got "abc"
 * Names are the uptime-bot names (API_KEY, SERVER_PORT, ...); YAML keys may be lower case and
 * flags are --fail-timeout style. */
#ifndef FAULTLINE_CONFIG_H
#define FAULTLINE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* All settings. Strings are owned by the config (freed by config_free) and are NULL when unset.
 * Durations are in milliseconds. */
struct config {
    char *api_key;
    char *server_addr;
    int server_port;
    int64_t fail_timeout_ms;
    int64_t ping_interval_ms;
    char *telegram_token;
    char *chat_id;
    char *admin_user;
    char *admin_pass;
    char *data_dir;
    char *store; /* store URI; NULL: sqlite://DATA_DIR/faultline.db */
    char *telegram_api_url;
    char *listen_addr;
    char *log_level;
    char *site;
    /* Root-cause analysis (server). */
    int64_t rca_window_ms;
    int rca_threshold;
    int64_t rca_hold_ms;        /* 0: the same as PING_INTERVAL */
    char *rca_canaries;         /* target list (see config_split_targets); "" = none */
    int64_t rca_canary_interval_ms;
    /* Diagnostics (agent). */
    int64_t diag_interval_ms;
    char *diag_targets;         /* target list */
    char *diag_gateway;         /* NULL: the default gateway from the routing table */
    int diag_ping_count;
    int diag_mtr_rounds;
    int diag_mtr_max_hops;
    int log_max_mb;
};

/* One entry of a target list such as "gateway, 1.1.1.1, example.net:8443, [2001:db8::1]:53":
 * a host (name, IPv4, IPv6 literal without brackets, or the word "gateway") and a port (0 when
 * the entry names none). */
#define CONFIG_TARGETS_MAX 16 /* entries a target list may have */

struct config_target {
    char host[256];
    int port;
};

/* Splits a target list (already validated by config_set) into at most max entries; returns how
 * many, or -1 with err set when the text is not a valid list. "none" and "" give 0. */
int config_split_targets(const char *list, struct config_target *out, int max, char *err,
                         size_t errlen);

/* Where settings come from. Any member may be NULL. env_file defaults to nothing: callers pass
 * ".env" to read the working directory's file. flags are "--name=value" or "--name value"
 * already split into argv style; flags that are not settings are an error. */
struct config_sources {
    const char *yaml_path;
    const char *env_file;
    char *const *environ;
    int flag_count;
    char *const *flags;
};

/* Sets every option to its default. Call before config_load or config_set. */
void config_init(struct config *cfg);

/* Frees the strings the config owns and resets it to the state before config_init. */
void config_free(struct config *cfg);

/* Applies each source over what cfg holds (call config_init first), in precedence order. Returns 0, or -1 with the first error
 * in err (which names the source, the setting, the value and what was expected). */
int config_load(struct config *cfg, const struct config_sources *src, char *err, size_t errlen);

/* Sets one option by its name (API_KEY, api_key or api-key). An empty value leaves the setting
 * as it was. Returns 0, or -1 with "NAME: expected ..., got \"value\"" in err; -2 if no option
 * has that name. */
int config_set(struct config *cfg, const char *name, const char *value, char *err, size_t errlen);

/* Reads KEY=VALUE lines (comments, "export ", quotes and trailing "# comment" allowed) from
 * text. Unknown keys are ignored; known ones are validated. Returns 0 or -1 with "LINE n: ..." */
int config_apply_env_text(struct config *cfg, const char *text, char *err, size_t errlen);

/* Reads a YAML mapping of setting names to scalars from text. Unknown keys are an error. */
int config_apply_yaml_text(struct config *cfg, const char *text, size_t len, char *err,
                           size_t errlen);

/* Checks that a setting a subcommand cannot run without is set: "API_KEY: required, not set". */
int config_require(const struct config *cfg, const char *name, char *err, size_t errlen);

/* Prints one line per option (name, default, description) for --help texts. */
void config_print_help(const char *const *names, int count);

#endif
