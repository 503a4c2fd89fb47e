/* config.c — the option table and the readers for each source; see config.h. */
#include "base/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/label.h"

enum option_type {
    OPT_TEXT,    /* any text up to 4096 bytes */
    OPT_SECONDS, /* positive number of seconds, fractions allowed, stored as ms */
    OPT_PORT,    /* 1..65535 */
    OPT_HOST,    /* host name or IP address */
    OPT_IP,      /* IPv4 or IPv6 literal */
    OPT_URL,     /* http:// or https:// URL, trailing slash removed */
    OPT_LEVEL,   /* log level */
    OPT_CHAT,    /* Telegram chat id: integer or @channel */
    OPT_LABEL,   /* letters, digits and ._-:()@+ up to 64 bytes */
    OPT_COUNT,   /* whole number from 1 to 1000000 */
    OPT_TARGETS, /* comma-separated host[:port] list, "gateway" allowed; "none" = empty */
};

struct option {
    const char *name;
    enum option_type type;
    size_t offset;
    const char *default_value;
    const char *help;
};

#define FIELD(f) offsetof(struct config, f)

static const struct option options[] = {
    {"API_KEY", OPT_TEXT, FIELD(api_key), NULL, "shared secret between agents and server"},
    {"SERVER_ADDR", OPT_HOST, FIELD(server_addr), "127.0.0.1", "server host the agent reports to"},
    {"SERVER_PORT", OPT_PORT, FIELD(server_port), "5000", "server HTTP port"},
    {"FAIL_TIMEOUT", OPT_SECONDS, FIELD(fail_timeout_ms), "180",
     "server: seconds without heartbeat before DOWN; agent: HTTP timeout"},
    {"PING_INTERVAL", OPT_SECONDS, FIELD(ping_interval_ms), "30", "agent: seconds between heartbeats"},
    {"TELEGRAM_TOKEN", OPT_TEXT, FIELD(telegram_token), NULL, "bot token from BotFather"},
    {"CHAT_ID", OPT_CHAT, FIELD(chat_id), NULL, "Telegram chat to notify"},
    {"ADMIN_USER", OPT_TEXT, FIELD(admin_user), "admin", "admin login"},
    {"ADMIN_PASS", OPT_TEXT, FIELD(admin_pass), NULL, "admin password; admin pages off when unset"},
    {"DATA_DIR", OPT_TEXT, FIELD(data_dir), "./data", "where the database and logs live"},
    {"STORE", OPT_TEXT, FIELD(store), NULL,
     "server: the database, sqlite://PATH (default sqlite://DATA_DIR/faultline.db)"},
    {"TELEGRAM_API_URL", OPT_URL, FIELD(telegram_api_url), "https://api.telegram.org",
     "Telegram Bot API base URL"},
    {"LISTEN_ADDR", OPT_IP, FIELD(listen_addr), "0.0.0.0", "server: address to listen on"},
    {"LOG_LEVEL", OPT_LEVEL, FIELD(log_level), "info", "debug, info, warn or error"},
    {"SITE", OPT_LABEL, FIELD(site), NULL, "agent: site tag sent with heartbeats"},
    {"RCA_WINDOW", OPT_SECONDS, FIELD(rca_window_ms), "60",
     "server: seconds during which DOWNs join the same incident"},
    {"RCA_THRESHOLD", OPT_COUNT, FIELD(rca_threshold), "5",
     "server: workers down together that make a network or widespread incident"},
    {"RCA_HOLD", OPT_SECONDS, FIELD(rca_hold_ms), NULL,
     "server: seconds a new incident waits for more DOWNs before its first message "
     "(default PING_INTERVAL)"},
    {"RCA_CANARIES", OPT_TARGETS, FIELD(rca_canaries), "gateway,1.1.1.1",
     "server: hosts it probes (ICMP and TCP) to tell its own outage from the fleet's; none = off"},
    {"RCA_CANARY_INTERVAL", OPT_SECONDS, FIELD(rca_canary_interval_ms), "10",
     "server: seconds between canary probes"},
    {"DIAG_INTERVAL", OPT_SECONDS, FIELD(diag_interval_ms), "60",
     "agent: least seconds between diagnostics while heartbeats keep failing"},
    {"DIAG_TARGETS", OPT_TARGETS, FIELD(diag_targets), "8.8.8.8,1.1.1.1",
     "agent: external hosts probed to tell a local outage from the path to the server"},
    {"DIAG_GATEWAY", OPT_HOST, FIELD(diag_gateway), NULL,
     "agent: gateway to probe (default: the routing table's default gateway)"},
    {"DIAG_PING_COUNT", OPT_COUNT, FIELD(diag_ping_count), "10",
     "agent: ICMP probes sent to the server per diagnosis"},
    {"DIAG_MTR_ROUNDS", OPT_COUNT, FIELD(diag_mtr_rounds), "5",
     "agent: rounds of the MTR-style path probe"},
    {"DIAG_MTR_MAX_HOPS", OPT_COUNT, FIELD(diag_mtr_max_hops), "30",
     "agent: most hops the path probe follows"},
    {"LOG_MAX_MB", OPT_COUNT, FIELD(log_max_mb), "50",
     "agent: megabytes its logs/ directory may use, rotated beyond"},
};

