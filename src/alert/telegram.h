/* telegram.h — the Telegram Bot API channel (sendMessage) and the `faultline telegram chat-id`
 * helper that lists chats the bot has seen (getUpdates). TELEGRAM_API_URL sets the base URL. */
#ifndef FAULTLINE_ALERT_TELEGRAM_H
#define FAULTLINE_ALERT_TELEGRAM_H

#include "alert/channel.h"

extern const struct alert_channel_type alert_channel_telegram;

/* `faultline telegram ...`: argv[0] is "telegram". Returns the process exit status. */
int telegram_main(int argc, char **argv);

#endif
