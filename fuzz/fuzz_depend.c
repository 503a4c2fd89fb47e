/* fuzz_depend.c — libFuzzer target for the `dependencies:` section of the --config file
 * (alert/depend.h): a file it refuses must say where and why; rules it accepts are matched
 * against a worker with a site label. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alert/depend.h"

static bool all_down(const char *parent, void *ctx)
{
    return parent[0] != '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config cfg;
    struct depend_settings ds;
    char err[512] = "";
    config_init(&cfg);
    config_attach(&cfg, &depend_settings_table, &ds);
    if (config_apply_yaml_text(&cfg, "fuzz.yaml", (const char *)data, size, err, sizeof err) != 0) {
        if (!err[0])
            abort();
    } else {
        struct label site = {"site", "fra1"};
        depend_down_parent(&ds, "gpu-fra1-1", &site, 1, all_down, NULL);
    }
    config_free(&cfg);
    return 0;
}
