/* fuzz_uptimebot.c — libFuzzer target for what the uptime-rca-bot's clients send and write: the
 * first line is a worker name as in /ping/NAME (and an mtr file name), the rest a POST body
 * {"backlog": [...]} or one record. Every record goes through uptimebot_record_map, and what maps
 * through diagnose_worker, as the server's follow-up and `faultline analyze` read it. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/diagnose.h"
#include "analyze/uptimebot.h"

#define MAX_RECORDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *body = strchr(text, '\n');
    if (body)
        *body++ = '\0';
    char name[WORKER_NAME_MAX + 1], err[256], field[96];
    int gpus;
    int64_t ms = 0;
    uptimebot_name_parse(text, name, &gpus, err, sizeof err);
    uptimebot_mtr_file_time(text, &ms);
    json_t *root = body ? json_loads(body, JSON_DECODE_ANY, NULL) : NULL;
    json_t *backlog = json_object_get(root, "backlog");
    json_t *records[MAX_RECORDS];
    size_t n = 0, count = json_is_array(backlog) ? json_array_size(backlog) : (root ? 1 : 0);
    for (size_t i = 0; i < count && n < MAX_RECORDS; i++) {
        const json_t *rec = json_is_array(backlog) ? json_array_get(backlog, i) : root;
        uptimebot_format_of(rec);
        json_t *r = uptimebot_record_map(rec, ms, field, sizeof field, err, sizeof err);
        if (r)
            records[n++] = r;
    }
    struct worker_diagnosis d;
    char line[2048];
    if (diagnose_worker(name, records, n, &d) == 0) {
        worker_diagnosis_text(&d, line, sizeof line);
        json_decref(worker_diagnosis_json(&d));
    }
    for (size_t i = 0; i < n; i++)
        json_decref(records[i]);
    json_decref(root);
    free(text);
    return 0;
}