#define OPTION_COUNT (sizeof options / sizeof options[0])

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Accepts API_KEY, api_key and api-key alike. */
static const struct option *option_find(const char *name)
{
    char canon[64];
    size_t n = strlen(name);
    if (n >= sizeof canon)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        canon[i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (strcmp(options[i].name, canon) == 0)
            return &options[i];
    return NULL;
}

static bool valid_host(const char *v)
{
    if (strlen(v) > 253)
        return false;
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != ':' && *p != '_')
            return false;
    return true;
}

static bool valid_ip(const char *v)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, v, buf) == 1 || inet_pton(AF_INET6, v, buf) == 1;
}

static bool valid_chat(const char *v)
{
    if (v[0] == '@')
        return v[1] != '\0' && strlen(v) <= 64;
    const char *p = v[0] == '-' ? v + 1 : v;
    if (!*p || strlen(p) > 20)
        return false;
    for (; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    return true;
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

static int parse_port(const char *v, int *port)
{
    char *end;
    errno = 0;
    long p = strtol(v, &end, 10);
    if (errno || end == v || *end != '\0' || p < 1 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

/* What each type expects, for error messages. */
static const char *expected_text(enum option_type type)
{
    switch (type) {
    case OPT_TEXT: return "text of at most 4096 bytes";
    case OPT_SECONDS: return "a positive number of seconds";
    case OPT_PORT: return "a port number from 1 to 65535";
    case OPT_HOST: return "a host name or IP address";
    case OPT_IP: return "an IPv4 or IPv6 address";
    case OPT_URL: return "an http:// or https:// URL";
    case OPT_LEVEL: return "one of debug, info, warn, error";
    case OPT_CHAT: return "a numeric chat id (e.g. -123456789) or @channel";
    case OPT_LABEL: return LABEL_RULE;
    case OPT_COUNT: return "a whole number from 1 to 1000000";
    case OPT_TARGETS:
        return "a comma-separated list of at most 16 host or host:port entries (\"gateway\" "
               "allowed), or none";
    }
    return "a valid value";
}

static bool valid_for(enum option_type type, const char *v)
{
    switch (type) {
    case OPT_TEXT: return strlen(v) <= 4096;
    case OPT_HOST: return valid_host(v);
    case OPT_IP: return valid_ip(v);
    case OPT_URL: return (strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0) &&
                         strlen(v) > 8 && strlen(v) <= 1024 && !strpbrk(v, " \t\r\n");
    case OPT_LEVEL:
        return !strcmp(v, "debug") || !strcmp(v, "info") || !strcmp(v, "warn") ||
               !strcmp(v, "error");
    case OPT_CHAT: return valid_chat(v);
    case OPT_LABEL: return label_valid(v);
    case OPT_TARGETS: return config_split_targets(v, NULL, CONFIG_TARGETS_MAX, NULL, 0) >= 0;
    case OPT_SECONDS:
    case OPT_COUNT:
    case OPT_PORT: return true;
    }
    return false;
}

/* Strips surrounding whitespace in place and returns the start. */
static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static int parse_count(const char *v, int *count)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end != '\0' || n < 1 || n > 1000000)
        return -1;
    *count = (int)n;
    return 0;
}

/* One "host", "host:port", "[v6]:port" or bare IPv6 entry, already trimmed. */
static int parse_target(const char *entry, struct config_target *t)
{
    char host[256];
    int port = 0;
    const char *colon = strrchr(entry, ':');
    if (entry[0] == '[') {
        const char *close = strchr(entry, ']');
        if (!close || (size_t)(close - entry - 1) >= sizeof host)
            return -1;
        snprintf(host, sizeof host, "%.*s", (int)(close - entry - 1), entry + 1);
        if (close[1] == ':' ? parse_port(close + 2, &port) != 0 : close[1] != '\0')
            return -1;
        if (!valid_ip(host))
            return -1;
    } else if (colon && strchr(entry, ':') == colon) {
        if ((size_t)(colon - entry) >= sizeof host || parse_port(colon + 1, &port) != 0)
            return -1;
        snprintf(host, sizeof host, "%.*s", (int)(colon - entry), entry);
    } else {
        if (strlen(entry) >= sizeof host)
            return -1;
        snprintf(host, sizeof host, "%s", entry);
    }
    if (!host[0] || !valid_host(host) || (strchr(host, ':') && !valid_ip(host)))
        return -1;
    if (t) {
        *t = (struct config_target){.port = port};
        snprintf(t->host, sizeof t->host, "%s", host);
    }
    return 0;
}

int config_split_targets(const char *list, struct config_target *out, int max, char *err,
                         size_t errlen)
{
    if (!list || !strcmp(list, "none"))
        return 0;
    char *copy = strdup(list);
    if (!copy)
        return err ? fail(err, errlen, "out of memory") : -1;
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *entry = trim(tok);
        if (!*entry)
            continue;
        if (n >= max || parse_target(entry, out ? &out[n] : NULL) != 0) {
            if (err && n >= max)
                fail(err, errlen, "more than %d targets", max);
            else if (err)
                fail(err, errlen, "bad target \"%.80s\"", entry);
            free(copy);
            return -1;
        }
        n++;
    }
    free(copy);
    return n;
}

static int option_store(struct config *cfg, const struct option *opt, const char *value)
{
    char *field = (char *)cfg + opt->offset;
    if (opt->type == OPT_SECONDS)
        return parse_seconds(value, (int64_t *)(void *)field);
    if (opt->type == OPT_PORT)
        return parse_port(value, (int *)(void *)field);
    if (opt->type == OPT_COUNT)
        return parse_count(value, (int *)(void *)field);
    if (!valid_for(opt->type, value))
        return -1;
    char *copy = strdup(value);
    if (!copy)
        return -1;
    if (opt->type == OPT_URL) {
        size_t n = strlen(copy);
        while (n > 8 && copy[n - 1] == '/')
            copy[--n] = '\0';
    }
    char **slot = (char **)(void *)field;
    free(*slot);
    *slot = copy;
    return 0;
}

int config_set(struct config *cfg, const char *name, const char *value, char *err, size_t errlen)
{
    const struct option *opt = option_find(name);
    if (!opt) {
        fail(err, errlen, "%s: not a faultline setting", name);
        return -2;
    }
    if (!value || !*value)
        return 0;
    if (option_store(cfg, opt, value) != 0) {
        /* Secrets are not echoed back into logs. */
        bool secret = opt->offset == FIELD(api_key) || opt->offset == FIELD(admin_pass) ||
                      opt->offset == FIELD(telegram_token);
        return fail(err, errlen, "%s: expected %s, got \"%.80s\"", opt->name,
                    expected_text(opt->type), secret ? "(hidden)" : value);
    }
    return 0;
}

void config_init(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    char err[256];
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (options[i].default_value)
            config_set(cfg, options[i].name, options[i].default_value, err, sizeof err);
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        enum option_type t = options[i].type;
        if (t != OPT_SECONDS && t != OPT_PORT && t != OPT_COUNT)
            free(*(char **)(void *)((char *)cfg + options[i].offset));
    }
    memset(cfg, 0, sizeof *cfg);
}


