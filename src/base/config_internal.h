/* config_internal.h — what the files of the config module share. Not for use outside src/base. */
#ifndef FAULTLINE_CONFIG_INTERNAL_H
#define FAULTLINE_CONFIG_INTERNAL_H

#include "base/config.h"

/* The section named name (any case) among the attached tables, then the registered ones; NULL if
 * none reads it. *settings is the attached module's settings, or NULL. */
const struct config_section *config_find_section(const struct config *cfg, const char *name,
                                                 void **settings);

/* Strips surrounding whitespace in place and returns the start (config_check.c). */
char *config_trim(char *s);

#endif
