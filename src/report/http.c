/* http.c — the report's HTTP GETs (probes, this node's server): every request of a section at
 * once through base/httpc.h on a libuv loop the section's thread owns for the call. */
#include "report/report_internal.h"

#include <uv.h>

#include "base/httpc.h"

static void report_http_done(const struct httpc_response *res, void *ctx)
{
    struct report_http *r = ctx;
    r->status = res->status;
    r->ms = res->elapsed_s * 1000.0;
    snprintf(r->error, sizeof r->error, "%s", res->error ? res->error : "");
}

void report_http_get_all(struct report_http *reqs, size_t n)
{
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        for (size_t i = 0; i < n; i++)
            snprintf(reqs[i].error, sizeof reqs[i].error, "no event loop");
        return;
    }
    struct httpc *http = httpc_new(&loop);
    for (size_t i = 0; i < n; i++) {
        struct httpc_request req = {
            .method = "GET", .url = reqs[i].url, .timeout_ms = REPORT_NET_TIMEOUT_MS};
        snprintf(reqs[i].error, sizeof reqs[i].error, "out of memory");
        if (http && httpc_start(http, &req, report_http_done, &reqs[i]) == 0)
            reqs[i].error[0] = '\0';
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    httpc_close(http);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}
