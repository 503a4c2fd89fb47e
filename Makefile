# Makefile — builds build/faultline and its tests. The two commands a new user needs:
#   make run    install what is missing, build, start a server and a local agent
#   make test   install what is missing, build (plain, ASan+UBSan, fuzzers), run every test suite
# Other targets: all, sanitize, unit, check-includes, fuzz (every fuzzer for FUZZ_SECONDS, 60),
# bench, format, clean. docs/testing.md says how to run each suite alone.

VERSION := 0.1.0
CC ?= cc
BUILD ?= build
PKGS := libuv libmicrohttpd gnutls libcurl jansson yaml-0.1 sqlite3 libsodium libcares zlib libsystemd ncursesw
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS ?= -O2 -g
WARNINGS := -Wall -Wextra -Werror -Wformat=2 -Wvla -Wno-unused-parameter
ALL_CFLAGS := -std=c17 -D_GNU_SOURCE -DFAULTLINE_VERSION='"$(VERSION)"' -Isrc $(WARNINGS) \
              $(PKG_CFLAGS) $(CFLAGS) -MMD -MP
LDLIBS := $(PKG_LIBS) -ldl -lm -lpthread

SRC := $(sort $(shell find src -name '*.c'))
OBJ := $(SRC:%.c=$(BUILD)/%.o)
LIB_OBJ := $(filter-out $(BUILD)/src/main.o,$(OBJ))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
             -fno-sanitize-recover=undefined

.PHONY: all unit sanitize check-includes deps test-deps test run fuzz bench format clean help
all: $(BUILD)/faultline

$(BUILD)/faultline: $(OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka

# The NVML stand-in that test_collect loads with dlopen, as the agent loads libnvidia-ml.so.
$(BUILD)/tests/libfake-nvml.so: tests/unit/fake_nvml.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -Wall -Wextra -Werror -Wno-unused-parameter -shared -fPIC -o $@ $<

$(BUILD)/tests/test_collect: $(BUILD)/tests/libfake-nvml.so
$(BUILD)/tests/test_report: $(BUILD)/tests/libfake-nvml.so

unit: $(UNIT_BIN)

sanitize:
	$(MAKE) BUILD=build-san CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" all unit

# The dependency rules between the modules (docs/architecture.md), and the check's self-test.
check-includes:
	scripts/check-includes
	scripts/test-check-includes

deps:
	scripts/install-deps

test-deps:
	scripts/install-deps --test

test: test-deps
	$(MAKE) all unit
	$(MAKE) sanitize
	$(MAKE) -C fuzz
	scripts/run-tests

run: deps
	$(MAKE) all
	scripts/run-local

fuzz: test-deps
	$(MAKE) -C fuzz run

bench: test-deps
	$(MAKE) all
	bench/ingest/run

format:
	clang-format -i $(SRC) $(wildcard src/*/*.h) $(UNIT_SRC)

clean:
	rm -rf build build-san build-fuzz

help:
	@sed -n '1,5p' Makefile

-include $(OBJ:.o=.d) $(UNIT_BIN:=.d)
