/* cli.h — `faultline probe ping|trace|tcp|dns|gateway TARGET [options]`: runs one probe of
 * probe.h from the command line and prints a table, or the probe_json.h object with --json.
 * Exit status 0 when the target answered, 1 when it did not, 2 for usage errors. */
#ifndef FAULTLINE_PROBE_CLI_H
#define FAULTLINE_PROBE_CLI_H

int probe_main(int argc, char **argv);

#endif
