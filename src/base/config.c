/* config.c — the shared option table, the registry of module tables, and the readers of every
 * source but YAML (config_yaml.c); see config.h. */
#include "base/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/config_internal.h"
#include "base/err.h"
#include "base/num.h"

static bool check_level(const char *v)
{
    return !strcmp(v, "debug") || !strcmp(v, "info") || !strcmp(v, "warn") || !strcmp(v, "error");
}

#define SHARED(f) offsetof(struct config, f)

static const struct config_option shared_options[] = {
    {"API_KEY", CONFIG_TEXT, SHARED(api_key), NULL, "shared secret between agents and server",
     .flags = CONFIG_SECRET},
    {"SERVER_PORT", CONFIG_INT, SHARED(server_port), "5000", "server HTTP port",
     .expected = CONFIG_EXPECT_PORT, .min = 0, .max = 65535}, /* 0: the server picks (agents refuse it) */
    {"FAIL_TIMEOUT", CONFIG_SECONDS, SHARED(fail_timeout_ms), "180",
     .help = "server: seconds without heartbeat before DOWN; agent: HTTP timeout"},
    {"PING_INTERVAL", CONFIG_SECONDS, SHARED(ping_interval_ms), "30",
     .help = "agent: seconds between heartbeats"},
    {"DATA_DIR", CONFIG_TEXT, SHARED(data_dir), "./data", .help = "where the database and logs live"},
    {"LOG_LEVEL", CONFIG_TEXT, SHARED(log_level), "info", "debug, info, warn or error",
     .check = check_level, .expected = "one of debug, info, warn, error"},
};

static const struct config_table shared_table = {
    .module = "faultline",
    .options = shared_options,
    .option_count = sizeof shared_options / sizeof shared_options[0],
};

static const struct config_table *const *registered;
static size_t registered_count;

void config_register_tables(const struct config_table *const *tables, size_t count)
{
    registered = tables;
    registered_count = count;
}

/* An option found by name, and where its value goes (NULL: checked, then dropped). */
struct found {
    const struct config_option *opt;
    void *settings;
};

static const struct config_option *table_option(const struct config_table *t, const char *canon)
{
    for (size_t i = 0; i < t->option_count; i++)
        if (strcmp(t->options[i].name, canon) == 0)
            return &t->options[i];
    return NULL;
}

