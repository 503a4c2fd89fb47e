/* test_metric.c — metric sample lists (model/metric.h): labels copied and sorted, names checked,
 * and the Prometheus text writer (families together, HELP and TYPE once, escapes, NaN and
 * infinities, exact shortest values). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/metric.h"

static void test_add_sorts_and_copies_labels(void **state)
{
    struct metric_list l = {0};
    char value[] = "sda";
    assert_int_equal(metric_list_add(&l, "node_disk_io_now", NULL, "gauge", 2, 3, "mode", "x",
                                     "device", value, "a", "1"),
                     0);
    value[0] = 'X'; /* the list holds its own copy */
    const struct metric_sample *s = &l.items[0];
    assert_int_equal(s->nlabels, 3);
    assert_string_equal(s->labels[0].name, "a");
    assert_string_equal(s->labels[1].name, "device");
    assert_string_equal(s->labels[1].value, "sda");
    assert_string_equal(s->labels[2].name, "mode");
    assert_ptr_equal(metric_list_find(&l, "node_disk_io_now", "device", "sda"), s);
    assert_null(metric_list_find(&l, "node_disk_io_now", "device", "sdb"));
    assert_int_equal(metric_list_add(&l, "up", NULL, NULL, 1, 0), 0);
    assert_string_equal(l.items[1].type, "untyped");
    metric_list_free(&l);
    assert_int_equal(l.count, 0);
    metric_list_free(NULL);
}

static void test_names(void **state)
{
    assert_true(metric_name_valid("node_cpu_seconds_total"));
    assert_true(metric_name_valid("job:rate5m"));
    assert_true(metric_name_valid("DCGM_FI_DEV_GPU_UTIL"));
    assert_false(metric_name_valid("2x"));
    assert_false(metric_name_valid("a-b"));
    assert_false(metric_name_valid(""));
    assert_true(metric_label_name_valid("modelName"));
    assert_false(metric_label_name_valid("a:b"));
    assert_false(metric_label_name_valid("__name__"));
    assert_false(metric_label_name_valid("0a"));
}

static void test_text(void **state)
{
    struct metric_list l = {0};
    metric_list_add(&l, "node_load1", "1m load average.", "gauge", 0.1, 0);
    metric_list_add(&l, "node_network_receive_bytes_total", "Received.\nBytes \\ \"all\"",
                    "counter", 12345678901234.0, 1, "device", "eth0");
    metric_list_add(&l, "node_load5", NULL, "gauge", NAN, 0);
    metric_list_add(&l, "node_network_receive_bytes_total", "Received.\nBytes \\ \"all\"",
                    "counter", 0, 1, "device", "a\"b\\c\nd");
    metric_list_add(&l, "x", NULL, "gauge", INFINITY, 0);
    metric_list_add(&l, "y", NULL, "gauge", -INFINITY, 1, "l", "");
    metric_list_add(&l, "z", NULL, "untyped", 1e-7, 0);
    char *text;
    size_t len;
    assert_int_equal(metric_list_to_text(&l, &text, &len), 0);
    assert_string_equal(text, "# HELP node_load1 1m load average.\n"
                              "# TYPE node_load1 gauge\n"
                              "node_load1 0.1\n"
                              "# HELP node_network_receive_bytes_total Received.\\nBytes \\\\ "
                              "\"all\"\n"
                              "# TYPE node_network_receive_bytes_total counter\n"
                              "node_network_receive_bytes_total{device=\"eth0\"} 12345678901234\n"
                              "node_network_receive_bytes_total{device=\"a\\\"b\\\\c\\nd\"} 0\n"
                              "# TYPE node_load5 gauge\n"
                              "node_load5 NaN\n"
                              "# TYPE x gauge\n"
                              "x +Inf\n"
                              "# TYPE y gauge\n"
                              "y{l=\"\"} -Inf\n"
                              "# TYPE z untyped\n"
                              "z 1e-07\n");
    assert_int_equal(len, strlen(text));
    free(text);
    metric_list_free(&l);
}

/* Every double survives the trip through the text, with at most 17 digits. */
static void test_values_exact(void **state)
{
    const double values[] = {0.1 + 0.2, 1.0 / 3.0, 6.02214076e23, 4.9e-324, 1790000000.25};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        struct metric_list l = {0};
        metric_list_add(&l, "v", NULL, "gauge", values[i], 0);
        char *text;
        size_t len;
        assert_int_equal(metric_list_to_text(&l, &text, &len), 0);
        assert_true(strtod(text + strlen("# TYPE v gauge\nv "), NULL) == values[i]);
        free(text);
        metric_list_free(&l);
    }
}

static void test_empty(void **state)
{
    struct metric_list l = {0};
    char *text;
    size_t len;
    assert_int_equal(metric_list_to_text(&l, &text, &len), 0);
    assert_string_equal(text, "");
    assert_int_equal(len, 0);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_sorts_and_copies_labels),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_values_exact),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
