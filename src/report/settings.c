/* settings.c — the report's option table (REPORT_*); see report.h. */
#include "report/report.h"

#include <ctype.h>
#include <string.h>

#define FIELD(f) offsetof(struct report_settings, f)

/* Comma-separated words of letters, digits and the characters of systemd unit names. */
static bool report_check_names(const char *v)
{
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(",. _-@:\\", *p))
            return false;
    return strlen(v) <= 4096;
}

/* NAME=URL entries, comma-separated: NAME of [A-Za-z0-9_.-], URL http:// or https://. */
static bool report_check_probes(const char *v)
{
    char copy[4097];
    if (strlen(v) >= sizeof copy)
        return false;
    snprintf(copy, sizeof copy, "%s", v);
    int count = 0;
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        if (++count > 32)
            return false;
        while (*item == ' ')
            item++;
        char *eq = strchr(item, '=');
        if (!eq || eq == item || eq - item > 63)
            return false;
        for (char *n = item; n < eq; n++)
            if (!isalnum((unsigned char)*n) && !strchr("_.-", *n))
                return false;
        char *url = eq + 1;
        size_t len = strlen(url);
        while (len > 0 && url[len - 1] == ' ')
            url[--len] = '\0';
        if (!config_check_url(url))
            return false;
    }
    return true;
}

static const struct config_option report_options[] = {
    {"REPORT_UNITS", CONFIG_TEXT, FIELD(units), "faultline-agent,faultline-server,ssh",
     "report: systemd units whose state, restarts, memory and CPU are reported (.service when "
     "no suffix)",
     .check = report_check_names, .expected = "comma-separated systemd unit names"},
    {"REPORT_TARGETS", CONFIG_TEXT, FIELD(targets), "1.1.1.1:443,8.8.8.8:443",
     "report: internet hosts reached by a TCP handshake (port 443 when none); none: no check",
     .check = config_check_targets, .expected = CONFIG_EXPECT_TARGETS},
    {"REPORT_TLS", CONFIG_TEXT, FIELD(tls), NULL,
     "report: host:port endpoints whose certificate's days left are reported (port 443 when "
     "none)",
     .check = config_check_targets, .expected = CONFIG_EXPECT_TARGETS},
    {"REPORT_LOGS", CONFIG_TEXT, FIELD(logs), NULL,
     .help = "report: log files (comma-separated) whose panic and fatal lines are counted"},
    {"REPORT_ORPHANS", CONFIG_TEXT, FIELD(orphans), "faultline",
     "report: process names reported when their parent is PID 1", .check = report_check_names,
     .expected = "comma-separated process names"},
    {"REPORT_PROBES", CONFIG_TEXT, FIELD(probes), NULL,
     "report: HTTP health probes of local services, NAME=URL,...", .check = report_check_probes,
     .expected = "at most 32 comma-separated NAME=URL entries, NAME of [A-Za-z0-9_.-] (at most "
                 "63), URL http:// or https://"},
    {"REPORT_INTERVAL", CONFIG_SECONDS, FIELD(interval_ms), "300",
     .help = "agent: seconds between report pushes to /api/v1/reports/NAME"},
};

const struct config_table report_settings_table = {
    .module = "report",
    .options = report_options,
    .option_count = sizeof report_options / sizeof report_options[0],
};
