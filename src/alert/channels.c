/* channels.c — the registration table of alert channels (channel.h). Adding a channel is one
 * new file with its struct alert_channel_type and one row here; the outbox opens every row. */
#include "alert/channel.h"
#include "alert/telegram.h"

const struct alert_channel_type *const alert_channel_types[] = {
    &alert_channel_telegram,
    NULL,
};
