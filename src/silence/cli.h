/* cli.h — `faultline silence add|list|expire`: silences and maintenance windows through a
 * server's API (/api/v1/silences, docs/silences.md). */
#ifndef FAULTLINE_SILENCE_CLI_H
#define FAULTLINE_SILENCE_CLI_H

/* Exit status: 0 done; 1 the server could not be reached or refused (credentials, unknown id,
 * a silence of the config file, a server error); 2 usage, or a silence the server found
 * invalid (400). */
int silence_main(int argc, char **argv);

#endif
