/* label.c — the worker and site name rule; see label.h. */
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
