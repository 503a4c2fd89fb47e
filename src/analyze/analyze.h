/* analyze.h — `faultline analyze METRICS.jsonl [DIAGNOSTICS.jsonl ...] [--json]`: offline
 * root-cause analysis of an agent's logs copied from a machine (docs/rca.md, "Offline
 * analysis"). Reads the files, finds the outage periods, diagnoses each one with
 * analyze/diagnose.h and lists the worst hops of the recorded paths, as an aligned table or as
 * one JSON object. */
#ifndef FAULTLINE_ANALYZE_H
#define FAULTLINE_ANALYZE_H

/* argv[0] is "analyze". Returns the exit status: 0 no outage found, 1 outages found, 2 usage
 * error or a file that cannot be read. */
int analyze_main(int argc, char **argv);

#endif
