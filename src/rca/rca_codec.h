/* rca_codec.h — an open incident to and from the form the store keeps (model/incident.h): the
 * JSON texts scope, workers and evidence described in rca.h. The evidence also carries the
 * engine's own state (announced, canaries), so that rca_codec_decode can take an incident back
 * after a restart. Internal to the rca files; fuzzed by fuzz/fuzz_rca_restore.c through
 * rca_restore. */
#ifndef FAULTLINE_SERVER_RCA_CODEC_H
#define FAULTLINE_SERVER_RCA_CODEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "model/incident.h"
#include "rca/rca_state.h"

/* The scope object of inc (g its grouping, label its scope label or ""). New reference. */
json_t *rca_codec_scope(const struct rca_incident *inc, const struct rca_grouping *g,
                        const char *label);
/* The evidence object of inc, with the settings of cfg it was judged by. New reference. */
json_t *rca_codec_evidence(const struct rca_config *cfg, const struct rca_incident *inc,
                           const struct rca_grouping *g);

/* Groups as JSON, built in one pass: rca_codec_groups_add each worker to by_key (an empty
 * object), then rca_codec_groups_finish, which frees by_key and returns
 * [{"key","site","ips","prefixes","workers","names"}] in order of first worker. */
void rca_codec_groups_add(json_t *by_key, const struct rca_worker *w);
json_t *rca_codec_groups_finish(json_t *by_key);

/* Fills rec with inc as the store keeps it: id, class, times and the three JSON texts, which are
 * malloc'd (free them with rca_codec_record_free). Returns 0, or -1 when out of memory (rec
 * then holds nothing to free). */
int rca_codec_encode(const struct rca_config *cfg, const struct rca_incident *inc,
                     const struct rca_grouping *g, const char *label, struct incident_record *rec);
/* Frees the JSON texts rca_codec_encode allocated. */
void rca_codec_record_free(struct incident_record *rec);

/* Fills inc (zeroed by the caller) from a stored record: id, times, its workers and the engine
 * state its evidence keeps. Any text is accepted: what is not what rca_codec_encode writes is
 * refused. Returns 0, or -1 with err naming the bad field; inc may then hold workers and
 * evidence to free (rca_incident_free). */
int rca_codec_decode(const struct incident_record *rec, struct rca_incident *inc, char *err,
                     size_t errlen);

#endif
