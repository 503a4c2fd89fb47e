/* server.h — `faultline server`: loads settings, opens the store, restores worker state and runs
 * the loop that serves HTTP, watches deadlines and sends notifications until SIGTERM/SIGINT. */
#ifndef FAULTLINE_SERVER_H
#define FAULTLINE_SERVER_H

/* argv[0] is "server". Returns the process exit status. */
int server_main(int argc, char **argv);

#endif
