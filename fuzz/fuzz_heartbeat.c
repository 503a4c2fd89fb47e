/* fuzz_heartbeat.c — libFuzzer target for heartbeat bodies (heartbeat_parse). */
#include <stddef.h>
#include <stdint.h>

#include "server/heartbeat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct heartbeat hb;
    char field[HEARTBEAT_FIELD_MAX], err[256];
    heartbeat_parse((const char *)data, size, &hb, field, sizeof field, err, sizeof err);
    return 0;
}
