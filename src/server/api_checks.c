/* api_checks.c — the active checks' resource (docs/api.md, "Checks"): the list with its
 * filters, one check with its last results, the errors of CHECKS_DIR, and the actions that
 * enable, disable or run a check now. The state lives in the engine (checks.h). */
#include <stdio.h>
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
    http_respond_json(req, 200, checks_list_json(api->checks, state, http_query(req, "tag"),
                                                 http_query(req, "type")));
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

/* POST /api/v1/checks/NAME/enable, .../disable, .../run */
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
    int rc;
    if (strcmp(action, "enable") == 0 || strcmp(action, "disable") == 0)
        rc = checks_set_enabled(api->checks, check, action[0] == 'e');
    else if (strcmp(action, "run") == 0)
        rc = checks_run_now(api->checks, check);
    else {
        http_respond_error(req, 404, "expected /api/v1/checks/NAME/enable, disable or run", NULL);
        return;
    }
    if (rc != 0) {
        http_respond_error(req, 404, "no such check", "name");
        return;
    }
    http_respond_json(req, rc == 0 && action[0] == 'r' ? 202 : 200, checks_get_json(api->checks,
                                                                                   check));
}