/* Accepts API_KEY, api_key and api-key alike. cfg may be NULL (registered tables only). */
static struct found option_find(const struct config *cfg, const char *name)
{
    struct found f = {0};
    char canon[64];
    size_t n = strlen(name);
    if (n >= sizeof canon)
        return f;
    for (size_t i = 0; i <= n; i++)
        canon[i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
    if ((f.opt = table_option(&shared_table, canon)))
        f.settings = (void *)cfg;
    for (int i = 0; cfg && !f.opt && i < cfg->module_count; i++)
        if ((f.opt = table_option(cfg->modules[i].table, canon)))
            f.settings = cfg->modules[i].settings;
    for (size_t i = 0; !f.opt && i < registered_count; i++)
        f.opt = table_option(registered[i], canon);
    return f;
}

const struct config_section *config_find_section(const struct config *cfg, const char *name,
                                                 void **settings)
{
    *settings = NULL;
    for (int i = 0; i < cfg->module_count; i++) {
        const struct config_table *t = cfg->modules[i].table;
        for (size_t k = 0; k < t->section_count; k++)
            if (strcasecmp(t->sections[k].name, name) == 0) {
                *settings = cfg->modules[i].settings;
                return &t->sections[k];
            }
    }
    for (size_t i = 0; i < registered_count; i++)
        for (size_t k = 0; k < registered[i]->section_count; k++)
            if (strcasecmp(registered[i]->sections[k].name, name) == 0)
                return &registered[i]->sections[k];
    return NULL;
}

static int parse_seconds(const char *v, int64_t *ms)
{
    char *end;
    errno = 0;
    double secs = strtod(v, &end);
    if (errno || end == v || *end != '\0' || !isfinite(secs) || secs <= 0 || secs > 31536000)
        return -1;
    *ms = (int64_t)llround(secs * 1000);
    return *ms > 0 ? 0 : -1;
}

static const char *expected_text(const struct config_option *opt, char *buf, size_t buflen)
{
    if (opt->expected)
        return opt->expected;
    if (opt->kind == CONFIG_SECONDS)
        return "a positive number of seconds";
    if (opt->kind == CONFIG_INT) {
        snprintf(buf, buflen, "a whole number from %lld to %lld", (long long)opt->min,
                 (long long)opt->max);
        return buf;
    }
    return "text of at most 4096 bytes";
}

static bool text_valid(const struct config_option *opt, const char *v)
{
    return opt->check ? opt->check(v) : strlen(v) <= 4096;
}

/* Parses value into the option's field of settings, or only checks it when settings is NULL. */
static int option_store(const struct config_option *opt, void *settings, const char *value)
{
    char *field = settings ? (char *)settings + opt->offset : NULL;
    int64_t n;
    if (opt->kind == CONFIG_SECONDS) {
        if (parse_seconds(value, &n) != 0)
            return -1;
        if (field)
            *(int64_t *)(void *)field = n;
        return 0;
    }
    if (opt->kind == CONFIG_INT) {
        if (num_parse_int64(opt->name, value, opt->min, opt->max, NULL, &n, NULL, 0) != 0)
            return -1;
        if (field)
            *(int *)(void *)field = (int)n;
        return 0;
    }
    if (!text_valid(opt, value))
        return -1;
    if (!field)
        return 0;
    char *copy = strdup(value);
    if (!copy)
        return -1;
    if (opt->flags & CONFIG_TRIM_SLASH) {
        size_t len = strlen(copy);
        while (len > 8 && copy[len - 1] == '/')
            copy[--len] = '\0';
    }
    char **slot = (char **)(void *)field;
    free(*slot);
    *slot = copy;
    return 0;
}

int config_set(struct config *cfg, const char *name, const char *value, char *err, size_t errlen)
{
    struct found f = option_find(cfg, name);
    if (!f.opt) {
        err_set(err, errlen, "%s: not a faultline setting", name);
        return -2;
    }
    if (!value || !*value)
        return 0;
    if (option_store(f.opt, f.settings, value) != 0) {
        char buf[80];
        /* Secrets are not echoed back into logs. */
        return err_set(err, errlen, "%s: expected %s, got \"%.80s\"", f.opt->name,
                       expected_text(f.opt, buf, sizeof buf),
                       f.opt->flags & CONFIG_SECRET ? "(hidden)" : value);
    }
    return 0;
}

/* Resets the table's fields in settings, then applies the defaults. */
static void table_defaults(const struct config_table *t, void *settings)
{
    for (size_t i = 0; i < t->option_count; i++) {
        const struct config_option *opt = &t->options[i];
        char *field = (char *)settings + opt->offset;
        if (opt->kind == CONFIG_SECONDS)
            *(int64_t *)(void *)field = 0;
        else if (opt->kind == CONFIG_INT)
            *(int *)(void *)field = 0;
        else
            *(char **)(void *)field = NULL;
        if (opt->default_value)
            option_store(opt, settings, opt->default_value);
    }
}

static void table_free(const struct config_table *t, void *settings)
{
    for (size_t i = 0; i < t->option_count; i++) {
        if (t->options[i].kind != CONFIG_TEXT)
            continue;
        char **slot = (char **)(void *)((char *)settings + t->options[i].offset);
        free(*slot);
        *slot = NULL;
    }
}

void config_init(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    table_defaults(&shared_table, cfg);
}

int config_attach(struct config *cfg, const struct config_table *table, void *settings)
{
    if (cfg->module_count >= CONFIG_MODULES_MAX)
        return -1;
    cfg->modules[cfg->module_count++] = (struct config_binding){table, settings};
    table_defaults(table, settings);
    if (table->sections_init)
        table->sections_init(settings);
    return 0;
}

void config_free(struct config *cfg)
{
    for (int i = 0; i < cfg->module_count; i++) {
        const struct config_table *t = cfg->modules[i].table;
        table_free(t, cfg->modules[i].settings);
        if (t->sections_free)
            t->sections_free(cfg->modules[i].settings);
    }
    table_free(&shared_table, cfg);
    memset(cfg, 0, sizeof *cfg);
}

/* Turns the text after '=' into the value: quoted values keep everything inside the quotes,
 * unquoted ones lose a trailing " # comment". */
static char *env_value(char *raw)
{
    raw = config_trim(raw);
    if (raw[0] == '"' || raw[0] == '\'') {
        char *close = strchr(raw + 1, raw[0]);
        if (close) {
            *close = '\0';
            return raw + 1;
        }
    }
    for (char *p = raw; *p; p++) {
        if (*p == '#' && (p == raw || isspace((unsigned char)p[-1]))) {
            *p = '\0';
            break;
        }
    }
    return config_trim(raw);
}

int config_apply_env_text(struct config *cfg, const char *text, char *err, size_t errlen)
{
    char *copy = strdup(text);
    if (!copy)
        return err_set(err, errlen, "out of memory");
    int line_no = 0, rc = 0;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        char *s = config_trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        if (strncmp(s, "export ", 7) == 0)
            s = config_trim(s + 7);
        char *eq = strchr(s, '=');
        if (!eq) {
            /* "API_KEY: value" is a common slip: show the name, never what follows it. */
            int shown = (int)strcspn(s, ":");
            rc = err_set(err, errlen, "line %d: expected NAME=VALUE, got \"%.*s%s\"", line_no,
                         shown > 60 ? 60 : shown, s, s[shown] ? ": ..." : "");
            break;
        }
        *eq = '\0';
        char inner[256];
        int set = config_set(cfg, config_trim(s), env_value(eq + 1), inner, sizeof inner);
        if (set == -1) {
            rc = err_set(err, errlen, "line %d: %s", line_no, inner);
            break;
        }
    }
    free(copy);
    return rc;
}

