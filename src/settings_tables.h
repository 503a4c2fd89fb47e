/* settings_tables.h — every module's settings table, in one list: main.c registers it so that
 * every command accepts (and checks) every setting, and the tests check the same list. */
#ifndef FAULTLINE_SETTINGS_TABLES_H
#define FAULTLINE_SETTINGS_TABLES_H

#include <stddef.h>

#include "base/config.h"

extern const struct config_table *const settings_tables[];
extern const size_t settings_table_count;

#endif
