/* settings.c — the alerting option table; see settings.h. */
#include "alert/settings.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

/* An integer of at most 20 digits, optionally negative, or @channel. */
static bool check_chat(const char *v)
{
    if (v[0] == '@')
        return v[1] != '\0' && strlen(v) <= 64;
    const char *p = v[0] == '-' ? v + 1 : v;
    if (!*p || strlen(p) > 20)
        return false;
    for (; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    return true;
}

#define FIELD(f) offsetof(struct alert_settings, f)

static const struct config_option alert_options[] = {
    {"TELEGRAM_TOKEN", CONFIG_TEXT, FIELD(telegram_token), NULL, "bot token from BotFather",
     .flags = CONFIG_SECRET},
    {"CHAT_ID", CONFIG_TEXT, FIELD(chat_id), NULL, "Telegram chat to notify", .check = check_chat,
     .expected = "a numeric chat id (e.g. -123456789) or @channel"},
    {"TELEGRAM_API_URL", CONFIG_TEXT, FIELD(telegram_api_url), "https://api.telegram.org",
     "Telegram Bot API base URL", .check = config_check_url, .expected = CONFIG_EXPECT_URL,
     .flags = CONFIG_TRIM_SLASH},
    {"PUBLIC_URL", CONFIG_TEXT, FIELD(public_url), NULL,
     "the server's address as people reach it; alerts link to their page under it",
     .check = config_check_url, .expected = CONFIG_EXPECT_URL, .flags = CONFIG_TRIM_SLASH},
};

const struct config_table alert_settings_table = {
    .module = "alert",
    .options = alert_options,
    .option_count = sizeof alert_options / sizeof alert_options[0],
};
