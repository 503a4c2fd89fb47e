/* channels.c — the registration table of alert channels (channel.h). Adding a channel is one
 * new file with its struct alert_channel_type and one row here; the outbox opens every row. */
#include "alert/channel.h"
#include "alert/telegram.h"

#include <string.h>

const struct alert_channel_type *const alert_channel_types[] = {
    &alert_channel_telegram,
    NULL,
};

const struct alert_channel_type *alert_channel_type_find(const char *name)
{
    for (size_t i = 0; name && alert_channel_types[i]; i++)
        if (strcmp(alert_channel_types[i]->name, name) == 0)
            return alert_channel_types[i];
    return NULL;
}
