/* fuzz_checks.c — libFuzzer target for check definitions: the input read as a checks file
 * (YAML into JSON, then every member checked, conditions parsed) and, line by line, as
 * conditions evaluated against a result that fills every placeholder. The check type is a stand-in
 * that accepts any member, so that the fuzzer reaches the conditions. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check/checkdef.h"

static void *any_parse(const json_t *def, const char **field, char *err, size_t errlen)
{
    return malloc(1);
}

static const struct probe_type any_type = {
    .name = "any",
    .placeholders = (1u << PH_COUNT) - 1,
    .default_condition = "[CONNECTED] == true",
    .parse = any_parse,
    .free_options = free,
};

static const struct probe_type *find_any(const char *name)
{
    return strcmp(name, "any") == 0 ? &any_type : NULL;
}

static void eval_line(const char *line)
{
    static const char *const answers[] = {"192.0.2.1"};
    static const char body[] = "{\"a\":[{\"b\":\"up\"}],\"n\":3}";
    struct probe_result r = {.ran = true,
                             .status = 200,
                             .body = body,
                             .body_len = sizeof body - 1,
                             .dns_answers = answers,
                             .n_dns_answers = 1,
                             .output = "OK",
                             .dns_rcode = "NOERROR",
                             .has_cert = true,
                             .sent = 1,
                             .received = 1};
    char err[256], msg[CONDITION_MESSAGE_MAX];
    struct condition *c = condition_parse(line, any_type.placeholders, false, err, sizeof err);
    if (!c)
        return;
    struct condition_subject s;
    condition_subject_init(&s, &r);
    condition_eval(c, &s, msg, sizeof msg);
    condition_subject_free(&s);
    condition_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct checkdef_set set;
    checkdef_set_init(&set);
    checkdef_load_text(&set, "fuzz.yaml", (const char *)data, size, find_any);
    checkdef_set_free(&set);
    char *text = strndup((const char *)data, size);
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        eval_line(line);
    free(text);
    return 0;
}
