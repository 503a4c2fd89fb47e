/* fuzz_cron.c — libFuzzer target for cron expressions (base/cron.h), as maintenance windows
 * take them from the API, the CLI and the --config file. The input is one expression; one that
 * parses is searched for its next firing in UTC and in Europe/Berlin (a firing must lie after
 * the start and within the search bound), one that does not must come with a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cron.h"
#include "base/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct tz *berlin;
    if (!berlin)
        berlin = tz_load("Europe/Berlin", NULL, NULL, 0);
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    struct cron c;
    char err[256] = "";
    if (cron_parse(text, &c, err, sizeof err) == 0) {
        const int64_t start = 1796040000; /* 2026-11-30T12:00:00Z */
        int64_t utc = cron_next(&c, NULL, start), local = cron_next(&c, berlin, start);
        if ((utc != -1 && (utc <= start || utc > start + 6LL * 366 * 86400)) ||
            (local != -1 && local <= start))
            abort();
    } else if (!err[0]) {
        abort();
    }
    free(text);
    return 0;
}
