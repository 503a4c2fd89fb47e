/* test_api_routes.c — the route table's access column: every admin path asks for the admin,
 * the active checks' paths (/api/v1/checks) for the admin too, every other agent path for the
 * API key (but the reads of /api/v1/reports, for the admin) (the uptime-rca-bot's /ping/ also
 * from ?api_key=), the
 * scrapers' paths (/metrics, /status) for the metrics token, and only the public page is open
 * to anyone. A route added
 * without the right access fails here before it can leak anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/api.h"

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void test_access_follows_the_path(void **state)
{
    size_t n = 0;
    for (const struct http_route *r = api_routes; r->path; r++, n++) {
        if (starts_with(r->path, "/api/v1/checks/results/"))
            assert_int_equal(r->access, HTTP_AGENT); /* agents report their checks' results */
        else if (starts_with(r->path, "/admin") || starts_with(r->path, "/api/v1/silences") ||
            starts_with(r->path, "/api/v1/events") || starts_with(r->path, "/api/v1/checks"))
            assert_int_equal(r->access, HTTP_ADMIN);
        else if (starts_with(r->path, "/api/v1/reports") && !strcmp(r->method, "GET"))
            assert_int_equal(r->access, HTTP_ADMIN); /* agents push; people read */
        else if (starts_with(r->path, "/api/"))
            assert_int_equal(r->access, HTTP_AGENT);
        else if (starts_with(r->path, "/ping/"))
            assert_int_equal(r->access, HTTP_AGENT_QUERY);
        else if (!strcmp(r->path, "/metrics") || !strcmp(r->path, "/status"))
            assert_int_equal(r->access, HTTP_METRICS);
        else
            assert_string_equal(r->path, "/");
        assert_non_null(r->handler);
    }
    assert_true(n >= 16);
}

static void test_public_page_is_the_only_public_route(void **state)
{
    size_t public_routes = 0;
    for (const struct http_route *r = api_routes; r->path; r++)
        if (r->access == HTTP_PUBLIC) {
            public_routes++;
            assert_string_equal(r->path, "/");
            assert_string_equal(r->method, "GET");
        }
    assert_int_equal(public_routes, 1);
}

static void test_each_route_is_listed_once(void **state)
{
    for (const struct http_route *a = api_routes; a->path; a++)
        for (const struct http_route *b = a + 1; b->path; b++)
            assert_false(!strcmp(a->path, b->path) && !strcmp(a->method, b->method));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_access_follows_the_path),
        cmocka_unit_test(test_public_page_is_the_only_public_route),
        cmocka_unit_test(test_each_route_is_listed_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
