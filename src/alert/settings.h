/* settings.h — the alerting settings (TELEGRAM_TOKEN, CHAT_ID, TELEGRAM_API_URL, PUBLIC_URL): the struct
 * the channels read and its option table, attached by the commands that send alerts or talk to
 * the Bot API (server, telegram). */
#ifndef FAULTLINE_ALERT_SETTINGS_H
#define FAULTLINE_ALERT_SETTINGS_H

#include "base/config.h"

/* Strings are owned by the config the table is attached to; NULL when unset. */
struct alert_settings {
    char *telegram_token;
    char *chat_id;
    char *telegram_api_url;
    char *public_url; /* PUBLIC_URL: links in messages point under it */
};

extern const struct config_table alert_settings_table;

#endif
