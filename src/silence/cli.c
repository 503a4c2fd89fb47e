/* cli.c — `faultline silence`: builds the request from the options, sends it to the server's
 * silences API with the admin's credentials (from --server's userinfo, or
 * FAULTLINE_ADMIN_USER / FAULTLINE_ADMIN_PASSWORD) through base/admin_api.h, as `faultline cfg`
 * and `faultline monitor --server` do, and prints the answer as text or JSON. */
#include "silence/cli.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/admin_api.h"

#define SILENCE_CLI_TIMEOUT_MS 10000
#define SILENCE_CLI_DEFAULT_SERVER "http://127.0.0.1:5000"
#define SILENCE_CLI_LABELS_MAX 16
#define SILENCE_ANSWER_MAX (4 * 1024 * 1024)

static const char usage_text[] =
    "usage: faultline silence add [--server URL] MATCHERS TIME [--comment TEXT] [--author NAME] "
    "[--json]\n"
    "       faultline silence list [--server URL] [--expired] [--json]\n"
    "       faultline silence expire ID [--server URL] [--json]\n";

static const char help_text[] =
    "\n"
    "Silences and maintenance windows on a faultline server (docs/silences.md).\n"
    "\n"
    "MATCHERS (at least one):  --name GLOB  --kind KIND  --severity SEVERITY\n"
    "                          --label KEY=VALUE | KEY!=VALUE | KEY=~REGEX   (repeatable)\n"
    "TIME, one of:             --duration D [--starts-at TIME]   (D: 2h, 1h30m, 90m, 45s, 1d)\n"
    "                          --ends-at TIME [--starts-at TIME] (ISO 8601, e.g. 2026-12-01T08:00:00Z)\n"
    "                          --cron 'M H DOM MON DOW' --duration D [--tz ZONE]   (a window)\n"
    "\n"
    "--server URL   the server (default $FAULTLINE_SERVER, else " SILENCE_CLI_DEFAULT_SERVER ");\n"
    "               the admin's credentials come from the URL (http://admin:PASS@host:5000)\n"
    "               or from FAULTLINE_ADMIN_USER (default admin) and FAULTLINE_ADMIN_PASSWORD.\n"
    "--expired      list: also expired silences.   --json   print the server's JSON.\n"
    "\n"
    "Example: faultline silence add --name 'gpu-*' --label region=eu --duration 2h \\\n"
    "           --comment 'driver upgrade' --author alice\n"
    "\n"
    "Exit status: 0 done; 1 the server could not be reached or refused (credentials, unknown\n"
    "id, a silence of the config file, an error of its own); 2 usage, or a silence the server\n"
    "found invalid.\n";

/* What the options said. Strings point into argv. */
struct silence_opts {
    const char *verb, *id, *server;
    const char *name, *kind, *severity, *duration, *starts_at, *ends_at, *cron, *tz, *comment,
        *author;
    const char *labels[SILENCE_CLI_LABELS_MAX];
    int label_count;
    bool expired, json;
};

/* Prints "faultline silence: MESSAGE" and the usage; returns 2. */
static int usage_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "faultline silence: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n%s", usage_text);
    va_end(ap);
    return 2;
}

/* The option taking a value that flag names in opts, or NULL. */
static const char **value_slot(struct silence_opts *o, const char *flag)
{
    static const struct {
        const char *flag;
        size_t offset;
    } slots[] = {
        {"--server", offsetof(struct silence_opts, server)},
        {"--name", offsetof(struct silence_opts, name)},
        {"--kind", offsetof(struct silence_opts, kind)},
        {"--severity", offsetof(struct silence_opts, severity)},
        {"--duration", offsetof(struct silence_opts, duration)},
        {"--starts-at", offsetof(struct silence_opts, starts_at)},
        {"--ends-at", offsetof(struct silence_opts, ends_at)},
        {"--cron", offsetof(struct silence_opts, cron)},
        {"--tz", offsetof(struct silence_opts, tz)},
        {"--comment", offsetof(struct silence_opts, comment)},
        {"--author", offsetof(struct silence_opts, author)},
    };
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
        if (strcmp(flag, slots[i].flag) == 0)
            return (const char **)(void *)((char *)o + slots[i].offset);
    return NULL;
}

