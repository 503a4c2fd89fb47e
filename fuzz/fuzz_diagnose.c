/* fuzz_diagnose.c — libFuzzer target for what agents upload and `faultline analyze` reads: JSON
 * lines of metrics and diagnoses (with their "mtr" objects) through diagnose_worker, the path
 * rules and every text the follow-up builds from them. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/diagnose.h"

#define MAX_RECORDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    json_t *records[MAX_RECORDS];
    size_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && n < MAX_RECORDS;
         line = strtok_r(NULL, "\n", &save)) {
        json_t *r = json_loads(line, 0, NULL);
        if (r)
            records[n++] = r;
    }
    struct worker_diagnosis d[2];
    char buf[2048];
    if (diagnose_worker("fuzz", records, n, &d[0]) == 0) {
        worker_diagnosis_text(&d[0], buf, sizeof buf);
        worker_diagnosis_evidence(&d[0], buf, sizeof buf);
        json_decref(worker_diagnosis_json(&d[0]));
        d[1] = d[0];
        struct diagnosis_headline h;
        if (diagnosis_headline_of(d, 2, size % 2, &h) == 0)
            diagnosis_group_text(d, 2, &h, buf, sizeof buf);
    }
    for (size_t i = 0; i < n; i++)
        json_decref(records[i]);
    free(text);
    return 0;
}
