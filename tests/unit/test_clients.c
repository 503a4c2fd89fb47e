/* test_clients.c — the per-address table behind the connection limits and the authentication
 * throttle (server/clients.h): the cap per address, the agents' reserve, the window of failed
 * attempts and its 429 wait, IPv6 counted by /64, and forgetting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "server/clients.h"

static const struct clients_limits LIMITS = {
    .max_connections = 10,
    .max_per_addr = 3,
    .agent_reserve = 4,
    .auth_max_failures = 3,
    .auth_window_ms = 60000,
    .agent_memory_ms = 3600000,
};

static struct client_addr addr_of(const char *text)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &sin->sin_addr) == 1)
        sin->sin_family = AF_INET;
    else {
        assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
        sin6->sin6_family = AF_INET6;
    }
    struct client_addr a;
    assert_int_equal(client_addr_from_sockaddr((struct sockaddr *)&ss, &a), 0);
    return a;
}

static void test_cap_per_address(void **state)
{
    struct clients *c = clients_new(&LIMITS);
    struct client_addr a = addr_of("192.0.2.1"), b = addr_of("192.0.2.2");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(clients_admit(c, &a, 0), CLIENTS_ADMIT);
        assert_int_equal(clients_connected(c, &a), 0);
    }
    assert_int_equal(clients_admit(c, &a, 0), CLIENTS_ADDR_FULL);
    assert_int_equal(clients_admit(c, &b, 0), CLIENTS_ADMIT);
    clients_disconnected(c, &a);
    assert_int_equal(clients_admit(c, &a, 0), CLIENTS_ADMIT);
    assert_int_equal(clients_open_from(c, &a), 2);
    assert_int_equal(clients_open_total(c), 2);
    clients_free(c);
}

static void test_reserve_is_for_agents(void **state)
{
    struct clients *c = clients_new(&LIMITS);
    const char *strangers[] = {"192.0.2.1", "192.0.2.2"};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < 3; i++) {
            struct client_addr a = addr_of(strangers[s]);
            assert_int_equal(clients_connected(c, &a), 0);
        }
    /* 6 of 10 open, 4 held for agents: a stranger is refused, an agent is not. */
    struct client_addr stranger = addr_of("192.0.2.3"), agent = addr_of("192.0.2.4");
    assert_int_equal(clients_admit(c, &stranger, 0), CLIENTS_SERVER_FULL);
    assert_int_equal(clients_admit(c, &agent, 0), CLIENTS_SERVER_FULL);
    clients_agent_seen(c, &agent, 0);
    assert_int_equal(clients_admit(c, &agent, 1000), CLIENTS_ADMIT);
    /* Agents' addresses have no cap of their own (a fleet behind one NAT). */
    for (int i = 0; i < 4; i++)
        assert_int_equal(clients_connected(c, &agent), 0);
    assert_int_equal(clients_admit(c, &agent, 1000), CLIENTS_ADMIT);
    /* The memory of an agent fades. */
    assert_int_equal(clients_admit(c, &agent, 3600000), CLIENTS_ADDR_FULL);
    clients_free(c);
}

static void test_failures_throttle_within_the_window(void **state)
{
    struct clients *c = clients_new(&LIMITS);
    struct client_addr a = addr_of("198.51.100.9");
    static const struct {
        int64_t at_ms;
        int failures_after;
        int64_t wait_after;
    } steps[] = {
        {1000, 1, 0},
        {2000, 2, 0},
        {3000, 3, 58000}, /* the third failure starts the wait: to the window's end at 61000 */
        {61000, 1, 0},    /* a new window */
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        assert_int_equal(clients_auth_failed(c, &a, steps[i].at_ms), steps[i].failures_after);
        assert_int_equal(clients_auth_wait_ms(c, &a, steps[i].at_ms), steps[i].wait_after);
    }
    struct client_addr other = addr_of("198.51.100.10");
    assert_int_equal(clients_auth_wait_ms(c, &other, 3000), 0);
    clients_free(c);
}

static void test_ipv6_counts_by_64(void **state)
{
    struct clients *c = clients_new(&LIMITS);
    const char *same64[] = {"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"};
    for (int i = 0; i < 3; i++) {
        struct client_addr a = addr_of(same64[i]);
        assert_int_equal(clients_connected(c, &a), 0);
    }
    struct client_addr same = addr_of("2001:db8:1:2::99"), next = addr_of("2001:db8:1:3::1");
    assert_int_equal(clients_admit(c, &same, 0), CLIENTS_ADDR_FULL);
    assert_int_equal(clients_admit(c, &next, 0), CLIENTS_ADMIT);
    /* IPv4 through a dual-stack socket is the IPv4 address, not a /64. */
    struct client_addr v4 = addr_of("192.0.2.1"), mapped = addr_of("::ffff:192.0.2.1");
    assert_memory_equal(v4.bytes, mapped.bytes, sizeof v4.bytes);
    assert_memory_not_equal(addr_of("::ffff:192.0.2.2").bytes, v4.bytes, sizeof v4.bytes);
    clients_free(c);
}

static void test_sweep_forgets_only_the_idle(void **state)
{
    struct clients *c = clients_new(&LIMITS);
    struct client_addr open = addr_of("192.0.2.1"), failed = addr_of("192.0.2.2"),
                       agent = addr_of("192.0.2.3");
    clients_connected(c, &open);
    clients_auth_failed(c, &failed, 0);
    clients_auth_failed(c, &failed, 0);
    clients_auth_failed(c, &failed, 0);
    clients_agent_seen(c, &agent, 0);
    clients_sweep(c, 30000);
    assert_int_equal(clients_open_from(c, &open), 1);
    assert_true(clients_auth_wait_ms(c, &failed, 30000) > 0);
    assert_int_equal(clients_admit(c, &agent, 30000), CLIENTS_ADMIT);
    clients_disconnected(c, &open);
    clients_sweep(c, 3600001);
    assert_int_equal(clients_auth_wait_ms(c, &failed, 3600001), 0);
    assert_int_equal(clients_open_total(c), 0);
    clients_free(NULL);
    clients_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_per_address),
        cmocka_unit_test(test_reserve_is_for_agents),
        cmocka_unit_test(test_failures_throttle_within_the_window),
        cmocka_unit_test(test_ipv6_counts_by_64),
        cmocka_unit_test(test_sweep_forgets_only_the_idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