/* Turns the text after '=' into the value: quoted values keep everything inside the quotes,
 * unquoted ones lose a trailing " # comment". */
static char *env_value(char *raw)
{
    raw = trim(raw);
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
    return trim(raw);
}

int config_apply_env_text(struct config *cfg, const char *text, char *err, size_t errlen)
{
    char *copy = strdup(text);
    if (!copy)
        return fail(err, errlen, "out of memory");
    int line_no = 0, rc = 0;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        if (strncmp(s, "export ", 7) == 0)
            s = trim(s + 7);
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = fail(err, errlen, "line %d: expected NAME=VALUE, got \"%.60s\"", line_no, s);
            break;
        }
        *eq = '\0';
        char inner[256];
        int set = config_set(cfg, trim(s), env_value(eq + 1), inner, sizeof inner);
        if (set == -1) {
            rc = fail(err, errlen, "line %d: %s", line_no, inner);
            break;
        }
    }
    free(copy);
    return rc;
}

static int yaml_fail(char *err, size_t errlen, const yaml_event_t *ev, const char *what)
{
    return fail(err, errlen, "line %zu: %s", ev->start_mark.line + 1, what);
}

/* Walks the event stream of a document that must be one flat mapping of scalars. */
int config_apply_yaml_text(struct config *cfg, const char *text, size_t len, char *err,
                           size_t errlen)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return fail(err, errlen, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0, depth = 0;
    char key[128] = "";
    bool have_key = false, done = false;
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = fail(err, errlen, "line %zu: %s", parser.problem_mark.line + 1,
                      parser.problem ? parser.problem : "invalid YAML");
            break;
        }
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
            if (++depth > 1)
                rc = yaml_fail(err, errlen, &ev, "expected NAME: value, got a nested mapping");
            break;
        case YAML_SEQUENCE_START_EVENT:
            rc = yaml_fail(err, errlen, &ev, "expected NAME: value, got a list");
            break;
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)ev.data.scalar.value;
            if (depth != 1) {
                rc = yaml_fail(err, errlen, &ev, "expected a mapping of settings");
            } else if (!have_key) {
                snprintf(key, sizeof key, "%s", v);
                have_key = true;
            } else {
                char inner[256];
                bool plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                if (plain && (!strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
                              !strcmp(v, "NULL")))
                    v = ""; /* YAML's null: the setting stays unset */
                if (config_set(cfg, key, v, inner, sizeof inner) != 0)
                    rc = yaml_fail(err, errlen, &ev, inner);
                have_key = false;
            }
            break;
        }
        case YAML_STREAM_END_EVENT: done = true; break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return rc;
}

