/* cfg_remote.c — `cfg export` and `cfg sync` (cfg.h): one request at a time to the server's
 * /api/v1/checks with the admin's credentials, on a private loop (a command-line tool: nothing
 * else waits on it). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/admin_api.h"
#include "cfg/cfg.h"
#include "check/checkdef.h"

/* The largest answer read: the list of every running check (about 1 KiB each). */
#define CFG_ANSWER_MAX (256u << 20)

struct remote {
    struct admin_client *client;
    const char *base; /* the server's URL without credentials, for messages */
};

struct exchange {
    long status;
    json_t *json;
    char error[300];
};

static int remote_open(struct remote *r, const char *url)
{
    if (!(r->client = admin_client_open(url))) {
        fprintf(stderr,
                "faultline cfg: --server: expected http://HOST:PORT or https://..., got "
                "\"%s\"\n",
                url);
        return -1;
    }
    r->base = admin_client_server(r->client)->base;
    return 0;
}

static void remote_close(struct remote *r)
{
    admin_client_close(r->client);
}

/* One request, waited for. body: JSON (not taken) or NULL. */
static void call(struct remote *r, const char *method, const char *path, const json_t *body,
                 struct exchange *x)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct admin_answer a;
    admin_client_call(r->client, method, path, text, 10000, CFG_ANSWER_MAX, &a);
    *x = (struct exchange){.status = a.status};
    snprintf(x->error, sizeof x->error, "%s", a.error);
    if (a.body_cut)
        snprintf(x->error, sizeof x->error, "the answer is larger than %u MiB",
                 CFG_ANSWER_MAX >> 20);
    else if (a.body)
        x->json = json_loadb(a.body, a.body_len, 0, NULL);
    admin_answer_free(&a);
    free(text);
}

/* "503: the check could not be stored", "connection refused", ... */
static const char *exchange_problem(const struct exchange *x, char *buf, size_t len)
{
    const char *msg = json_string_value(json_object_get(x->json, "error"));
    if (x->error[0])
        snprintf(buf, len, "%s", x->error);
    else
        snprintf(buf, len, "%ld%s%s", x->status, msg ? ": " : "", msg ? msg : "");
    return buf;
}

/* The server's checks ({"checks": [...]}, a new reference), or NULL after saying why. */
static json_t *remote_checks(struct remote *r)
{
    struct exchange x;
    call(r, "GET", "/api/v1/checks", NULL, &x);
    if (x.status == 200 && json_is_array(json_object_get(x.json, "checks")))
        return x.json;
    char why[400];
    fprintf(stderr, "faultline cfg: GET %s/api/v1/checks: %s\n", r->base,
            exchange_problem(&x, why, sizeof why));
    json_decref(x.json);
    return NULL;
}

int cfg_export(const struct cfg_remote *opts)
{
    struct remote r = {0};
    if (remote_open(&r, opts->server) != 0)
        return 2;
    json_t *list = remote_checks(&r);
    int rc = 1;
    if (list) {
        json_t *out = json_array();
        size_t i;
        json_t *check;
        json_array_foreach(json_object_get(list, "checks"), i, check)
            json_array_append(out, json_object_get(check, "config"));
        json_t *doc = json_pack("{so}", "checks", out);
        rc = cfg_write_yaml(stdout, doc) == 0 ? 0 : 1;
        json_decref(doc);
        json_decref(list);
    }
    remote_close(&r);
    return rc;
}

static const json_t *find_remote(const json_t *list, const char *name)
{
    size_t i;
    const json_t *check;
    json_array_foreach(json_object_get(list, "checks"), i,
                       check) if (strcmp(json_string_value(json_object_get(check, "name")), name) ==
                                  0) return check;
    return NULL;
}

static bool local_has(const struct checkdef_set *set, const char *name)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->defs[i]->name, name) == 0)
            return true;
    return false;
}

/* One change: prints it, and makes it unless this is a dry run. Returns 1 when it failed. */
static int change(struct remote *r, const struct cfg_remote *opts, const char *what,
                  const char *method, const char *name, const json_t *body)
{
    if (opts->dry_run) {
        printf("%s %s\n", what, name);
        return 0;
    }
    char path[256], why[400];
    snprintf(path, sizeof path, "/api/v1/checks/%s", name);
    struct exchange x;
    call(r, method, path, body, &x);
    bool ok = x.status >= 200 && x.status < 300;
    if (ok)
        printf("%s %s\n", what, name);
    else
        printf("%s %s: failed: %s\n", what, name, exchange_problem(&x, why, sizeof why));
    json_decref(x.json);
    return ok ? 0 : 1;
}

/* Pushes set's checks, then deletes the API checks set lacks (unless nosync). */
static int sync_plan(struct remote *r, const struct cfg_remote *opts,
                     const struct checkdef_set *set, const json_t *list)
{
    int failures = 0;
    for (size_t i = 0; i < set->n; i++) {
        const struct checkdef *d = set->defs[i];
        const json_t *remote = find_remote(list, d->name);
        const char *file = json_string_value(json_object_get(remote, "file"));
        if (file) {
            printf("conflict %s: defined in %s on the server (not changed)\n", d->name, file);
            failures++;
            continue;
        }
        json_t *def = checkdef_json(d);
        if (remote && json_equal(json_object_get(remote, "config"), def))
            printf("unchanged %s\n", d->name);
        else
            failures += change(r, opts, remote ? "update" : "create", "PUT", d->name, def);
        json_decref(def);
    }
    size_t i;
    const json_t *check;
    json_array_foreach(json_object_get(list, "checks"), i, check)
    {
        const char *name = json_string_value(json_object_get(check, "name"));
        bool api = !strcmp(json_string_value(json_object_get(check, "source")), "api");
        if (api && !local_has(set, name) && !opts->nosync)
            failures += change(r, opts, "delete", "DELETE", name, NULL);
    }
    if (opts->dry_run)
        printf("(dry run: nothing changed)\n");
    return failures ? 1 : 0;
}

int cfg_sync(const struct cfg_remote *opts)
{
    struct stat st;
    if (stat(opts->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "faultline cfg: %s: not a directory\n", opts->dir);
        return 2;
    }
    struct checkdef_set set;
    checkdef_set_init(&set);
    checkdef_load_dir(&set, opts->dir, probe_type_find);
    size_t n_errors = json_array_size(set.errors);
    for (size_t i = 0; i < n_errors; i++) {
        char text[1024];
        checkdef_error_text(json_array_get(set.errors, i), text, sizeof text);
        fprintf(stderr, "%s\n", text);
    }
    int rc = 1;
    struct remote r = {0};
    if (n_errors) {
        fprintf(stderr, "faultline cfg: %zu error(s) in %s: nothing pushed\n", n_errors, opts->dir);
    } else if (remote_open(&r, opts->server) != 0) {
        rc = 2;
    } else {
        json_t *list = remote_checks(&r);
        if (list)
            rc = sync_plan(&r, opts, &set, list);
        json_decref(list);
        remote_close(&r);
    }
    checkdef_set_free(&set);
    return rc;
}
