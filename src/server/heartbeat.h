/* heartbeat.h — the body of POST /api/v1/heartbeat: parsing and validation, kept apart from HTTP
 * and state so it can be tested and fuzzed alone. */
#ifndef FAULTLINE_HEARTBEAT_H
#define FAULTLINE_HEARTBEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/worker.h"

#define HEARTBEAT_TAGS_MAX 512

struct heartbeat {
    char name[WORKER_NAME_MAX + 1];
    char version[WORKER_VERSION_MAX + 1];
    char site[WORKER_SITE_MAX + 1];
    int gpus;          /* WORKER_GPUS_FAILED when the body says "gpu_error": true */
    int64_t uptime_s;
    char tags[HEARTBEAT_TAGS_MAX + 1]; /* TAGS as the agent sent it, "region=eu,role=gpu" */
    bool checks; /* "checks": true: the agent runs checks and reads the answer's checks_version */
};

#define HEARTBEAT_FIELD_MAX 128

/* Parses a JSON object {"name": str, "gpus": int, "version": str, "uptime_s": number,
 * "site": str, "gpu_error": bool, "tags": str, "checks": bool}; "gpu_error": true (the machine's GPU check failed) wins over
 * gpus. Only name is required, unknown members are ignored (but must be valid JSON and
 * UTF-8 like the rest). Returns 0, or -1 with a message in err and in field (fieldlen bytes,
 * HEARTBEAT_FIELD_MAX is enough) the path of the offending member ("site", "extra.note"), ""
 * when the body as a whole is wrong. */
int heartbeat_parse(const char *body, size_t len, struct heartbeat *out, char *field,
                    size_t fieldlen, char *err, size_t errlen);

#endif
