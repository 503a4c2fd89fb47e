/* tui.h — `faultline monitor live`: a full-screen ncurses view of the fleet with the tabs
 * Overview, Nodes, Services, Mesh and Alerts, refreshed every MONITOR_REFRESH on the caller's
 * libuv loop (a spinner turns while a collection runs; keys stay live). */
#ifndef FAULTLINE_MONITOR_TUI_H
#define FAULTLINE_MONITOR_TUI_H

#include <uv.h>

#include "monitor/settings.h"
#include "monitor/source.h"

/* Runs until q, Ctrl-C, SIGINT or SIGTERM; the terminal is restored on every way out. Returns
 * the exit status: 0, or 2 when stdin/stdout is not a terminal or a collection cannot start. */
int monitor_tui_run(uv_loop_t *loop, const struct monitor_plan *plan,
                    const struct monitor_settings *settings);

#endif
