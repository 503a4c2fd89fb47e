/* server.c — placeholder. */
#include "server/server.h"
int server_main(int argc, char **argv) { (void)argc; (void)argv; return 2; }
