/* api_public.c — GET /, the only page anyone may read: how many systems are monitored, and
 * nothing else (no names, addresses, states, versions or timings). */
#include <stdio.h>

#include "server/api.h"
#include "server/fleet.h"

void api_public_index(struct http_request *req, void *ctx)
{
    struct api_context *api = ctx;
    char page[1024];
    size_t n = fleet_count(api->fleet);
    int len = snprintf(page, sizeof page,
                       "<!doctype html><html><head><meta charset=\"utf-8\">"
                       "<meta name=\"viewport\" content=\"width=device-width\">"
                       "<title>faultline</title><style>body{font-family:system-ui,sans-serif;"
                       "display:flex;align-items:center;justify-content:center;height:90vh;"
                       "color:#222}h1{font-weight:500}</style></head><body>"
                       "<h1 id=\"count\">%zu %s monitored</h1></body></html>\n",
                       n, n == 1 ? "system" : "systems");
    http_respond_page(req, 200, page, (size_t)len);
}