/* Returns 0, 1 when --help was asked for (and printed), or 2 after a usage error. */
static int parse_args(int argc, char **argv, struct silence_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = value_slot(o, a);
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("%s%s", usage_text, help_text);
            return 1;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (!strcmp(a, "--expired")) {
            o->expired = true;
        } else if (slot || !strcmp(a, "--label")) {
            if (i + 1 >= argc)
                return usage_fail("%s: expected a value", a);
            const char *v = argv[++i];
            if (slot)
                *slot = v;
            else if (o->label_count < SILENCE_CLI_LABELS_MAX)
                o->labels[o->label_count++] = v;
            else
                return usage_fail("--label: at most 16, got more (%s)", v);
        } else if (!strncmp(a, "--", 2)) {
            return usage_fail("unknown option \"%s\" (see --help)", a);
        } else if (!o->verb) {
            o->verb = a;
        } else if (!o->id && !strcmp(o->verb, "expire")) {
            o->id = a;
        } else {
            return usage_fail("unexpected argument \"%s\" (see --help)", a);
        }
    }
    if (!o->verb)
        return usage_fail("expected a command: add, list or expire");
    if (strcmp(o->verb, "add") && strcmp(o->verb, "list") && strcmp(o->verb, "expire"))
        return usage_fail("unknown command \"%s\" (expected add, list or expire)", o->verb);
    if (!strcmp(o->verb, "expire") && !o->id)
        return usage_fail("expire: expected the silence's id");
    return 0;
}

/* ---- the request ---- */

/* Sends method path (body may be NULL) to the server; *status gets the HTTP status and *json the
 * answer (NULL when it is not JSON). Returns 0, 1 when the server could not be reached, or 2
 * when --server is not a URL. */
static int call(const struct silence_opts *o, const char *method, const char *path,
                const char *body, long *status, json_t **json)
{
    const char *server = o->server ? o->server : getenv("FAULTLINE_SERVER");
    if (!server || !*server)
        server = SILENCE_CLI_DEFAULT_SERVER;
    struct admin_client *client = admin_client_open(server);
    if (!client) {
        fprintf(stderr, "faultline silence: --server: expected an http:// or https:// URL, got "
                        "\"%s\"\n",
                server);
        return 2;
    }
    struct admin_answer a;
    admin_client_call(client, method, path, body, SILENCE_CLI_TIMEOUT_MS, SILENCE_ANSWER_MAX, &a);
    *status = a.status;
    if (a.error[0])
        fprintf(stderr, "faultline silence: cannot reach %s%s: %s\n",
                admin_client_server(client)->base, path, a.error);
    *json = !a.error[0] && a.body ? json_loadb(a.body, a.body_len, 0, NULL) : NULL;
    int rc = a.error[0] ? 1 : 0;
    admin_answer_free(&a);
    admin_client_close(client);
    return rc;
}

/* Prints a refusal ("faultline silence: HTTP 409: ...") and returns the exit status. */
static int refused(long status, const json_t *answer)
{
    const char *error = json_string_value(json_object_get(answer, "error"));
    fprintf(stderr, "faultline silence: HTTP %ld: %s\n", status, error ? error : "no JSON answer");
    return status == 400 ? 2 : 1;
}

/* ---- the commands ---- */

static void print_json(const json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2));
    printf("%s\n", text ? text : "null");
    free(text);
}

/* "name=gpu-* region=eu" */
static void describe_matchers(const json_t *s, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    static const char *const keys[] = {"name", "kind", "severity"};
    for (size_t i = 0; i < 3; i++) {
        const char *v = json_string_value(json_object_get(s, keys[i]));
        if (v && n < len)
            n += (size_t)snprintf(out + n, len - n, "%s%s=%s", n ? " " : "", keys[i], v);
    }
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(s, "labels"), i, l) if (n < len) n +=
        (size_t)snprintf(out + n, len - n, "%s%s", n ? " " : "", json_string_value(l));
}

/* "until 2026-11-30T16:00:00.000Z" or "0 2 * * 6 for 3h (Europe/Berlin)" */
static void describe_time(const json_t *s, char *out, size_t len)
{
    const char *cron = json_string_value(json_object_get(s, "cron"));
    if (cron)
        snprintf(out, len, "%s for %s (%s)", cron,
                 json_string_value(json_object_get(s, "duration")),
                 json_string_value(json_object_get(s, "tz")));
    else
        snprintf(out, len, "%s to %s", json_string_value(json_object_get(s, "starts_at")),
                 json_string_value(json_object_get(s, "ends_at")));
}

