/* slack.h — the Slack channel: an incoming webhook (url), sent mrkdwn text with every name and
 * value escaped, paced at one message a second per webhook. */
#ifndef FAULTLINE_ALERT_SLACK_H
#define FAULTLINE_ALERT_SLACK_H

#include "alert/channel.h"

extern const struct alert_channel_type alert_channel_slack;

/* The JSON body for msg ({"text": ...}; caller frees), or NULL when out of memory. The subject
 * is bold, the text follows, then the link; &, < and > are escaped everywhere, so no name can
 * become a link, a mention or markup. */
char *slack_message_json(const struct alert_delivery *msg);

#endif
