/* collect.c — the collector registration table and the loop that runs every collector; the
 * collectors themselves live one per file beside it (system.c, gpu.c). */
#include "collect/collect.h"

#include <stdio.h>

const struct collector *const collect_table[] = {&collect_system, &collect_gpu};
const size_t collect_count = sizeof collect_table / sizeof collect_table[0];

int collect_all(struct host_facts *out, char *err, size_t errlen)
{
    int rc = 0;
    *out = (struct host_facts){.gpu_source = "none"};
    for (size_t i = 0; i < collect_count; i++) {
        char e[192] = "";
        if (collect_table[i]->collect(out, e, sizeof e) != 0 && rc == 0) {
            snprintf(err, errlen, "%s: %s", collect_table[i]->name, e);
            rc = -1;
        }
    }
    return rc;
}
