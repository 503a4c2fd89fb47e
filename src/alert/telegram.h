/* telegram.h — the Telegram Bot API channel (sendMessage, editMessageText) and the `faultline telegram chat-id`
 * helper that lists chats the bot has seen (getUpdates). TELEGRAM_API_URL sets the base URL. */
#ifndef FAULTLINE_ALERT_TELEGRAM_H
#define FAULTLINE_ALERT_TELEGRAM_H

#include <stdbool.h>
#include <stdio.h>

#include "alert/channel.h"

extern const struct alert_channel_type alert_channel_telegram;

/* `faultline telegram ...`: argv[0] is "telegram". Returns the process exit status. */
int telegram_main(int argc, char **argv);

/* Helpers with no I/O, public so the unit tests can drive them with tables. */

/* Sorts one answer from the Bot API into out: status is the HTTP status (0 when none came),
 * transport_error what went wrong before an answer (NULL if one came), body the answer. */
void telegram_classify(long status, const char *transport_error, const char *body, size_t body_len,
                       struct alert_outcome *out);
/* Returns the sendMessage body as JSON text (caller frees), or with ref (a message_id) the
 * editMessageText body; NULL if out of memory or ref is not a message id. A numeric chat_id is
 * sent as a number, "@name" as a string; invalid UTF-8 in text becomes '?'. */
char *telegram_message_json(const char *chat_id, const char *ref, const char *text);
/* Copies text into out (always NUL-terminated) with every occurrence of token replaced by
 * "<redacted>". */
void telegram_redact(const char *text, const char *token, char *out, size_t outlen);
/* Prints the distinct chats in a getUpdates answer to out, one aligned line each
 * ("-1001234567  supergroup  Ops alerts") or, with as_json, as a JSON array. Returns how many,
 * or -1 with err set when the answer is not a successful getUpdates result. */
int telegram_list_chats(const char *updates, size_t len, bool as_json, FILE *out, char *err,
                        size_t errlen);

#endif
