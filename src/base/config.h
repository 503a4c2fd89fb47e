/* config.h — faultline's settings. Each module describes its own settings as an option table
 * (struct config_table) beside its settings struct; this file holds the mechanism and the few
 * settings every command shares (struct config). Values come from defaults, a YAML file
 * (--config), .env in the working directory, the environment and command-line flags, in rising
 * precedence. Every value is validated where it is read; a bad one yields an error naming the
 * setting, the value and what was expected, e.g.
 *   FAIL_TIMEOUT: expected a positive number of seconds, got "abc"
 * Names are the uptime-bot names (API_KEY, SERVER_PORT, ...); YAML keys may be lower case and
 * flags are --fail-timeout style.
 *
 * Registration comes from above: the layer that assembles the commands (main.c) tells this
 * module every table there is (config_register_tables), so that a key known to any module is
 * accepted, and checked, by every command; a command attaches the tables it uses to its config
 * (config_attach), and only those are filled. The YAML file may also hold sections (lists or
 * mappings such as `channels:`), each handed to the reader its module's table names. */
#ifndef FAULTLINE_CONFIG_H
#define FAULTLINE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- option tables ---------------------------------------------------------------------- */

enum config_kind {
    CONFIG_TEXT,    /* char *: text of at most 4096 bytes, or what .check accepts */
    CONFIG_SECONDS, /* int64_t: a positive number of seconds (fractions allowed), kept in ms */
    CONFIG_INT,     /* int: a whole number from .min to .max */
};

enum config_flags {
    CONFIG_SECRET = 1,     /* never echoed in error messages */
    CONFIG_TRIM_SLASH = 2, /* trailing '/' removed (URLs) */
};

/* One setting. The value lives at .offset in the settings struct of the option's table. */
struct config_option {
    const char *name;          /* upper case: "RCA_WINDOW" */
    enum config_kind kind;
    size_t offset;             /* offsetof(struct MODULE_settings, field) */
    const char *default_value; /* as the user would write it; NULL: not set */
    const char *help;          /* one line for --help */
    bool (*check)(const char *value); /* CONFIG_TEXT only; NULL: any text up to 4096 bytes */
    const char *expected;      /* for errors; NULL: the kind's own ("a positive number of
                                * seconds", "a whole number from MIN to MAX", "text of ...") */
    int64_t min, max;          /* CONFIG_INT only */
    unsigned flags;            /* enum config_flags */
};

struct config_node;

/* A part of the --config file that is not a flat setting: `channels:` and its list. read gets
 * the node of the section's value and the module's settings struct, or NULL when the running
 * command does not use the module: it then only checks the section. It returns 0, or -1 with
 * err set, normally through config_node_fail so that the message names file, line and column. */
struct config_section {
    const char *name; /* the key in the YAML file, lower case: "channels" */
    int (*read)(const struct config_node *value, void *settings, char *err, size_t errlen);
};

/* A module's settings: its options and its YAML sections. Tables are const and static. */
struct config_table {
    const char *module; /* "agent", for messages and docs */
    const struct config_option *options;
    size_t option_count;
    const struct config_section *sections;
    size_t section_count;
    /* MAY: what the section readers put into settings. init empties it (config_attach, before
     * any reader runs), free releases it (config_free). */
    void (*sections_init)(void *settings);
    void (*sections_free)(void *settings);
};

/* Section names the YAML format reserves for modules that are not in this version yet. While no
 * table reads one, a file that has it is refused: "FILE:3:1: channels: not supported by this
 * version of faultline". */
#define CONFIG_RESERVED_SECTIONS "checks", "channels", "routes", "silences"

/* Tells the config module every table there is. tables must stay valid for the process; called
 * once at start (main.c). Options and sections of registered tables that a command has not
 * attached are still accepted and checked, and their values dropped. */
void config_register_tables(const struct config_table *const *tables, size_t count);

/* ---- the shared settings and a command's configuration ----------------------------------- */

#define CONFIG_MODULES_MAX 8 /* tables one command may attach */

/* The settings more than one module reads, and the module settings this command fills. Strings
 * are owned by the config (freed by config_free) and are NULL when unset. Durations are in ms. */
struct config {
    char *api_key;
    int server_port;
    int64_t fail_timeout_ms;
    int64_t ping_interval_ms;
    char *data_dir;
    char *log_level;
    /* Attached tables (config_attach): where their values go. */
    struct config_binding {
        const struct config_table *table;
        void *settings;
    } modules[CONFIG_MODULES_MAX];
    int module_count;
};

/* Sets every shared option to its default and attaches nothing. Call before anything else. */
void config_init(struct config *cfg);

/* Attaches a module's table: settings (a struct of the table's type, owned by the caller and
 * living at least until config_free) gets every option's default, and from now on the values
 * every source gives for the table's options and sections. The strings put into settings belong
 * to the config and are freed by config_free. Returns 0, or -1 when CONFIG_MODULES_MAX tables
 * are attached already. */
