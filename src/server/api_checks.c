/* api_checks.c — the active checks' resource (docs/api.md, "Active checks"): the list with its
 * filters, one check with its last results, the errors of CHECKS_DIR, the actions that enable,
 * disable or run a check now, and the checks created, replaced and deleted through the API
 * (answered once the store has them). The state lives in the engine (checks.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/runner.h"
#include "server/api.h"
#include "server/checks.h"

#define CHECKS_PREFIX "/api/v1/checks/"

/* GET /api/v1/checks?state=&tag=&type= */
void api_checks_list(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    const char *state = http_query(req, "state");
    if (state && check_state_find(state) < 0) {
        http_respond_error(req, 400, "state: expected ok, warning, critical or unknown", "state");
        return;
    }
    http_respond_json(
        req, 200,
        checks_list_json(api->checks, state, http_query(req, "tag"), http_query(req, "type")));
}

/* GET /api/v1/checks/NAME and GET /api/v1/checks/errors */
void api_checks_get(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    const char *name = http_path(req) + strlen(CHECKS_PREFIX);
    if (strcmp(name, "errors") == 0) {
        http_respond_json(req, 200, checks_errors_json(api->checks));
        return;
    }
    json_t *check = checks_get_json(api->checks, name);
    if (!check) {
        http_respond_error(req, 404, "no such check", "name");
        return;
    }
    http_respond_json(req, 200, check);
}

/* A write's request: answered by the engine at once (an invalid check) or once the store has
 * the change, the request suspended meanwhile. */
struct write_answer {
    struct http_request *req;
    bool in_handler, answered;
};

static void on_write_done(int status, json_t *body, void *ctx)
{
    struct write_answer *w = ctx;
    if (status == 204)
        http_respond_no_content(w->req);
    else
        http_respond_json(w->req, status, body);
    w->answered = true;
    if (!w->in_handler)
        free(w);
}

static struct write_answer *write_begin(struct http_request *req)
{
    struct write_answer *w = calloc(1, sizeof *w);
    if (!w) {
        http_respond_error(req, 503, "out of memory", NULL);
        return NULL;
    }
    w->req = req;
    w->in_handler = true;
    return w;
}

static void write_end(struct write_answer *w)
{
    w->in_handler = false;
    if (w->answered)
        free(w);
    else
        http_suspend(w->req);
}

/* POST /api/v1/checks/NAME/enable, .../disable (answered once the store has it), .../run */
void api_checks_action(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    const char *name = http_path(req) + strlen(CHECKS_PREFIX);
    const char *slash = strrchr(name, '/');
    char check[CHECK_NAME_MAX + 1];
    if (!slash || (size_t)(slash - name) > CHECK_NAME_MAX) {
        http_respond_error(req, 404, "expected /api/v1/checks/NAME/enable, disable or run", NULL);
        return;
    }
    snprintf(check, sizeof check, "%.*s", (int)(slash - name), name);
    const char *action = slash + 1;
    if (strcmp(action, "enable") == 0 || strcmp(action, "disable") == 0) {
        const char *user = NULL, *pass = NULL;
        http_basic_auth(req, &user, &pass);
        struct write_answer *w = write_begin(req);
        if (w) {
            checks_set_enabled(api->checks, check, action[0] == 'e', user, on_write_done, w);
            write_end(w);
        }
    } else if (strcmp(action, "run") != 0) {
        http_respond_error(req, 404, "expected /api/v1/checks/NAME/enable, disable or run", NULL);
    } else if (checks_run_now(api->checks, check) != 0) {
        http_respond_error(req, 404, "no such check", "name");
    } else {
        http_respond_json(req, 202, checks_get_json(api->checks, check));
    }
}

/* The body as JSON, or NULL after answering 400. */
static json_t *read_body(struct http_request *req)
{
    size_t len = 0;
    const char *body = http_body(req, &len);
    json_error_t jerr;
    json_t *def = body && len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!def) {
        char msg[300];
        snprintf(msg, sizeof msg, "expected a check as JSON: %s",
                 body && len ? jerr.text : "the body is empty");
        http_respond_error(req, 400, msg, NULL);
    }
    return def;
}

/* POST /api/v1/checks */
void api_checks_create(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    json_t *def = read_body(req);
    struct write_answer *w = def ? write_begin(req) : NULL;
    if (w) {
        checks_put(api->checks, NULL, def, on_write_done, w);
        write_end(w);
    }
    json_decref(def);
}

/* PUT /api/v1/checks/NAME */
void api_checks_replace(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    const char *name = http_path(req) + strlen(CHECKS_PREFIX);
    json_t *def = read_body(req);
    struct write_answer *w = def ? write_begin(req) : NULL;
    if (w) {
        checks_put(api->checks, name, def, on_write_done, w);
        write_end(w);
    }
    json_decref(def);
}

/* DELETE /api/v1/checks/NAME */
void api_checks_delete(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    struct write_answer *w = write_begin(req);
    if (w) {
        checks_delete(api->checks, http_path(req) + strlen(CHECKS_PREFIX), on_write_done, w);
        write_end(w);
    }
}

/* GET /api/v1/agent/checks/NAME: the checks agent NAME runs, with their version. */
void api_agent_checks(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    json_t *answer =
        checks_agent_assignments(api->checks, http_path(req) + strlen("/api/v1/agent/checks/"));
    if (!answer) {
        http_respond_error(req, 404, "no heartbeat of this agent yet: its tags are unknown",
                           "name");
        return;
    }
    http_respond_json(req, 200, answer);
}

/* POST /api/v1/checks/results/NAME: a batch of agent NAME's results. */
void api_checks_results(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    size_t len = 0;
    const char *body = http_body(req, &len);
    json_error_t jerr;
    json_t *batch = body && len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!json_is_object(batch)) {
        json_decref(batch);
        http_respond_error(req, 400, "expected {\"results\": [...]} as JSON", NULL);
        return;
    }
    char field[96], err[384];
    json_t *answer = NULL;
    const char *name = http_path(req) + strlen(CHECKS_PREFIX "results/");
    if (checks_agent_results(api->checks, name, batch, &answer, field, sizeof field, err,
                             sizeof err) != 0)
        http_respond_error(req, 400, err, field);
    else
        http_respond_json(req, 200, answer);
    json_decref(batch);
}
