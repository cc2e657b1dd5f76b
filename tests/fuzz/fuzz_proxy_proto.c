/* fuzz_proxy_proto: libFuzzer harness checking the invariants of proxy_parse. */
#include "proxy_proto.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Like assert(), but never compiled out. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * For an exact-size copy of the input (ASan sees any read past it): a
 * length within the input and the bound, a known family and version, a
 * reason on BAD; every prefix of a header says "need more"; bytes after the
 * header change nothing.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t max = size < 300 ? 300 : size;
    char *buf = malloc(size ? size : 1);
    char *more;
    proxy_header_t out, again;
    ssize_t rc, i;

    memcpy(buf, data, size);
    rc = proxy_parse(buf, size, max, &out);
    CHECK(rc == PROXY_NEED_MORE || rc == PROXY_BAD || (rc > 0 && (size_t)rc <= size));
    if (rc == PROXY_BAD) {
        CHECK(out.reason != NULL);
    }
    if (rc > 0) {
        CHECK(out.version == 1 || out.version == 2);
        CHECK(out.family == AF_INET || out.family == AF_INET6 || out.family == AF_UNSPEC);
        CHECK(out.version == 2 || (size_t)rc <= PROXY_V1_MAX);
        for (i = 0; i < rc; i++) {
            CHECK(proxy_parse(buf, (size_t)i, max, &again) == PROXY_NEED_MORE);
        }
        more = malloc((size_t)rc + 1);
        memcpy(more, buf, (size_t)rc);
        more[rc] = 'G';
        CHECK(proxy_parse(more, (size_t)rc + 1, max, &again) == rc);
        CHECK(again.family == out.family && memcmp(again.src, out.src, 16) == 0);
        free(more);
    }
    free(buf);
    return 0;
}
