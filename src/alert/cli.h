/* cli.h — `faultline alert test CHANNEL [--config FILE]`: sends a test message through one
 * channel instance (from `channels:`, or "telegram" from TELEGRAM_TOKEN and CHAT_ID) and prints
 * what the channel answered. */
#ifndef FAULTLINE_ALERT_CLI_H
#define FAULTLINE_ALERT_CLI_H

/* argv[0] is "alert". Returns the exit status: 0 delivered, 1 not, 2 usage or configuration. */
int alert_main(int argc, char **argv);

#endif