static void print_silence_line(const json_t *s)
{
    char matchers[512], when[256];
    describe_matchers(s, matchers, sizeof matchers);
    describe_time(s, when, sizeof when);
    const char *state = json_integer_value(json_object_get(s, "expired_ms")) > 0 ? "expired"
                        : json_is_true(json_object_get(s, "active"))            ? "active"
                                                                                : "pending";
    const char *comment = json_string_value(json_object_get(s, "comment"));
    printf("%-10s %-8s %-30s %s%s%s\n", json_string_value(json_object_get(s, "id")), state,
           matchers, when, comment ? "  # " : "", comment ? comment : "");
}

static void set_text(json_t *body, const char *key, const char *value)
{
    if (value)
        json_object_set_new(body, key, json_string(value));
}

static int silence_add(const struct silence_opts *o)
{
    if (!o->name && !o->kind && !o->severity && !o->label_count)
        return usage_fail("add: expected a matcher (--name, --kind, --severity or --label)");
    if (!o->duration && !o->ends_at)
        return usage_fail("add: expected --duration, --ends-at, or --cron with --duration");
    json_t *body = json_object(), *labels = json_array();
    set_text(body, "name", o->name);
    set_text(body, "kind", o->kind);
    set_text(body, "severity", o->severity);
    for (int i = 0; i < o->label_count; i++)
        json_array_append_new(labels, json_string(o->labels[i]));
    json_object_set_new(body, "labels", labels);
    set_text(body, "duration", o->duration);
    set_text(body, "starts_at", o->starts_at);
    set_text(body, "ends_at", o->ends_at);
    set_text(body, "cron", o->cron);
    set_text(body, "tz", o->tz);
    set_text(body, "comment", o->comment);
    set_text(body, "author", o->author);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    long status = 0;
    json_t *answer = NULL;
    int rc = text ? call(o, "POST", "/api/v1/silences", text, &status, &answer) : 1;
    free(text);
    if (rc == 0 && status != 201)
        rc = refused(status, answer);
    else if (rc == 0 && o->json)
        print_json(answer);
    else if (rc == 0) {
        const char *next = json_string_value(json_object_get(answer, "next_start"));
        printf("silence %s added: %s%s\n", json_string_value(json_object_get(answer, "id")),
               json_is_true(json_object_get(answer, "active")) ? "active now" : "next starts ",
               json_is_true(json_object_get(answer, "active")) ? "" : next ? next : "never");
    }
    json_decref(answer);
    return rc;
}

static int silence_list(const struct silence_opts *o)
{
    long status = 0;
    json_t *answer = NULL;
    int rc = call(o, "GET", o->expired ? "/api/v1/silences?expired=1" : "/api/v1/silences", NULL,
                  &status, &answer);
    if (rc == 0 && status != 200)
        rc = refused(status, answer);
    else if (rc == 0 && o->json)
        print_json(answer);
    else if (rc == 0) {
        size_t i;
        json_t *s;
        printf("%-10s %-8s %-30s %s\n", "ID", "STATE", "MATCHERS", "WHEN");
        json_array_foreach(json_object_get(answer, "silences"), i, s) print_silence_line(s);
    }
    json_decref(answer);
    return rc;
}

static int silence_expire(const struct silence_opts *o)
{
    char path[256];
    char *id = curl_easy_escape(NULL, o->id, 0);
    snprintf(path, sizeof path, "/api/v1/silences/%.200s", id ? id : "");
    curl_free(id);
    long status = 0;
    json_t *answer = NULL;
    int rc = call(o, "DELETE", path, NULL, &status, &answer);
    if (rc == 0 && status != 200)
        rc = refused(status, answer);
    else if (rc == 0 && o->json)
        print_json(answer);
    else if (rc == 0)
        printf("silence %s expired\n", json_string_value(json_object_get(answer, "id")));
    json_decref(answer);
    return rc;
}

int silence_main(int argc, char **argv)
{
    struct silence_opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (!strcmp(o.verb, "add"))
        return silence_add(&o);
    if (!strcmp(o.verb, "list"))
        return silence_list(&o);
    return silence_expire(&o);
}
