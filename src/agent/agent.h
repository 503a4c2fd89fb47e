/* agent.h — `faultline agent [NAME]`: pushes a heartbeat (name, GPU count, version, uptime) to
 * http://SERVER_ADDR:SERVER_PORT/api/v1/heartbeat every PING_INTERVAL. A failed heartbeat is
 * logged and retried at the next tick; the agent never exits because the server is away.
 * SIGTERM and SIGINT stop it cleanly. */
#ifndef FAULTLINE_AGENT_H
#define FAULTLINE_AGENT_H

/* argv[0] is "agent". Returns the process exit status. */
int agent_main(int argc, char **argv);

#endif
