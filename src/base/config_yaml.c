/* config_yaml.c — the --config file: a YAML mapping of flat settings and sections, read through
 * libyaml's document loader, and the node API section readers walk it with; see config.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "base/config.h"
#include "base/config_internal.h"
#include "base/err.h"

static const char *const reserved_sections[] = {CONFIG_RESERVED_SECTIONS};

/* ---- nodes ---------------------------------------------------------------------------------*/

static yaml_node_t *yaml_of(const struct config_node *n)
{
    return (yaml_node_t *)n->node;
}

/* A node for the libyaml node at index (0: none), named path, under parent (for file/marks). */
static struct config_node node_make(const struct config_node *parent, const void *doc, int index,
                                    const char *file)
{
    struct config_node n = {.doc = doc, .file = parent ? parent->file : file};
    yaml_node_t *y = index ? yaml_document_get_node((yaml_document_t *)doc, index) : NULL;
    n.node = y;
    if (y) {
        n.line = y->start_mark.line + 1;
        n.column = y->start_mark.column + 1;
    } else if (parent) {
        n.line = parent->line;
        n.column = parent->column;
    }
    return n;
}

/* Names n "PARENT[index]" (key NULL) or "PARENT.key"; a path too long for n->path is cut. */
static void node_name(struct config_node *n, const char *parent, const char *key, size_t index)
{
    int len = key ? snprintf(n->path, sizeof n->path, "%s%s%s", parent, *parent ? "." : "", key)
                  : snprintf(n->path, sizeof n->path, "%s[%zu]", parent, index);
    if (len < 0)
        n->path[0] = '\0';
}

enum config_node_type config_node_type(const struct config_node *n)
{
    yaml_node_t *y = yaml_of(n);
    if (!y)
        return CONFIG_NODE_NONE;
    switch (y->type) {
    case YAML_SCALAR_NODE: return CONFIG_NODE_SCALAR;
    case YAML_SEQUENCE_NODE: return CONFIG_NODE_SEQUENCE;
    case YAML_MAPPING_NODE: return CONFIG_NODE_MAPPING;
    default: return CONFIG_NODE_NONE;
    }
}

