/* api_heartbeat.c — POST /api/v1/heartbeat (agents): validates the body and hands the heartbeat
 * to the fleet. This is the hot path: no allocation beyond the parse, no I/O. A heartbeat that
 * changes a worker's state is handed to the event recorder with the fleet's transition (its
 * cause) and answered there, once its event is committed, so a 204 always means "stored"; while
 * a worker's state is not on disk yet, its heartbeats get 503 with Retry-After. An agent that
 * says "checks": true gets 200 {"checks_version": V} instead of 204 (when no state change is
 * being stored: that answer stays 204 and the next one carries the version). */
#include "base/clock.h"
#include "server/api.h"
#include "server/checks.h"
#include "server/events.h"
#include "server/fleet.h"
#include "server/heartbeat.h"
#include "server/server_metrics.h"

void api_heartbeat(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    size_t len;
    const char *body = http_body(req, &len);
    struct heartbeat hb;
    char field[HEARTBEAT_FIELD_MAX], err[256];
    if (heartbeat_parse(body, len, &hb, field, sizeof field, err, sizeof err) != 0) {
        http_respond_error(req, 400, err, field[0] ? field : NULL);
        return;
    }
    char version[CHECKS_VERSION_MAX] = "";
    if (api->checks && checks_agent_seen(api->checks, hb.name, hb.site, hb.tags, version,
                                         sizeof version, err, sizeof err) != 0) {
        http_respond_error(req, 400, err, "tags");
        return;
    }
    server_metrics_heartbeat(api->metrics);
    struct heartbeat_answer answer = {.req = req};
    int rc = fleet_heartbeat(api->fleet, &hb, http_client_ip(req), clock_mono_ms(),
                             clock_wall_ms(), &answer);
    if (rc == FLEET_HEARTBEAT_NO_MEMORY)
        http_respond_error(req, 503, "server out of memory", NULL);
    else if (rc == FLEET_HEARTBEAT_SEEN && hb.checks && version[0])
        http_respond_json(req, 200, json_pack("{ss}", "checks_version", version));
    else if (rc == FLEET_HEARTBEAT_SEEN)
        http_respond_no_content(req);
    else if (rc == FLEET_HEARTBEAT_UNRECORDED)
        events_refuse_heartbeat(req);
    /* rc 1: the event recorder took the request (events.c). */
}
