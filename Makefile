# pcapdex - one Makefile for the library, the tool, the tests and the benchmark.
#
#   make            build build/pcapdex
#   make check      unit, CLI and corpus tests (ends "N passed, N failed")
#   make check-asan the same tests built with ASan+UBSan
#   make demo       install what is missing, build, index a rotated sample, query, carve
#   make bench      generate large captures and measure against tcpdump
#   make deps       apt-get install what is missing
#   make install PREFIX=/usr/local

PREFIX ?= /usr/local
CC ?= cc
BUILD ?= build
WERROR ?=
KILLS ?= 20
SANITIZED ?=
PLAIN_PDX ?=

PKGS := libpcap libzstd libuv sqlite3 libcrypto zlib
DEP_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
DEP_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lpcap -lzstd -luv -lsqlite3 -lcrypto -lz)
# pcapdex itself opens libpcap and libcrypto only when a command needs them
# (lib/dynlib.h), by the shared-object names found here; the test programs
# link everything.
CORE_PKGS := libzstd libuv sqlite3 zlib
CORE_LIBS := $(shell pkg-config --libs $(CORE_PKGS) 2>/dev/null || echo -lzstd -luv -lsqlite3 -lz) -ldl -lpthread
soname = $(shell objdump -p "$$($(CC) -print-file-name=$(1))" 2>/dev/null | sed -n 's/^ *SONAME *//p')
PCAP_SONAME := $(call soname,libpcap.so)
CRYPTO_SONAME := $(call soname,libcrypto.so)
SONAME_CFLAGS := $(if $(PCAP_SONAME),-DPDX_PCAP_SONAME='"$(PCAP_SONAME)"') \
                 $(if $(CRYPTO_SONAME),-DPDX_CRYPTO_SONAME='"$(CRYPTO_SONAME)"')

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla \
        -Wwrite-strings -Wpointer-arith -Wcast-qual -Wundef -Wno-unused-parameter
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE $(WARN) $(WERROR) $(CFLAGS) \
              -Ilib -I$(BUILD) $(DEP_CFLAGS) $(SONAME_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS := $(DEP_LIBS) -lm $(EXTRA_LDFLAGS)

LIB_SRC := $(sort $(wildcard lib/*.c))
CLI_SRC := $(sort $(wildcard cli/*.c indexer/*.c query/*.c carver/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c)) tests/unit_main.c
GEN_SRC := $(sort $(wildcard tests/gen/*.c))
SCHEMA := $(sort $(wildcard schema/*.sql))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/schema_sql.o
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
# Small test programs, one per tests/tools/NAME.c, built as $(BUILD)/tools/NAME.
TOOLS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(wildcard tests/tools/*.c))

.PHONY: all check check-asan unit demo bench deps install clean fuzz robustness

all: $(BUILD)/pcapdex $(BUILD)/pcapgen $(TOOLS)

$(BUILD)/%.o: %.c $(wildcard lib/*.h) $(wildcard cli/*.h tests/*.h tests/gen/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# Migrations are compiled into the binary, in order, as C strings.
$(BUILD)/schema_sql.c: $(SCHEMA) schema/embed.sh
	@mkdir -p $(BUILD)
	sh schema/embed.sh $(SCHEMA) > $@

$(BUILD)/schema_sql.o: $(BUILD)/schema_sql.c
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libpdx.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

include tests/fuzz/Makefile.fuzz

$(BUILD)/pcapdex: $(CLI_OBJ) $(BUILD)/libpdx.a
	$(CC) $(ALL_CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libpdx.a $(CORE_LIBS) -lm $(EXTRA_LDFLAGS)

$(BUILD)/pcapgen: $(GEN_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libpdx.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tools/%: $(BUILD)/tests/tools/%.o $(BUILD)/libpdx.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit: $(TEST_OBJ) $(BUILD)/libpdx.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

unit: $(BUILD)/unit
	$(BUILD)/unit

check: all $(BUILD)/unit $(TOOLS) $(FUZZ_REPLAY_BINS)
	BUILD=$(BUILD) KILLS=$(KILLS) SANITIZED=$(SANITIZED) PLAIN_PDX=$(PLAIN_PDX) sh tests/run.sh

# The corpus suite lists stored offsets with the plain build (see
# tests/check_corpus.py, --packets): hence "all" first.
check-asan: all
	$(MAKE) BUILD=build/asan KILLS=5 SANITIZED=1 PLAIN_PDX=$(abspath $(BUILD))/pcapdex CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" check

demo: deps all
	sh tests/demo.sh $(BUILD)

bench: all
	sh bench/bench.sh $(BUILD)

robustness:
	sh tests/robustness.sh

deps:
	sh .ci/deps.sh

install: $(BUILD)/pcapdex
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BUILD)/pcapdex $(DESTDIR)$(PREFIX)/bin/pcapdex

clean:
	rm -rf build
