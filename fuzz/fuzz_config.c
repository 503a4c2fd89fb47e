/* fuzz_config.c — libFuzzer target for settings text: the .env reader and the YAML reader. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char err[512];
    struct config cfg;
    config_init(&cfg);
    config_apply_env_text(&cfg, text, err, sizeof err);
    config_apply_yaml_text(&cfg, "fuzz.yaml", text, size, err, sizeof err);
    config_free(&cfg);
    free(text);
    return 0;
}
