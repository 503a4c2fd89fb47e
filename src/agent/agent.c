/* agent.c — placeholder until the agent lands. */
#include "agent/agent.h"
int agent_main(int argc, char **argv) { (void)argc; (void)argv; return 2; }
