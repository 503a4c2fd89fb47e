/* settings_tables.c — every module's settings table (settings_tables.h). A new module with
 * settings adds its table here. */
#include "settings_tables.h"

#include "agent/settings.h"
#include "alert/depend.h"
#include "alert/settings.h"
#include "alert/silence.h"
#include "monitor/settings.h"
#include "report/report.h"
#include "server/settings.h"

const struct config_table *const settings_tables[] = {
    &server_settings_table,
    &rca_settings_table,
    &alert_settings_table,
    &silence_settings_table,
    &depend_settings_table,
    &agent_settings_table,
    &report_settings_table,
    &monitor_settings_table,
};
const size_t settings_table_count = sizeof settings_tables / sizeof settings_tables[0];
