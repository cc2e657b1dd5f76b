# forkd: `make` builds build/forkd; `make run` serves www/; `make test` runs every test.

CC ?= cc
BUILD := build
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
# snprintf() truncating an over-long message is intended, not a bug
WARN += -Wno-format-truncation
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) -Icommon -Iserver -MMD -MP
PKGS := libevent inih libsystemd zlib
LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -levent -linih -lsystemd -lz)
ifdef WERROR
CFLAGS += -Werror
endif
ifdef CI
CFLAGS += -Werror
endif
# make SANITIZE=address,undefined builds with sanitizers (make test does)
ifneq ($(SANITIZE),)
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=$(SANITIZE)
endif

# forkd -V: the libraries' versions (pkg-config) and the flags main.o was built with
BUILD_LIBS := $(shell s=; for p in $(PKGS); do \
	printf '%s%s %s' "$$s" $$p "$$(pkg-config --modversion $$p 2>/dev/null || echo '?')"; s=', '; done)
BUILD_FLAGS := $(strip $(CC) $(CFLAGS) $(LDFLAGS))
$(BUILD)/obj$(if $(SANITIZE),-san)/server/main.o: CFLAGS += -DFORKD_BUILD_LIBS='"$(BUILD_LIBS)"' \
	-DFORKD_BUILD_FLAGS='"$(BUILD_FLAGS)"'

