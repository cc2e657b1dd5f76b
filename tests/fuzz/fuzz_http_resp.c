/* fuzz_http_resp: libFuzzer harness checking the invariants of http_parse_response. */
#include "http_resp.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Like assert(), but never compiled out. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_HEAD 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * For an exact-size copy of the input (ASan sees any read past it): a head
 * length within the input and the bound, every slice inside the head, a
 * status 100..599, a reason on BAD; every prefix of a complete head says
 * "need more"; the HEAD flag only changes the framing to none.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    http_header_t hdrs[16], hdrs2[16];
    http_response_t r, r2;
    char *buf = malloc(size ? size : 1);
    ssize_t n, m;
    size_t i;

    if (buf == NULL) {
        return 0;
    }
    memcpy(buf, data, size);
    memset(&r, 0, sizeof(r));
    r.headers = hdrs;
    r.headers_cap = 16;
    n = http_parse_response(buf, size, MAX_HEAD, 0, &r);
    CHECK(n == HTTP_PARSE_NEED_MORE || n == HTTP_PARSE_BAD || (n > 0 && (size_t)n <= size));
    CHECK(n != HTTP_PARSE_BAD || r.error != NULL);
    CHECK(n != HTTP_PARSE_NEED_MORE || size < MAX_HEAD);
    if (n > 0) {
        CHECK(n <= MAX_HEAD);
        CHECK(r.status >= 100 && r.status <= 599);
        CHECK(r.nheaders <= 16);
        for (i = 0; i < r.nheaders; i++) {
            CHECK(hdrs[i].name.len > 0);
            CHECK(hdrs[i].name.p >= buf && hdrs[i].name.p + hdrs[i].name.len <= buf + n);
            CHECK(hdrs[i].value.p >= buf && hdrs[i].value.p + hdrs[i].value.len <= buf + n);
        }
        CHECK(r.body != HTTP_RESP_BODY_CLOSE || !r.keep_alive);
        for (i = 0; i < (size_t)n; i++) {
            memset(&r2, 0, sizeof(r2));
            r2.headers = hdrs2;
            r2.headers_cap = 16;
            CHECK(http_parse_response(buf, i, MAX_HEAD, 0, &r2) == HTTP_PARSE_NEED_MORE);
        }
        memset(&r2, 0, sizeof(r2));
        r2.headers = hdrs2;
        r2.headers_cap = 16;
        m = http_parse_response(buf, size, MAX_HEAD, 1, &r2);
        CHECK(m == n && r2.status == r.status && r2.body == HTTP_RESP_BODY_NONE);
    }
    free(buf);
    return 0;
}
