/* tls.h — the server's certificate and key for HTTPS (TLS_CERT, TLS_KEY): loaded at start,
 * reloaded on SIGHUP without dropping the service. libmicrohttpd asks for the certificate at each
 * handshake through a GnuTLS callback (tls_credentials_callback), which hands out the pair in
 * service; a reload loads the new pair on libuv's thread pool and swaps it in on the loop, so new
 * handshakes get it while open connections carry on. A bad new pair is logged and the old one
 * kept. Everything but the loading runs on the loop thread. */
#ifndef FAULTLINE_TLS_H
#define FAULTLINE_TLS_H

#include <gnutls/abstract.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct tls_credentials;

/* Reads the certificate chain (PEM, the server's certificate first) and its private key (PEM,
 * unencrypted) and checks that they belong together. The paths are copied. Returns NULL with err
 * naming the setting, the file and what is wrong, e.g.
 *   TLS_KEY: cannot read "/etc/faultline/key.pem": Permission denied */
struct tls_credentials *tls_credentials_open(const char *cert_path, const char *key_path, char *err,
                                             size_t errlen);

/* One line on the certificate in service: "subject CN=..., serial 1A2B..., expires
 * 2027-01-31 12:00 UTC" (", EXPIRED" appended when it has). Valid until the next reload. */
const char *tls_credentials_about(const struct tls_credentials *creds);

/* True when the certificate in service has expired. */
bool tls_credentials_expired(const struct tls_credentials *creds);

/* Rereads both files off the loop and swaps them in when they are good; logs the outcome
 * ("tls: reloaded ..." or "tls: reload failed: ... (still serving ...)"). A reload asked for while
 * one runs follows it. */
void tls_credentials_reload(struct tls_credentials *creds, uv_loop_t *loop);

/* Makes creds the pair handshakes get and returns the callback for
 * MHD_OPTION_HTTPS_CERT_CALLBACK. GnuTLS's callback takes no context, so one tls_credentials
 * serves per process: the last one passed here. */
gnutls_certificate_retrieve_function2 *tls_credentials_callback(struct tls_credentials *creds);

/* Frees creds (once a reload in flight has returned). Call after the HTTPS server has stopped.
 * NULL is a no-op. */
void tls_credentials_close(struct tls_credentials *creds);

#endif
