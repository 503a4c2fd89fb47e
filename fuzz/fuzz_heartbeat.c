/* fuzz_heartbeat.c — libFuzzer target for heartbeat bodies (heartbeat_parse). */
#include <stddef.h>
#include <stdint.h>

#include "server/heartbeat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct heartbeat hb;
    const char *field;
    char err[256];
    heartbeat_parse((const char *)data, size, &hb, &field, err, sizeof err);
    return 0;
}
