# forkd: `make` builds build/forkd; `make run` serves www/; `make test` runs every test.

CC ?= cc
BUILD := build
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
# snprintf() truncating an over-long message is intended, not a bug
WARN += -Wno-format-truncation
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) -Icommon -Iserver -MMD -MP
LIBS := $(shell pkg-config --libs libevent inih libsystemd 2>/dev/null || echo -levent -linih -lsystemd)
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

.PHONY: all deps run test unit integration fuzz fuzz-smoke format format-check clean

all: deps
	@$(MAKE) --no-print-directory $(BIN)

deps:
	@sh scripts/deps.sh build

$(BIN): $(SERVER_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(OBJDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# unit tests link the common/ objects (pure code), and server/ ones they name
$(OBJDIR)/test_%: tests/unit/test_%.c $(COMMON_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

run: all
	$(BIN) -c conf/forkd.ini

# everything under AddressSanitizer + UndefinedBehaviorSanitizer
test:
	@sh scripts/deps.sh build test
	@$(MAKE) --no-print-directory SANITIZE=address,undefined unit integration

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

integration: $(BIN)
	FORKD_BIN=$(BIN) python3 tests/integration/run.py

$(BUILD)/fuzz_http_parser: tests/fuzz/fuzz_http_parser.c common/http_parser.c common/http_parser.h
	@mkdir -p $(BUILD)
	clang $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_http_parser.c common/http_parser.c

# make fuzz FUZZ_TIME=seconds; new inputs go to build/fuzz-corpus, seeds stay committed
fuzz:
	@sh scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory $(BUILD)/fuzz_http_parser
	@mkdir -p $(BUILD)/fuzz-corpus
	$(BUILD)/fuzz_http_parser -max_total_time=$(FUZZ_TIME) -dict=tests/fuzz/http.dict \
		-print_final_stats=1 $(BUILD)/fuzz-corpus tests/fuzz/corpus/http_parser

FORMAT_SRC = $(wildcard common/*.[ch] server/*.[ch] tests/unit/*.c tests/fuzz/*.c tests/bench/*.c)

format:
	@sh scripts/deps.sh format
	clang-format -i $(FORMAT_SRC)

format-check:
	@sh scripts/deps.sh format
	clang-format --dry-run -Werror $(FORMAT_SRC)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