static char *read_file(const char *path, size_t *len_out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail(err, errlen, "%s: %s", path, strerror(errno));
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
                fail(err, errlen, "%s: too large for a settings file", path);
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
        return errno == ENOENT ? 0 : fail(err, errlen, "%s", inner);
    int rc = config_apply_env_text(cfg, text, inner, sizeof inner);
    free(text);
    return rc == 0 ? 0 : fail(err, errlen, "%s %s", path, inner);
}

static int apply_yaml_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
    size_t len;
    char inner[300];
    char *text = read_file(path, &len, inner, sizeof inner);
    if (!text)
        return fail(err, errlen, "--config %s", inner);
    int rc = config_apply_yaml_text(cfg, text, len, inner, sizeof inner);
    free(text);
    return rc == 0 ? 0 : fail(err, errlen, "%s %s", path, inner);
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
        if (option_find(name)) {
            char inner[256];
            if (config_set(cfg, name, eq + 1, inner, sizeof inner) != 0)
                return fail(err, errlen, "environment %s", inner);
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
            return fail(err, errlen, "unexpected argument \"%s\"", arg);
        char name[64];
        const char *eq = strchr(arg, '=');
        size_t n = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (n >= sizeof name)
            return fail(err, errlen, "unknown option \"%.60s\"", arg);
        memcpy(name, arg + 2, n);
        name[n] = '\0';
        const char *value = eq ? eq + 1 : (i + 1 < count ? flags[++i] : NULL);
        if (!option_find(name))
            return fail(err, errlen, "unknown option \"--%s\" (see --help)", name);
        if (!value)
            return fail(err, errlen, "--%s: expected a value", name);
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
    const struct option *opt = option_find(name);
    if (!opt)
        return fail(err, errlen, "%s: not a faultline setting", name);
    const char *v = *(char *const *)(const void *)((const char *)cfg + opt->offset);
    if (!v || !*v)
        return fail(err, errlen, "%s: required, not set (environment, .env or --config)",
                    opt->name);
    return 0;
}

void config_print_help(const char *const *names, int count)
{
    for (int i = 0; i < count; i++) {
        const struct option *opt = option_find(names[i]);
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
