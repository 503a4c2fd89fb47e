/* email.h — the email channel: SMTP through libcurl (smtp_url smtp://HOST:587 with STARTTLS
 * required, or smtps:// for TLS from the start; tls: none allows plain SMTP, for a relay on
 * loopback), login with username and password, from, to (one address or a list), ca_file for
 * a private CA, timeout. The transfer runs on libuv's thread pool. */
#ifndef FAULTLINE_ALERT_EMAIL_H
#define FAULTLINE_ALERT_EMAIL_H

#include <stddef.h>

#include "alert/channel.h"

extern const struct alert_channel_type alert_channel_email;

/* The mail for msg (headers and body, CRLF line ends; caller frees), or NULL when out of memory.
 * The subject loses line breaks and is RFC 2047 encoded when not ASCII; Message-ID is
 * <faultline-ID@HOST-OF-FROM>, the same for a duplicate after a crash. */
char *email_message(const char *from, const char *const *to, size_t n_to,
                    const struct alert_delivery *msg);

#endif
