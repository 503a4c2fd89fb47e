/* source.h — where a collection of the fleet comes from: the system ssh to every node in
 * parallel (fanout.c), or a faultline server's GET /api/v1/reports (server_source.c). Both run
 * on the caller's libuv loop and never block it; both hand back a snapshot (snapshot.h). */
#ifndef FAULTLINE_MONITOR_SOURCE_H
#define FAULTLINE_MONITOR_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "monitor/settings.h"
#include "monitor/snapshot.h"

/* Called once on the loop when the collection is over (every node answered, failed or ran out
 * of time, or the collection was cancelled). The callee takes the snapshot's contents (it
 * copies *snap and clears its copy when done); snap itself is only valid during the call. */
typedef void (*monitor_collect_cb)(struct monitor_snapshot *snap, void *ctx);

/* A collection in flight; each source's state begins with this. */
struct monitor_collection {
    void (*cancel)(struct monitor_collection *self);
};

/* Runs `NODE.faultline report --json` on each of nodes (pointers into the settings, valid until
 * done is called) over ssh: BatchMode, connection sharing (a ControlMaster socket per node in
 * a private directory, $XDG_RUNTIME_DIR/faultline-ssh, or /tmp/faultline-ssh-UID without one or
 * when its path is too long for a socket), kept open 120 s), the node's port, user, identity file
 * and options. Every node has timeout_ms; answers over 4 MiB are cut. Returns the collection, or
 * NULL with err set (the control directory cannot be made safely, out of memory); done is not
 * called then. */
struct monitor_collection *monitor_fanout_start(uv_loop_t *loop,
                                                const struct monitor_node *const *nodes,
                                                size_t count, int64_t timeout_ms,
                                                monitor_collect_cb done, void *ctx, char *err,
                                                size_t errlen);

/* GETs URL/api/v1/reports with HTTP Basic: the URL's user:password, or FAULTLINE_ADMIN_USER and
 * FAULTLINE_ADMIN_PASSWORD from the environment. Each stored report becomes a node of the
 * snapshot; a node (--node) keeps only that worker. Returns NULL with err set when the URL is
 * not http(s)://... */
struct monitor_collection *monitor_server_start(uv_loop_t *loop, const char *url,
                                                const char *only_node, int64_t timeout_ms,
                                                monitor_collect_cb done, void *ctx, char *err,
                                                size_t errlen);

/* What to collect: the nodes over ssh, or (server set) a server's reports. Pointers are the
 * caller's and stay valid while collections run. */
struct monitor_plan {
    const struct monitor_node *const *nodes;
    size_t node_count;
    const char *server;    /* --server URL; NULL: ssh */
    const char *only_node; /* --server with --node */
    const char *environment;
    int64_t timeout_ms;
};

/* Starts the plan's collection (monitor_fanout_start or monitor_server_start); the snapshot
 * handed to done carries the plan's environment. */
struct monitor_collection *monitor_plan_start(uv_loop_t *loop, const struct monitor_plan *plan,
                                              monitor_collect_cb done, void *ctx, char *err,
                                              size_t errlen);

/* Reads the body of GET /api/v1/reports ({"reports":[{worker, received, report}]}) into snap
 * (empty before): one result per report, or only the worker named only_node when not NULL.
 * Returns 0, or -1 with snap->error set (what was read before a bad entry is kept). */
int monitor_server_reports_read(const char *body, size_t len, const char *only_node,
                                struct monitor_snapshot *snap);

/* Stops a collection in flight: ssh processes are killed, the request aborted; done is still
 * called (from the loop) with what had arrived. NULL is a no-op. */
void monitor_collection_cancel(struct monitor_collection *c);

#endif
