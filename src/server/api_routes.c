/* api_routes.c — every route the server answers, with who may call it (api.h). */
#include "server/api.h"

#define BACKLOG_BODY_MAX (1024 * 1024)

const struct http_route api_routes[] = {
    {"GET", "/", false, HTTP_PUBLIC, api_public_index, 0},
    {"POST", "/api/v1/heartbeat", false, HTTP_AGENT, api_heartbeat, 0},
    {"POST", "/api/v1/backlog", false, HTTP_AGENT, api_backlog, BACKLOG_BODY_MAX},
    {"GET", "/ping/", true, HTTP_AGENT_QUERY, api_ping, 0},
    {"POST", "/ping/", true, HTTP_AGENT_QUERY, api_ping, BACKLOG_BODY_MAX},
    {"POST", "/api/v1/metrics/", true, HTTP_AGENT, api_metrics_push, METRICS_BODY_MAX},
    {"GET", "/metrics", false, HTTP_METRICS, api_metrics, 0},
    {"GET", "/status", false, HTTP_METRICS, api_metrics_status, 0},
    {"POST", "/api/v1/reports/", true, HTTP_AGENT, api_report_push, REPORT_BODY_MAX},
    {"GET", "/api/v1/reports", false, HTTP_ADMIN, api_reports, 0},
    {"GET", "/api/v1/reports/", true, HTTP_ADMIN, api_report, 0},
    {"GET", "/admin", false, HTTP_ADMIN, api_admin_page, 0},
    {"GET", "/admin/", false, HTTP_ADMIN, api_admin_page, 0},
    {"GET", "/admin/api/status", false, HTTP_ADMIN, api_status, 0},
    {"GET", "/admin/api/worker/", true, HTTP_ADMIN, api_worker, 0},
    {"GET", "/admin/api/events", false, HTTP_ADMIN, api_events, 0},
    {"GET", "/admin/api/rca", false, HTTP_ADMIN, api_incidents, 0},
    {"GET", "/admin/api/analysis", false, HTTP_ADMIN, api_analysis, 0},
    {"GET", "/admin/api/diagnostics", false, HTTP_ADMIN, api_diagnostics, 0},
    {"GET", "/api/v1/events", false, HTTP_ADMIN, api_events_v1, 0},
    {"GET", "/api/v1/events/stream", false, HTTP_ADMIN, api_events_stream, 0},
    {"GET", "/api/v1/silences", false, HTTP_ADMIN, api_silences_list, 0},
    {"POST", "/api/v1/silences", false, HTTP_ADMIN, api_silences_create, 0},
    {"GET", "/api/v1/silences/", true, HTTP_ADMIN, api_silence_get, 0},
    {"DELETE", "/api/v1/silences/", true, HTTP_ADMIN, api_silence_expire, 0},
    {"GET", "/api/v1/checks", false, HTTP_ADMIN, api_checks_list, 0},
    {"GET", "/api/v1/checks/", true, HTTP_ADMIN, api_checks_get, 0},
    {"POST", "/api/v1/checks/", true, HTTP_ADMIN, api_checks_action, 0},
    {"POST", "/api/v1/checks", false, HTTP_ADMIN, api_checks_create, 0},
    {"PUT", "/api/v1/checks/", true, HTTP_ADMIN, api_checks_replace, 0},
    {"DELETE", "/api/v1/checks/", true, HTTP_ADMIN, api_checks_delete, 0},
    {0},
};
