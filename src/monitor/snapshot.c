/* snapshot.c — freeing and counting a collection of the fleet; see snapshot.h. */
#include "monitor/snapshot.h"

#include <stdlib.h>
#include <string.h>

void monitor_snapshot_clear(struct monitor_snapshot *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->count; i++) {
        free(s->results[i].host);
        free(s->results[i].name);
        free(s->results[i].role);
        json_decref(s->results[i].report);
    }
    free(s->results);
    free(s->environment);
    memset(s, 0, sizeof *s);
}

size_t monitor_snapshot_reachable(const struct monitor_snapshot *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->count; i++)
        n += s->results[i].report != NULL;
    return n;
}
