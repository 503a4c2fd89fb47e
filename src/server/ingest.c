/* ingest.c — POST /api/v1/heartbeat: checks the API key, validates the body and hands the
 * heartbeat to the fleet. This is the hot path: no allocation beyond jansson's parse, no I/O.
 * A heartbeat that changes a worker's state is answered after its event is committed. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "server/heartbeat.h"
#include "server/server_internal.h"

/* The key from "Authorization: Bearer KEY" or "X-API-Key: KEY"; NULL if neither. */
static const char *presented_key(struct http_request *req)
{
    const char *auth = http_header(req, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
        return auth + 7;
    return http_header(req, "X-API-Key");
}

bool ingest_authorized(struct http_request *req, const struct server *srv)
{
    const char *key = presented_key(req);
    if (!key || !server_secret_equal(srv, key, srv->api_key_hash)) {
        http_respond_error(req, 401, key ? "invalid API key" : "missing API key", NULL);
        return false;
    }
    return true;
}

void ingest_heartbeat(struct http_request *req, void *ctx)
{
    struct server *srv = ctx;
    if (!ingest_authorized(req, srv))
        return;
    size_t len;
    const char *body = http_body(req, &len);
    struct heartbeat hb;
    const char *field;
    char err[256];
    if (heartbeat_parse(body, len, &hb, &field, err, sizeof err) != 0) {
        http_respond_error(req, 400, err, field);
        return;
    }
    srv->heartbeat_in_progress = req;
    int rc =
        fleet_heartbeat(srv->fleet, &hb, http_client_ip(req), clock_mono_ms(), clock_wall_ms());
    /* events.c takes the request when the heartbeat changed state, and answers it itself. */
    bool waits_for_commit = srv->heartbeat_in_progress == NULL;
    srv->heartbeat_in_progress = NULL;
    if (rc != 0)
        http_respond_error(req, 503, "server out of memory", NULL);
    else if (!waits_for_commit)
        http_respond_no_content(req);
}