static char *read_file(const char *path, size_t *len_out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            char *bigger = cap < (1u << 20) ? realloc(buf, cap *= 2) : NULL;
            if (!bigger) {
                free(buf);
                buf = NULL;
                err_set(err, errlen, "%s: too large for a settings file", path);
            }
            buf = bigger;
        }
    }
    fclose(f);
    if (buf) {
        buf[len] = '\0';
        *len_out = len;
    }
    return buf;
}

static int apply_env_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
    size_t len;
    char inner[300];
    char *text = read_file(path, &len, inner, sizeof inner);
    if (!text)
        return errno == ENOENT ? 0 : err_set(err, errlen, "%s", inner);
    int rc = config_apply_env_text(cfg, text, inner, sizeof inner);
    free(text);
    return rc == 0 ? 0 : err_set(err, errlen, "%s %s", path, inner);
}

static int apply_yaml_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
    size_t len;
    char inner[300];
    char *text = read_file(path, &len, inner, sizeof inner);
    if (!text)
        return err_set(err, errlen, "--config %s", inner);
    int rc = config_apply_yaml_text(cfg, path, text, len, err, errlen);
    free(text);
    return rc;
}

static int apply_environ(struct config *cfg, char *const *env, char *err, size_t errlen)
{
    for (; env && *env; env++) {
        const char *eq = strchr(*env, '=');
        if (!eq || eq - *env >= 64)
            continue;
        char name[64];
        memcpy(name, *env, (size_t)(eq - *env));
        name[eq - *env] = '\0';
        /* Only upper-case names count, so an unrelated "path" or "site" variable is ignored. */
        for (const char *p = name; *p; p++)
            if (islower((unsigned char)*p))
                goto next;
        if (option_find(cfg, name).opt) {
            char inner[256];
            if (config_set(cfg, name, eq + 1, inner, sizeof inner) != 0)
                return err_set(err, errlen, "environment %s", inner);
        }
    next:;
    }
    return 0;
}

static int apply_flags(struct config *cfg, int count, char *const *flags, char *err, size_t errlen)
{
    for (int i = 0; i < count; i++) {
        const char *arg = flags[i];
        if (strncmp(arg, "--", 2) != 0)
            return err_set(err, errlen, "unexpected argument \"%s\"", arg);
        char name[64];
        const char *eq = strchr(arg, '=');
        size_t n = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (n >= sizeof name)
            return err_set(err, errlen, "unknown option \"%.60s\"", arg);
        memcpy(name, arg + 2, n);
        name[n] = '\0';
        const char *value = eq ? eq + 1 : (i + 1 < count ? flags[++i] : NULL);
        if (!option_find(cfg, name).opt)
            return err_set(err, errlen, "unknown option \"--%s\" (see --help)", name);
        if (!value)
            return err_set(err, errlen, "--%s: expected a value", name);
        if (config_set(cfg, name, value, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int config_load(struct config *cfg, const struct config_sources *src, char *err, size_t errlen)
{
    if (src->yaml_path && apply_yaml_file(cfg, src->yaml_path, err, errlen) != 0)
        return -1;
    if (src->env_file && apply_env_file(cfg, src->env_file, err, errlen) != 0)
        return -1;
    if (apply_environ(cfg, src->environ, err, errlen) != 0)
        return -1;
    return apply_flags(cfg, src->flag_count, src->flags, err, errlen);
}

int config_require(const struct config *cfg, const char *name, char *err, size_t errlen)
{
    struct found f = option_find(cfg, name);
    if (!f.opt)
        return err_set(err, errlen, "%s: not a faultline setting", name);
    const char *v =
        f.settings ? *(char *const *)(const void *)((const char *)f.settings + f.opt->offset)
                   : NULL;
    if (!v || !*v)
        return err_set(err, errlen, "%s: required, not set (environment, .env or --config)",
                       f.opt->name);
    return 0;
}

void config_print_help(const struct config *cfg, const char *const *names, int count)
{
    for (int i = 0; i < count; i++) {
        const struct config_option *opt = option_find(cfg, names[i]).opt;
        if (!opt)
            continue;
        char flag[64];
        size_t n = strlen(opt->name);
        for (size_t j = 0; j <= n; j++)
            flag[j] = opt->name[j] == '_' ? '-' : (char)tolower((unsigned char)opt->name[j]);
        printf("  %-17s --%-17s %s%s%s%s\n", opt->name, flag, opt->help,
               opt->default_value ? " (default " : "",
               opt->default_value ? opt->default_value : "", opt->default_value ? ")" : "");
    }
}
