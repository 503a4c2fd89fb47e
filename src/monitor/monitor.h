/* monitor.h — `faultline monitor [VIEW] [--env NAME] [--node HOST] [--server URL] [--json]`:
 * the fleet seen from a laptop. Runs `faultline report --json` on every node of the nodes file
 * over the system ssh, in parallel (or reads the reports agents pushed to a server), derives
 * alerts per node and across nodes, and shows a view: cluster (default), node, service, mesh,
 * alerts, report (the LLM-ready JSON) or live (the TUI). docs/report.md, "faultline monitor". */
#ifndef FAULTLINE_MONITOR_H
#define FAULTLINE_MONITOR_H

/* argv[0] is "monitor". Returns the exit status: 0 no critical alert, 1 critical alerts (an
 * unreachable node is one), 2 usage or configuration error. */
int monitor_main(int argc, char **argv);

#endif
