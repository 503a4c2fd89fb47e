/* exec.h — the exec channel: runs command (an argv list, no shell) for each message with the
 * message as JSON on its standard input; exit status 0 is delivered, any other status retries,
 * a command that cannot start is refused for good. After timeout (default 10 s) its whole
 * process group is killed and the message retries. */
#ifndef FAULTLINE_ALERT_EXEC_H
#define FAULTLINE_ALERT_EXEC_H

#include "alert/channel.h"

extern const struct alert_channel_type alert_channel_exec;

#endif