int config_attach(struct config *cfg, const struct config_table *table, void *settings);

/* Frees the strings the config owns (its own and its attached modules') and resets it to the
 * state before config_init. */
void config_free(struct config *cfg);

/* ---- sources -------------------------------------------------------------------------------*/

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

/* Applies each source over what cfg holds (call config_init first), in precedence order. Returns
 * 0, or -1 with the first error in err (which names the source, the setting, the value and what
 * was expected). */
int config_load(struct config *cfg, const struct config_sources *src, char *err, size_t errlen);

/* Sets one option by its name (API_KEY, api_key or api-key): the shared ones, those of attached
 * tables, and (checked, then dropped) those of registered tables. An empty value leaves the
 * setting as it was. Returns 0, or -1 with "NAME: expected ..., got \"value\"" in err; -2 if no
 * option has that name. */
int config_set(struct config *cfg, const char *name, const char *value, char *err, size_t errlen);

/* Reads KEY=VALUE lines (comments, "export ", quotes and trailing "# comment" allowed) from
 * text. Unknown keys are ignored; known ones are validated. Returns 0 or -1 with "LINE n: ..." */
int config_apply_env_text(struct config *cfg, const char *text, char *err, size_t errlen);

/* Reads a YAML mapping from text: setting names to scalars, and sections (a key some table
 * names in its sections) to whatever their reader accepts. Unknown keys are an error, and so is
 * a reserved section no table reads. file names the text in messages and may be NULL. Errors
 * about settings read "FILE line N: ..."; errors in sections "FILE:LINE:COLUMN: PATH: ...". */
int config_apply_yaml_text(struct config *cfg, const char *file, const char *text, size_t len,
                           char *err, size_t errlen);

/* Checks that a setting a subcommand cannot run without is set: "API_KEY: required, not set". */
int config_require(const struct config *cfg, const char *name, char *err, size_t errlen);

/* Prints one line per option (name, default, description) for --help texts. Names no shared,
 * attached or registered table knows are skipped. */
void config_print_help(const struct config *cfg, const char *const *names, int count);

/* ---- value checks shared by the tables ---------------------------------------------------- */

#define CONFIG_EXPECT_HOST "a host name or IP address"
#define CONFIG_EXPECT_IP "an IPv4 or IPv6 address"
#define CONFIG_EXPECT_URL "an http:// or https:// URL"
#define CONFIG_EXPECT_PORT "a port number from 1 to 65535"
#define CONFIG_EXPECT_TARGETS                                                                    \
    "a comma-separated list of at most 16 host or host:port entries (\"gateway\" allowed), or " \
    "none"

bool config_check_host(const char *v);    /* letters, digits and .-:_, at most 253 bytes */
bool config_check_ip(const char *v);      /* an IPv4 or IPv6 literal */
bool config_check_url(const char *v);     /* http:// or https://, no spaces, at most 1024 */
bool config_check_targets(const char *v); /* a target list (config_split_targets) */

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

/* ---- YAML nodes, for section readers ------------------------------------------------------ */

enum config_node_type {
    CONFIG_NODE_NONE, /* absent: a key the mapping does not have, an index past the end */
    CONFIG_NODE_SCALAR,
    CONFIG_NODE_SEQUENCE,
    CONFIG_NODE_MAPPING,
};

/* A node of the YAML document, by value, valid while the reader runs. path names it for
 * messages ("channels[1].type"); line and column are 1-based (of the parent for an absent
 * node). The document fields are private. */
struct config_node {
    const void *doc, *node;
    const char *file; /* NULL: messages name no file */
    size_t line, column;
    char path[128];
};

enum config_node_type config_node_type(const struct config_node *n);

/* The text of a scalar, or NULL when n is not one. YAML's plain null (~, null) is "". */
const char *config_node_text(const struct config_node *n);

/* Items of a sequence or pairs of a mapping; 0 for anything else. */
size_t config_node_length(const struct config_node *n);

/* Item i of a sequence (path "PARENT[i]"); CONFIG_NODE_NONE when out of range or not one. */
struct config_node config_node_item(const struct config_node *seq, size_t i);

/* The value under key in a mapping (path "PARENT.key"); CONFIG_NODE_NONE when absent. */
struct config_node config_node_get(const struct config_node *map, const char *key);

/* Pair i of a mapping: its key (a node, to name it in messages) and its value. */
struct config_node config_node_key_at(const struct config_node *map, size_t i);
struct config_node config_node_value_at(const struct config_node *map, size_t i);

/* Writes "FILE:LINE:COLUMN: PATH: message" (no "FILE:" without a file) into err; returns -1. */
int config_node_fail(const struct config_node *n, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
