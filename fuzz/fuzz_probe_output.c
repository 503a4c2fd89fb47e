/* fuzz_probe_output.c — libFuzzer target for what probes read from the outside: the first byte
 * picks the parser. Even: a check plugin's output (exec probes: status text, then Nagios
 * performance data after '|'). Odd: a DNS response (dns probes), read for the record type the
 * byte names. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe/probe_internal.h"

static const int qtypes[] = {1, 28, 5, 15, 16, 2, 6, 12}; /* A AAAA CNAME MX TXT NS SOA PTR */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t pick = data[0];
    data++;
    size--;
    if (pick % 2 == 0) {
        char *text = malloc(size + 1);
        if (!text)
            return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        struct probe_result r = {0};
        probe_split_plugin_output(text, &r);
        if (r.n_perfdata > PROBE_PERFDATA_MAX || strlen(r.output) > size)
            abort();
        free(text);
        return 0;
    }
    char *texts[32];
    int n = probe_dns_parse_answers(data, (int)size, qtypes[(pick >> 1) % 8], texts, 32);
    if (n > 32)
        abort();
    for (int i = 0; i < n; i++)
        free(texts[i]);
    return 0;
}
