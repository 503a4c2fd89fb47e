/* regex_size.h — a guard for patterns from outside before regcomp. glibc's regcomp copies a
 * repeated part once per repetition ("x+" is "xx*", "x{3}" is "xxx"), so nested repetitions
 * grow it exponentially: "a" followed by 20 "+" took more than 512 MiB. Used by silences' =~
 * matchers and checks' `matches` conditions. */
#ifndef FAULTLINE_BASE_REGEX_SIZE_H
#define FAULTLINE_BASE_REGEX_SIZE_H

#include <stdbool.h>

/* A pattern's size with its repetitions unrolled may be at most this. */
#define REGEX_UNROLLED_MAX 4096

/* False when pattern, unrolled as regcomp builds it, is larger than REGEX_UNROLLED_MAX, or
 * repeats a repetition ("a+*", undefined in POSIX; glibc took seconds over "a++++*+++++"). */
bool regex_size_ok(const char *pattern);

#endif
