/* label.c — the worker and site name rule, and label sets; see label.h. */
#include "base/label.h"

#include <ctype.h>
#include <string.h>

bool label_valid(const char *text)
{
    size_t n = strlen(text);
    if (n == 0 || n > LABEL_MAX)
        return false;
    for (const char *p = text; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._-:()@+", *p))
            return false;
    return true;
}

const char *label_set_get(const struct label_set *set, const char *key)
{
    for (size_t i = 0; set && i < set->count; i++)
        if (strcmp(set->items[i].key, key) == 0)
            return set->items[i].value;
    return NULL;
}