const char *config_node_text(const struct config_node *n)
{
    yaml_node_t *y = yaml_of(n);
    if (!y || y->type != YAML_SCALAR_NODE)
        return NULL;
    const char *v = (const char *)y->data.scalar.value;
    if (y->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        (!strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL")))
        return ""; /* YAML's null */
    return v;
}

size_t config_node_length(const struct config_node *n)
{
    yaml_node_t *y = yaml_of(n);
    if (y && y->type == YAML_SEQUENCE_NODE)
        return (size_t)(y->data.sequence.items.top - y->data.sequence.items.start);
    if (y && y->type == YAML_MAPPING_NODE)
        return (size_t)(y->data.mapping.pairs.top - y->data.mapping.pairs.start);
    return 0;
}

struct config_node config_node_item(const struct config_node *seq, size_t i)
{
    yaml_node_t *y = yaml_of(seq);
    bool ok = y && y->type == YAML_SEQUENCE_NODE && i < config_node_length(seq);
    struct config_node n = node_make(seq, seq->doc, ok ? y->data.sequence.items.start[i] : 0, NULL);
    node_name(&n, seq->path, NULL, i);
    return n;
}

static struct config_node pair_node(const struct config_node *map, size_t i, bool key)
{
    yaml_node_t *y = yaml_of(map);
    int index = 0;
    const char *name = "";
    if (y && y->type == YAML_MAPPING_NODE && i < config_node_length(map)) {
        yaml_node_pair_t *p = &y->data.mapping.pairs.start[i];
        index = key ? p->key : p->value;
        struct config_node k = node_make(map, map->doc, p->key, NULL);
        name = config_node_text(&k) ? config_node_text(&k) : "?";
    }
    struct config_node n = node_make(map, map->doc, index, NULL);
    node_name(&n, map->path, name, 0);
    return n;
}

struct config_node config_node_key_at(const struct config_node *map, size_t i)
{
    return pair_node(map, i, true);
}

struct config_node config_node_value_at(const struct config_node *map, size_t i)
{
    return pair_node(map, i, false);
}

struct config_node config_node_get(const struct config_node *map, const char *key)
{
    for (size_t i = 0; i < config_node_length(map); i++) {
        struct config_node k = config_node_key_at(map, i);
        const char *text = config_node_text(&k);
        if (text && strcmp(text, key) == 0)
            return config_node_value_at(map, i);
    }
    struct config_node none = node_make(map, map->doc, 0, NULL);
    node_name(&none, map->path, key, 0);
    return none;
}

int config_node_fail(const struct config_node *n, char *err, size_t errlen, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(err, errlen, "%s%s%zu:%zu: %s: %s", n->file ? n->file : "", n->file ? ":" : "",
                   n->line, n->column, n->path, msg);
}

/* ---- the file ----------------------------------------------------------------------------- */

/* "FILE line N: what", the form of errors about flat settings. */
static int line_fail(const char *file, size_t line, char *err, size_t errlen, const char *what)
{
    return err_set(err, errlen, "%s%sline %zu: %s", file ? file : "", file ? " " : "", line, what);
}

static const char *shape_error(const struct config_node *n)
{
    return config_node_type(n) == CONFIG_NODE_SEQUENCE
               ? "expected NAME: value, got a list"
               : "expected NAME: value, got a nested mapping";
}

static bool is_reserved(const char *name)
{
    for (size_t i = 0; i < sizeof reserved_sections / sizeof reserved_sections[0]; i++)
        if (strcasecmp(reserved_sections[i], name) == 0)
            return true;
    return false;
}

/* One "key: value" pair of the top-level mapping. */
static int apply_pair(struct config *cfg, const struct config_node *key,
                      const struct config_node *value, char *err, size_t errlen)
{
    const char *name = config_node_text(key);
    if (!name)
        return line_fail(key->file, key->line, err, errlen, shape_error(key));
    void *settings;
    const struct config_section *section = config_find_section(cfg, name, &settings);
    if (section)
        return section->read(value, settings, err, errlen);
    if (is_reserved(name))
        return config_node_fail(key, err, errlen, "not supported by this version of faultline");
    const char *text = config_node_text(value);
    if (!text)
        return line_fail(value->file, value->line, err, errlen, shape_error(value));
    char inner[256];
    if (config_set(cfg, name, text, inner, sizeof inner) != 0)
        return line_fail(value->file, value->line, err, errlen, inner);
    return 0;
}

static int apply_document(struct config *cfg, const char *file, yaml_document_t *doc, char *err,
                          size_t errlen)
{
    struct config_node root = node_make(NULL, doc, 1, file);
    switch (config_node_type(&root)) {
    case CONFIG_NODE_MAPPING: break;
    case CONFIG_NODE_SEQUENCE:
        return line_fail(file, root.line, err, errlen, "expected NAME: value, got a list");
    default: return line_fail(file, root.line, err, errlen, "expected a mapping of settings");
    }
    for (size_t i = 0; i < config_node_length(&root); i++) {
        struct config_node key = config_node_key_at(&root, i);
        struct config_node value = config_node_value_at(&root, i);
        if (apply_pair(cfg, &key, &value, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int config_apply_yaml_text(struct config *cfg, const char *file, const char *text, size_t len,
                           char *err, size_t errlen)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return err_set(err, errlen, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0;
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            rc = line_fail(file, parser.problem_mark.line + 1, err, errlen,
                           parser.problem ? parser.problem : "invalid YAML");
            break;
        }
        bool empty = !yaml_document_get_root_node(&doc);
        if (!empty)
            rc = apply_document(cfg, file, &doc, err, errlen);
        yaml_document_delete(&doc);
        if (empty || rc != 0)
            break;
    }
    yaml_parser_delete(&parser);
    return rc;
}