COMMON_SRC := $(wildcard common/*.c)
SERVER_SRC := $(wildcard server/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
OBJDIR := $(BUILD)/obj$(if $(SANITIZE),-san)
COMMON_OBJ := $(COMMON_SRC:%.c=$(OBJDIR)/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(OBJDIR)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(OBJDIR)/%)
BIN := $(BUILD)/forkd$(if $(SANITIZE),-san)

FUZZ_TIME ?= 600
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -Icommon

.PHONY: bench all deps run test unit integration check-boundaries fuzz format format-check clean \
	install uninstall examples

all: deps
	@$(MAKE) --no-print-directory $(BIN)

deps:
	@sh scripts/deps.sh build

# modules (dlopen'd) see forkd.h's functions, and only them, in the binary
EXPORT_API := -Wl,--export-dynamic-symbol='forkd_*'

$(BIN): $(SERVER_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) $(EXPORT_API) -o $@ $^ $(LIBS)

$(OBJDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# unit tests link the common/ objects (pure code), and the server/ ones named here
$(OBJDIR)/test_access: $(OBJDIR)/server/access.o
$(OBJDIR)/test_byteranges: $(OBJDIR)/server/byteranges.o
$(OBJDIR)/test_conditional: $(OBJDIR)/server/conditional.o $(OBJDIR)/server/byteranges.o
$(OBJDIR)/test_encoding: $(OBJDIR)/server/encoding.o
$(OBJDIR)/test_live: $(OBJDIR)/server/live.o
$(OBJDIR)/test_log: $(OBJDIR)/server/log.o $(OBJDIR)/server/sdnotify.o
$(OBJDIR)/test_pending: $(OBJDIR)/server/pending.o
$(OBJDIR)/test_pool: $(OBJDIR)/server/pool.o
$(OBJDIR)/test_request: $(OBJDIR)/server/request.o
$(OBJDIR)/test_response: $(OBJDIR)/server/response.o
$(OBJDIR)/test_router: $(OBJDIR)/server/router.o
$(OBJDIR)/test_upstream: $(OBJDIR)/server/upstream.o
$(OBJDIR)/test_%: tests/unit/test_%.c $(COMMON_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

# make run [CONF=file]: another config (a copy with another listen =) without editing ours
CONF = conf/forkd.ini
run: all
	$(BIN) -c $(CONF)

# everything under AddressSanitizer + UndefinedBehaviorSanitizer; ASan fills whole
# allocations with 0xbe, so a field left uninitialised is noticed, not read as zero
export ASAN_OPTIONS ?= max_malloc_fill_size=16777216:abort_on_error=0
test:
	@sh scripts/deps.sh build test examples
	@$(MAKE) --no-print-directory SANITIZE=address,undefined check-boundaries unit integration

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

integration: $(BIN)
	FORKD_BIN=$(BIN) python3 tests/integration/run.py

# Example modules, built as a module's author builds one: against the installed header alone
# (a directory holding forkd/forkd.h, no -Iserver), never sanitized (forkd-san loads them as
# they are), each .so written beside its target and renamed over it (see install).
EXAMPLES := $(patsubst examples/%.c,%,$(wildcard examples/*.c))
EXAMPLE_SO := $(EXAMPLES:%=$(BUILD)/examples/%.so)
EXAMPLE_INC := $(BUILD)/include
EXAMPLE_CFLAGS := -O2 -g -std=c11 -D_GNU_SOURCE $(WARN) -fPIC -I$(EXAMPLE_INC) \
	$(if $(CI)$(WERROR),-Werror)
EXAMPLE_LIBS_kv := -lsqlite3

examples:
	@sh scripts/deps.sh build examples
	@$(MAKE) --no-print-directory $(EXAMPLE_SO)

$(EXAMPLE_INC)/forkd/forkd.h: server/forkd.h
	@mkdir -p $(dir $@)
	cp $< $@

$(BUILD)/examples/%.so: examples/%.c $(EXAMPLE_INC)/forkd/forkd.h
	@mkdir -p $(dir $@)
	$(CC) $(EXAMPLE_CFLAGS) -shared -o $@.tmp $< $(EXAMPLE_LIBS_$*) && mv -f $@.tmp $@

# The handlers (and the helpers only they use) see the server through forkd.h, and router.h
# to register: they include no other server/ header and call no other server/ function.
# forkd.h includes no forkd header. The connection code (conn.o and the conn_*.o split from it)
# needs nothing of the worker or the handlers, and only its files include conn_internal.h.
# The examples include <forkd/forkd.h>, system headers and their own files (never a path),
# and call nothing of forkd's but forkd.h's functions.
# Each offender is listed; the target fails if there is one.
HANDLER_SRC := $(addprefix server/,static.c status.c live.c demo.c health.c conditional.c \
	byteranges.c filecache.c proxy.c upstream.c encoding.c compress.c \
	access.c errpage.c listing.c)
HANDLER_OBJ := $(HANDLER_SRC:%.c=$(OBJDIR)/%.o)
HANDLER_MAY_INCLUDE := forkd.h router.h $(notdir $(HANDLER_SRC:.c=.h) $(wildcard common/*.h))
CONN_OBJ := $(patsubst %.c,$(OBJDIR)/%.o,$(wildcard server/conn.c server/conn_*.c))
ABOVE_CONN_OBJ := $(addprefix $(OBJDIR)/server/,main.o master.o worker.o) $(HANDLER_OBJ)
DEFINED = nm -g --defined-only $(1) | awk 'NF == 3 {print $$3}'

check-boundaries: $(SERVER_OBJ) $(COMMON_OBJ) $(EXAMPLE_SO)
	@bad=0; \
	for f in $(HANDLER_SRC) $(HANDLER_SRC:.c=.h); do \
		for h in $$(sed -n 's/^#include "\([^"]*\)".*/\1/p' $$f); do \
			case " $(HANDLER_MAY_INCLUDE) " in *" $$h "*) ;; \
			*) echo "$$f: includes \"$$h\" (handlers: forkd.h, router.h, common/)"; bad=1 ;; \
			esac; \
		done; \
	done; \
	if grep -n '^#include "' server/forkd.h; then \
		echo "server/forkd.h: includes a forkd header (libc and libevent only)"; bad=1; \
	fi; \
	internal=" $$($(call DEFINED,$(filter-out $(HANDLER_OBJ),$(SERVER_OBJ))) \
		| grep -v -e '^forkd_' -e '^router_add$$' | tr '\n' ' ')"; \
	for o in $(HANDLER_OBJ); do \
		for f in $$(nm -u $$o | awk '{print $$2}'); do \
			case "$$internal" in *" $$f "*) echo "$$o: calls $$f (not in forkd.h)"; bad=1 ;; esac; \
		done; \
	done; \
	above=" $$($(call DEFINED,$(ABOVE_CONN_OBJ)) | tr '\n' ' ')"; \
	for o in $(CONN_OBJ); do \
		for f in $$(nm -u $$o | awk '{print $$2}'); do \
			case "$$above" in *" $$f "*) echo "$$o: calls $$f (worker or handler)"; bad=1 ;; esac; \
		done; \
	done; \
	for f in $$(grep -l '^#include "conn_internal.h"' server/*.[ch] common/*.[ch] tests/*/*.c); do \
		case "$$f" in server/conn.c|server/conn_*.c) ;; \
		*) echo "$$f: includes conn_internal.h (the connection code's own)"; bad=1 ;; esac; \
	done; \
	for f in $(wildcard examples/*.[ch]); do \
		for h in $$(sed -n 's/^[ \t]*#[ \t]*include[ \t]*\([<"][^>"]*[>"]\).*/\1/p' $$f); do \
			case "$$h" in \
			"<forkd/forkd.h>") ;; \
			"<forkd/"*) echo "$$f: includes $$h (forkd.h is the only forkd header)"; bad=1 ;; \
			\"*) n=$$(echo "$$h" | tr -d '"'); \
				case "$$n" in */*) n=/ ;; esac; \
				[ -f "examples/$$n" ] || { echo "$$f: includes $$h (not a file of examples/)"; bad=1; } ;; \
			esac; \
		done; \
	done; \
	api=" $$(grep -o 'forkd_[a-z0-9_]*' server/forkd.h | sort -u | tr '\n' ' ')"; \
	forkd=" $$($(call DEFINED,$(SERVER_OBJ) $(COMMON_OBJ)) | tr '\n' ' ')"; \
	for o in $(EXAMPLE_SO); do \
		for f in $$(nm -u -D $$o | awk '{print $$2}' | sed 's/@.*//'); do \
			case "$$forkd" in *" $$f "*) \
				case "$$api" in *" $$f "*) ;; \
				*) echo "$$o: calls $$f (not in forkd.h)"; bad=1 ;; esac ;; \
			esac; \
		done; \
	done; \
	exit $$bad

$(BUILD)/fuzz_http_parser: tests/fuzz/fuzz_http_parser.c common/http_parser.c common/http_parser.h
	@mkdir -p $(BUILD)
	clang $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_http_parser.c common/http_parser.c

$(BUILD)/fuzz_proxy_proto: tests/fuzz/fuzz_proxy_proto.c common/proxy_proto.c common/proxy_proto.h
	@mkdir -p $(BUILD)
	clang $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_proxy_proto.c common/proxy_proto.c

$(BUILD)/fuzz_http_resp: tests/fuzz/fuzz_http_resp.c common/http_resp.c common/http_resp.h \
	common/http_parser.c
	@mkdir -p $(BUILD)
	clang $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_http_resp.c common/http_resp.c common/http_parser.c

# forkd, nginx and a canned-response probe side by side: a table of medians and ratios
bench:
	@sh scripts/deps.sh build bench
	@$(MAKE) --no-print-directory SANITIZE= $(BUILD)/forkd
	python3 tests/bench/bench.py --forkd $(BUILD)/forkd $(BENCH_ARGS)

# the worker's connection code fed through a socketpair (everything but main.c)
FUZZ_CONN_SRC := tests/fuzz/fuzz_conn.c $(filter-out server/main.c,$(SERVER_SRC)) $(COMMON_SRC)

$(BUILD)/fuzz_conn: $(FUZZ_CONN_SRC) $(wildcard server/*.h common/*.h)
	@mkdir -p $(BUILD)
	clang $(FUZZ_FLAGS) -Iserver -o $@ $(FUZZ_CONN_SRC) $(LIBS)

# make fuzz FUZZ_TIME=seconds: each fuzzer that long; new inputs go to build/, seeds stay committed
fuzz:
	@sh scripts/deps.sh build fuzz
	@$(MAKE) --no-print-directory $(BUILD)/fuzz_http_parser $(BUILD)/fuzz_proxy_proto \
		$(BUILD)/fuzz_http_resp \
		$(BUILD)/fuzz_conn
	@mkdir -p $(BUILD)/fuzz-corpus $(BUILD)/fuzz-proxy-corpus $(BUILD)/fuzz-conn-corpus \
		$(BUILD)/fuzz-resp-corpus
	$(BUILD)/fuzz_http_parser -max_total_time=$(FUZZ_TIME) -dict=tests/fuzz/http.dict \
		-print_final_stats=1 $(BUILD)/fuzz-corpus tests/fuzz/corpus/http_parser
	$(BUILD)/fuzz_proxy_proto -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
		$(BUILD)/fuzz-proxy-corpus tests/fuzz/corpus/proxy_proto
	$(BUILD)/fuzz_http_resp -max_total_time=$(FUZZ_TIME) -dict=tests/fuzz/http.dict \
		-print_final_stats=1 $(BUILD)/fuzz-resp-corpus tests/fuzz/corpus/http_resp
	$(BUILD)/fuzz_conn -max_total_time=$(FUZZ_TIME) -dict=tests/fuzz/http.dict \
		-print_final_stats=1 $(BUILD)/fuzz-conn-corpus tests/fuzz/corpus/conn

FORMAT_SRC = $(wildcard common/*.[ch] server/*.[ch] tests/unit/*.[ch] tests/fuzz/*.c tests/bench/*.c \
	examples/*.[ch])

format:
	@sh scripts/deps.sh format
	clang-format -i $(FORMAT_SRC)

format-check:
	@sh scripts/deps.sh format
	clang-format --dry-run -Werror $(FORMAT_SRC)

# make install [PREFIX=/usr/local] [DESTDIR=...]: the binary, the example modules, the
# handler API's header, the units, the site, the config (never overwriting one that is
# there), logrotate and manual pages.
# The binary and the modules are installed by rename: each is written to a temp file beside
# its target, then renamed over it, so a running forkd (or a worker that dlopen()ed the
# module) keeps the file it mapped, and a worker starting meanwhile finds the old file or
# the new one, whole. Writing into a mapped file (cp over it) would truncate it under the
# workers: SIGBUS. install(1) unlinks the target first, which spares the running ones, but
# leaves a moment with no file or half of one.
# The binary is always the release build, built here: a SANITIZE= of the caller (or of a
# parent make, through MAKEFLAGS) is overridden on the sub-make's command line.
PREFIX ?= /usr/local
SBINDIR := $(PREFIX)/sbin
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
WWWDIR := $(PREFIX)/share/forkd/www
MANDIR := $(PREFIX)/share/man
MODULEDIR := $(PREFIX)/lib/forkd
INCLUDEDIR := $(PREFIX)/include
# $(call INSTALL_RENAME,MODE,FILE,TARGET)
INSTALL_RENAME = install -m $(1) $(2) $(3).tmp$$$$ && mv -f $(3).tmp$$$$ $(3)
INSTALL_SUBST := sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

install: deps
	@sh scripts/deps.sh examples
	@$(MAKE) --no-print-directory SANITIZE= $(BUILD)/forkd $(EXAMPLE_SO)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR)/forkd $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(WWWDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(SYSCONFDIR)/logrotate.d $(DESTDIR)$(MODULEDIR) $(DESTDIR)$(INCLUDEDIR)/forkd
	$(call INSTALL_RENAME,755,$(BUILD)/forkd,$(DESTDIR)$(SBINDIR)/forkd)
	$(foreach m,$(EXAMPLES),$(call INSTALL_RENAME,755,$(BUILD)/examples/$(m).so,$(DESTDIR)$(MODULEDIR)/$(m).so) && ) true
	install -m 644 server/forkd.h $(DESTDIR)$(INCLUDEDIR)/forkd/forkd.h
	install -m 644 www/* $(DESTDIR)$(WWWDIR)/
	$(INSTALL_SUBST) systemd/forkd.service > $(DESTDIR)$(UNITDIR)/forkd.service
	install -m 644 systemd/forkd.socket $(DESTDIR)$(UNITDIR)/forkd.socket
	install -m 644 conf/forkd.logrotate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/forkd
	install -m 644 man/forkd.8 $(DESTDIR)$(MANDIR)/man8/forkd.8
	install -m 644 man/forkd.ini.5 $(DESTDIR)$(MANDIR)/man5/forkd.ini.5
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/forkd/forkd.ini ]; then \
		echo "keeping the existing $(DESTDIR)$(SYSCONFDIR)/forkd/forkd.ini"; \
	else \
		sed -e 's|^listen = .*|listen = *:80 [::]:80|' -e 's|^root = .*|root = $(WWWDIR)|' \
		    -e 's|^pid_file = .*|pid_file = /run/forkd/forkd.pid|' \
		    -e 's|^access_log = .*|access_log = /var/log/forkd/access.log|' \
		    -e 's|^enabled = yes|enabled = no|' \
		    conf/forkd.ini > $(DESTDIR)$(SYSCONFDIR)/forkd/forkd.ini; \
	fi

# The config stays: it may hold the administrator's changes.
uninstall:
	rm -f $(EXAMPLES:%=$(DESTDIR)$(MODULEDIR)/%.so) $(DESTDIR)$(INCLUDEDIR)/forkd/forkd.h
	-rmdir $(DESTDIR)$(MODULEDIR) $(DESTDIR)$(INCLUDEDIR)/forkd 2>/dev/null
	rm -f $(DESTDIR)$(SBINDIR)/forkd $(DESTDIR)$(UNITDIR)/forkd.service \
		$(DESTDIR)$(UNITDIR)/forkd.socket $(DESTDIR)$(SYSCONFDIR)/logrotate.d/forkd \
		$(DESTDIR)$(MANDIR)/man8/forkd.8 $(DESTDIR)$(MANDIR)/man5/forkd.ini.5
	rm -rf $(DESTDIR)$(WWWDIR)
	-rmdir $(DESTDIR)$(PREFIX)/share/forkd 2>/dev/null

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
