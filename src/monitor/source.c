/* source.c — picks the source of a collection (ssh or a server) and tags the snapshot with the
 * environment; see source.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/source.h"

struct tagged {
    monitor_collect_cb done;
    void *ctx;
    char *environment;
};

static void on_collected(struct monitor_snapshot *snap, void *ctx)
{
    struct tagged *t = ctx;
    snap->environment = t->environment;
    monitor_collect_cb done = t->done;
    void *done_ctx = t->ctx;
    free(t);
    done(snap, done_ctx);
}

struct monitor_collection *monitor_plan_start(uv_loop_t *loop, const struct monitor_plan *plan,
                                              monitor_collect_cb done, void *ctx, char *err,
                                              size_t errlen)
{
    struct tagged *t = calloc(1, sizeof *t);
    if (!t || !(t->environment = strdup(plan->environment ? plan->environment : ""))) {
        free(t);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->done = done;
    t->ctx = ctx;
    struct monitor_collection *c =
        plan->server ? monitor_server_start(loop, plan->server, plan->only_node, plan->timeout_ms,
                                            on_collected, t, err, errlen)
                     : monitor_fanout_start(loop, plan->nodes, plan->node_count, plan->timeout_ms,
                                            on_collected, t, err, errlen);
    if (!c) {
        free(t->environment);
        free(t);
    }
    return c;
}

void monitor_collection_cancel(struct monitor_collection *c)
{
    if (c)
        c->cancel(c);
}
