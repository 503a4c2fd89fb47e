/* fuzz_backlog.c — libFuzzer target for backlog chunks (backlog_parse), and with them the UTF-8
 * check and the member paths of json_input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "server/backlog_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct backlog_records r;
    struct backlog_error err;
    if (backlog_parse((const char *)data, size, 0, &r, &err) == 0)
        backlog_records_free(&r);
    else if (strlen(err.message) >= sizeof err.message || (err.record < -1))
        __builtin_trap();
    return 0;
}
