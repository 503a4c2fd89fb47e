/* json_input.h — checks on JSON bodies from outside that the decoders leave out or report
 * without a place: whether text is UTF-8, the path of the member that holds a given byte, and
 * text safe to quote back in an error. Used by the heartbeat and backlog parsers. */
#ifndef FAULTLINE_JSON_INPUT_H
#define FAULTLINE_JSON_INPUT_H

#include <stddef.h>

/* Offset of the first byte of text[0..len) that does not belong to well-formed UTF-8 (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF), or len when all of it does. */
size_t json_input_utf8_error(const char *text, size_t len);

/* Writes into path (cap bytes, always terminated) the path of the innermost member or element
 * of the JSON text body[0..len) whose key or value holds byte pos: "records[3].time",
 * "extra.note". A key is written through json_input_printable. Writes "" when pos lies in no
 * member (or body cannot be tokenized). */
void json_input_path_at(const char *body, size_t len, size_t pos, char *path, size_t cap);

/* Copies text[0..len) into dst (cap bytes, always terminated), writing each byte outside
 * printable ASCII as \xNN, so that any input can be quoted in an answer. */
void json_input_printable(const char *text, size_t len, char *dst, size_t cap);

#endif
