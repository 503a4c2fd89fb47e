/* cfg_yaml.c — JSON written as YAML with libyaml's emitter (cfg.h), for `cfg export`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cfg/cfg.h"

static int write_out(void *data, unsigned char *buffer, size_t size)
{
    return fwrite(buffer, 1, size, data) == size;
}

/* A plain scalar that YAML would read as a number, a boolean or null must be quoted. */
static bool reads_as_other(const char *s)
{
    static const char *const words[] = {"true",  "false", "True", "False", "TRUE",
                                        "FALSE", "null",  "Null", "NULL",  "~",
                                        "yes",   "no",    "on",   "off",   ""};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(s, words[i]) == 0)
            return true;
    char *end;
    strtod(s, &end);
    return end != s && *end == '\0';
}

static int emit_scalar(yaml_emitter_t *e, const char *text, bool quoted)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), 1, 1,
                                 quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
    return yaml_emitter_emit(e, &ev) ? 0 : -1;
}

static int emit(yaml_emitter_t *e, const json_t *v)
{
    yaml_event_t ev;
    char num[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        if (!yaml_emitter_emit(e, &ev))
            return -1;
        const char *k;
        const json_t *item;
        json_object_foreach((json_t *)v, k, item) if (emit_scalar(e, k, reads_as_other(k)) != 0 ||
                                                      emit(e, item) != 0) return -1;
        yaml_mapping_end_event_initialize(&ev);
        return yaml_emitter_emit(e, &ev) ? 0 : -1;
    }
    case JSON_ARRAY: {
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        if (!yaml_emitter_emit(e, &ev))
            return -1;
        size_t i;
        const json_t *item;
        json_array_foreach(v, i, item) if (emit(e, item) != 0) return -1;
        yaml_sequence_end_event_initialize(&ev);
        return yaml_emitter_emit(e, &ev) ? 0 : -1;
    }
    case JSON_STRING:
        return emit_scalar(e, json_string_value(v), reads_as_other(json_string_value(v)));
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        return emit_scalar(e, num, false);
    case JSON_REAL:
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
        return emit_scalar(e, num, false);
    case JSON_TRUE:
        return emit_scalar(e, "true", false);
    case JSON_FALSE:
        return emit_scalar(e, "false", false);
    default:
        return emit_scalar(e, "null", false);
    }
}

int cfg_write_yaml(FILE *out, const json_t *doc)
{
    yaml_emitter_t e;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&e))
        return -1;
    yaml_emitter_set_output(&e, write_out, out);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, 100);
    int rc = -1;
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    if (yaml_emitter_emit(&e, &ev)) {
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
        if (yaml_emitter_emit(&e, &ev) && emit(&e, doc) == 0) {
            yaml_document_end_event_initialize(&ev, 1);
            if (yaml_emitter_emit(&e, &ev)) {
                yaml_stream_end_event_initialize(&ev);
                rc = yaml_emitter_emit(&e, &ev) ? 0 : -1;
            }
        }
    }
    yaml_emitter_delete(&e);
    return rc;
}
