/* fuzz_report.c — libFuzzer target for what `faultline report` reads from outside and what the
 * server takes from agents: the first byte picks `wg show all dump` output (report_wg_parse),
 * a /proc/net/tcp-style table (report_listen_parse), /proc/net/snmp (report_retrans_pct), or a
 * pushed report body (json_loadb, then report_check, as POST /api/v1/reports/NAME does). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    switch (data[0] % 4) {
    case 0:
        json_decref(report_wg_parse(text, 1795000000));
        break;
    case 1: {
        json_t *ports = json_array();
        if (report_listen_parse(text, data[0] & 4 ? "udp" : "tcp6", ports) !=
            json_array_size(ports))
            __builtin_trap();
        json_decref(ports);
        break;
    }
    case 2:
        report_retrans_pct(text);
        break;
    default: {
        json_t *doc = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
        char err[300];
        if (doc && report_check(doc, err, sizeof err) != 0 && strlen(err) >= sizeof err)
            __builtin_trap();
        json_decref(doc);
    }
    }
    free(text);
    return 0;
}
