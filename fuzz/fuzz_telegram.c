/* fuzz_telegram.c — libFuzzer target for the Bot API's answers: telegram_classify (a sendMessage
 * answer; the first two bytes pick the HTTP status) and telegram_list_chats (a getUpdates answer,
 * as lines and as JSON). Checks that an outcome always carries a text when it is not "sent" and
 * that a retry_after is never negative nor beyond a day. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "alert/telegram.h"

static FILE *sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sink)
        sink = fopen("/dev/null", "w");
    long status = size >= 2 ? 100 + (data[0] << 8 | data[1]) % 500 : 200;
    const char *body = size >= 2 ? (const char *)data + 2 : (const char *)data;
    size_t len = size >= 2 ? size - 2 : size;
    struct alert_outcome out;
    telegram_classify(status, NULL, body, len, &out);
    if (out.result != ALERT_SENT && !out.error[0])
        abort();
    if (out.retry_after_ms < 0 || out.retry_after_ms > 86400 * 1000LL)
        abort();
    char err[256];
    telegram_list_chats(body, len, false, sink, err, sizeof err);
    telegram_list_chats(body, len, true, sink, err, sizeof err);
    return 0;
}
