# monhost build. `make` builds ./monhost; `make test` installs what is
# missing (tools/install-deps.sh), builds and runs every suite; `make check`
# runs the C tests and the Lua specs under ASan+UBSan; `make valgrind` under
# valgrind; `make bench` prints the side-by-side ratios.

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PKGS     = lua5.4 odbc libcurl yaml-0.1 libxxhash libedit
CJSON_A ?= $(firstword $(wildcard /usr/lib/*/liblua5.4-cjson.a /usr/lib/liblua5.4-cjson.a))

OPT      ?= -O2 -g
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS_ALL = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Werror \
             -Ihost -Ibuild $(PKG_CFLAGS) $(OPT) $(CFLAGS)
LIBS       = $(CJSON_A) $(PKG_LIBS) -lm

SRCS    := $(wildcard host/*.c)
OBJS    := $(SRCS:host/%.c=build/obj/%.o)
ASAN_OBJS := $(SRCS:host/%.c=build/asan/%.o)
SAN      = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

CTESTS   := $(wildcard tests/c/test_*.c)

.PHONY: all deps test check valgrind bench install uninstall clean emulator demo

all: monhost

# Every host/*.c that defines luaopen_monhost_<name> becomes "monhost.<name>".
build/modules.h: $(SRCS) | build
	@grep -ho '^int luaopen_monhost_[a-z_0-9]*' $(SRCS) | sed 's/^int luaopen_monhost_/MOD(/; s/$$/)/' | sort > $@.tmp
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@

build:
	@mkdir -p build/obj build/asan build/tests

build/obj/%.o: host/%.c host/monhost.h build/modules.h | build
	$(CC) $(CFLAGS_ALL) -MMD -c $< -o $@

build/asan/%.o: host/%.c host/monhost.h build/modules.h | build
	$(CC) $(CFLAGS_ALL) $(SAN) -O1 -MMD -c $< -o $@

monhost: $(OBJS)
	$(CC) $(OPT) $(LDFLAGS) -o $@ $(OBJS) $(LIBS)

build/monhost-asan: $(ASAN_OBJS)
	$(CC) $(SAN) -o $@ $(ASAN_OBJS) $(LIBS)

# C unit tests link every primitive except main.o.
build/tests/%-asan: tests/c/%.c tests/c/harness.h $(filter-out build/asan/main.o,$(ASAN_OBJS))
	$(CC) $(CFLAGS_ALL) $(SAN) -Itests/c -o $@ $< $(filter-out build/asan/main.o,$(ASAN_OBJS)) $(LIBS)

build/tests/%: tests/c/%.c tests/c/harness.h $(filter-out build/obj/main.o,$(OBJS))
	$(CC) $(CFLAGS_ALL) -Itests/c -o $@ $< $(filter-out build/obj/main.o,$(OBJS)) $(LIBS)

deps:
	@sh tools/install-deps.sh

test: deps
	@$(MAKE) --no-print-directory all
	@sh tests/run.sh

check: deps build/monhost-asan
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  MONHOST_BIN=build/monhost-asan MONHOST_SUITES="c lua" sh tests/run.sh

valgrind: all
	@MONHOST_BIN=tests/support/valgrind-monhost MONHOST_WRAP="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --suppressions=tests/support/valgrind.supp" \
	  MONHOST_SUITES="c lua" MONHOST_QUICK=1 sh tests/run.sh

bench: deps all
	@sh bench/run.sh

emulator:
	@cd tests/emulator && [ -d node_modules ] || npm ci --silent
	@tests/emulator/start --port 4000

demo: deps all
	@sh examples/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/monhost $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 monhost $(DESTDIR)$(PREFIX)/bin/monhost
	cp -R scripts $(DESTDIR)$(PREFIX)/share/monhost/
	[ ! -d mappings ] || cp -R mappings $(DESTDIR)$(PREFIX)/share/monhost/
	[ ! -d sql ] || cp -R sql $(DESTDIR)$(PREFIX)/share/monhost/
	install -m 644 docs/monhost.1 $(DESTDIR)$(PREFIX)/share/man/man1/monhost.1

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/bin/monhost $(DESTDIR)$(PREFIX)/share/monhost $(DESTDIR)$(PREFIX)/share/man/man1/monhost.1

clean:
	rm -rf build monhost

-include $(OBJS:.o=.d) $(ASAN_OBJS:.o=.d)
