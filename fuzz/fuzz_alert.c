/* fuzz_alert.c — libFuzzer target for alerting's readers of outside input: the webhook template
 * renderer (a template and a message's fields, split at the first NUL byte: names and texts in
 * fields come from agents) and the channels: and routes: sections of the --config file. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alert/settings.h"
#include "alert/webhook.h"
#include "base/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    size_t first = strlen(text);
    const char *fields = first < size ? text + first + 1 : "{\"text\":\"x\"}";
    char err[512];
    char *body = webhook_render(text, fields, err, sizeof err);
    if (!body && strlen(err) >= sizeof err)
        __builtin_trap();
    free(body);
    struct config cfg;
    struct alert_settings settings;
    config_init(&cfg);
    config_attach(&cfg, &alert_settings_table, &settings);
    config_apply_yaml_text(&cfg, "fuzz.yaml", text, first, err, sizeof err);
    config_free(&cfg);
    free(text);
    return 0;
}
