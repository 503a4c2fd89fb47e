/* model/silence.h — a silence as the store keeps it: its definition as JSON text (read and
 * written by alert/silence.h, which the store does not know) and its bookkeeping. */
#ifndef FAULTLINE_MODEL_SILENCE_H
#define FAULTLINE_MODEL_SILENCE_H

#include <stdint.h>

struct silence_record {
    int64_t id;              /* assigned by the store */
    const char *body_json;   /* the definition, a JSON object as text */
    int64_t created_ms;
    int64_t expired_ms;      /* 0: not expired */
};

#endif
