/*
 * test_response: filling a response (forkd_resp_*: header area, body growth
 * and replacement, releases, timers) and writing its head (server/response.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "http.h"

#define DATE "Sun, 06 Nov 1994 08:49:37 GMT"

/* A response as the connection code starts one, on a server with its own loop. */
typedef struct {
    forkd_server_t srv;
    resp_t resp;
    char head[RESP_HEAD_MAX + 1];
    int released;     /* release callback calls */
    void *release_to; /* the self it got */
    void *release_of; /* the arg it got */
    int timer_calls;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    if (f == NULL || (f->srv.base = event_base_new()) == NULL) {
        free(f);
        return -1;
    }
    resp_reset(&f->resp, &f->srv, NULL);
    f->resp.self = f; /* what dispatch() sets: the routed handler's context */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    resp_cleanup(&f->resp);
    event_base_free(f->srv.base);
    free(f);
    return 0;
}

static void count_release(void *self, void *arg)
{
    fixture_t *f = self;

    f->released++;
    f->release_to = self;
    f->release_of = arg;
}

/* The body as it would be sent, NUL-terminated in a static buffer (text bodies only). */
static const char *sealed_body(fixture_t *f, int head_request)
{
    static char text[RESP_GEN_SIZE * 8];
    size_t n = resp_start(&f->resp, head_request, DATE, 1, f->head);

    f->head[n] = '\0';
    assert_true(f->resp.mem_len < sizeof(text));
    memcpy(text, f->resp.mem, f->resp.mem_len);
    text[f->resp.mem_len] = '\0';
    return text;
}

/* The head of f's response, NUL-terminated. */
static const char *head(fixture_t *f, int head_request, int keepalive)
{
    size_t n = resp_start(&f->resp, head_request, DATE, keepalive, f->head);

    assert_true(n <= RESP_HEAD_MAX);
    f->head[n] = '\0';
    return f->head;
}

static void test_header_lines_grow_past_the_inline_area(void **state)
{
    fixture_t *f = *state;
    char value[RESP_XHDR_SIZE], *huge, *out;
    size_t before, n;

    assert_int_equal(forkd_resp_header(&f->resp, "X-One", "1"), 0);
    assert_int_equal(forkd_resp_header(&f->resp, "X-Empty", ""), 0);
    assert_int_equal(f->resp.xhdr_len, 21);
    assert_memory_equal(f->resp.xhdr, "X-One: 1\r\nX-Empty: \r\n", 21);
    assert_null(f->resp.xbig);
    assert_int_equal(resp_head_size(&f->resp), RESP_HEAD_MAX);
    /* one that does not fit the inline area moves every line to memory of its own */
    memset(value, 'v', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    assert_int_equal(forkd_resp_header(&f->resp, "X-Big", value), 0);
    assert_non_null(f->resp.xbig);
    assert_int_equal(f->resp.xhdr_len, 21 + 7 + RESP_XHDR_SIZE - 1 + 2);
    assert_memory_equal(f->resp.xbig, "X-One: 1\r\nX-Empty: \r\nX-Big: vvv", 31);
    /* the head holds them all, in order, within resp_head_size() */
    forkd_resp_status(&f->resp, 200);
    out = malloc(resp_head_size(&f->resp));
    assert_non_null(out);
    n = resp_start(&f->resp, 0, "Thu, 01 Jan 2026 00:00:00 GMT", 1, out);
    assert_true(n <= resp_head_size(&f->resp));
    assert_non_null(memmem(out, n, "X-One: 1\r\nX-Empty: \r\nX-Big: v", 29));
    assert_memory_equal(out + n - 4, "\r\n\r\n", 4);
    free(out);
    /* past RESP_XHDR_MAX in all: refused, and what is there stays */
    huge = malloc(RESP_XHDR_MAX);
    assert_non_null(huge);
    memset(huge, 'h', RESP_XHDR_MAX - 1);
    huge[RESP_XHDR_MAX - 1] = '\0';
    before = f->resp.xhdr_len;
    assert_int_equal(forkd_resp_header(&f->resp, "X-Huge", huge), -1);
    assert_int_equal(f->resp.xhdr_len, before);
    free(huge);
}

static void test_printf_grows_past_the_inline_buffer(void **state)
{
    fixture_t *f = *state;
    char want[RESP_GEN_SIZE * 4];
    size_t len = 0;
    int i;

    forkd_resp_status(&f->resp, 200);
    assert_int_equal(forkd_resp_printf(&f->resp, "%s", "small"), 0);
    assert_null(f->resp.big); /* no malloc for a small body */
    len = (size_t)snprintf(want, sizeof(want), "small");
    for (i = 0; len + 100 < RESP_GEN_SIZE * 3; i++) {
        assert_int_equal(forkd_resp_printf(&f->resp, "line %d of text\n", i), 0);
        len += (size_t)snprintf(want + len, sizeof(want) - len, "line %d of text\n", i);
    }
    assert_non_null(f->resp.big);
    assert_int_equal(f->resp.gen_len, len);
    assert_string_equal(sealed_body(f, 0), want);
}

static void test_one_printf_bigger_than_the_buffer(void **state)
{
    fixture_t *f = *state;
    char *big = malloc(RESP_GEN_SIZE * 3);

    assert_non_null(big);
    memset(big, 'x', RESP_GEN_SIZE * 3 - 1);
    big[RESP_GEN_SIZE * 3 - 1] = '\0';
    forkd_resp_status(&f->resp, 200);
    assert_int_equal(forkd_resp_printf(&f->resp, "<%s>", big), 0);
    assert_int_equal(f->resp.gen_len, RESP_GEN_SIZE * 3 + 1);
    assert_int_equal(sealed_body(f, 0)[RESP_GEN_SIZE * 3], '>');
    free(big);
}

static void test_body_copy_replaces_built_text(void **state)
{
    fixture_t *f = *state;
    static char large[RESP_GEN_SIZE * 2];

    forkd_resp_status(&f->resp, 200);
    forkd_resp_printf(&f->resp, "dropped");
    assert_int_equal(forkd_resp_body_copy(&f->resp, "kept", 4), 0);
    assert_string_equal(sealed_body(f, 0), "kept");
    resp_cleanup(&f->resp);
    resp_reset(&f->resp, &f->srv, NULL);
    memset(large, 'L', sizeof(large));
    forkd_resp_status(&f->resp, 200);
    assert_int_equal(forkd_resp_body_copy(&f->resp, large, sizeof(large)), 0);
    resp_start(&f->resp, 0, DATE, 1, f->head);
    assert_int_equal(f->resp.mem_len, sizeof(large));
    assert_memory_equal(f->resp.mem, large, sizeof(large));
}

static void test_lent_memory_released_once(void **state)
{
    fixture_t *f = *state;
    static const char lent[] = "lent";
    int token;

    forkd_resp_status(&f->resp, 200);
    forkd_resp_body_ref(&f->resp, lent, 4, count_release, &token);
    assert_int_equal(f->released, 0);
    resp_start(&f->resp, 0, DATE, 1, f->head);
    assert_ptr_equal(f->resp.mem, lent);
    resp_cleanup(&f->resp);
    assert_int_equal(f->released, 1);
    assert_ptr_equal(f->release_to, f);
    assert_ptr_equal(f->release_of, &token);
    resp_cleanup(&f->resp);
    assert_int_equal(f->released, 1);
}

static void test_replaced_body_released_at_once(void **state)
{
    fixture_t *f = *state;
    int first, second;

    forkd_resp_body_ref(&f->resp, "a", 1, count_release, &first);
    forkd_resp_body_ref(&f->resp, "b", 1, count_release, &second);
    assert_int_equal(f->released, 1);
    assert_ptr_equal(f->release_of, &first);
    /* built text replaces lent memory too (from its start), and an error page anything */
    assert_int_equal(forkd_resp_printf(&f->resp, "text"), 0);
    assert_int_equal(f->released, 2);
    assert_ptr_equal(f->release_of, &second);
    forkd_resp_body_ref(&f->resp, "d", 1, NULL, NULL);
    assert_int_equal(forkd_resp_printf(&f->resp, "again"), 0);
    forkd_resp_status(&f->resp, 200);
    assert_string_equal(sealed_body(f, 0), "again");
    resp_cleanup(&f->resp);
    resp_reset(&f->resp, &f->srv, NULL);
    f->resp.self = f;
    forkd_resp_body_ref(&f->resp, "c", 1, count_release, &first);
    forkd_resp_error(&f->resp, 404);
    assert_int_equal(f->released, 3);
    resp_cleanup(&f->resp);
    assert_int_equal(f->released, 3);
}

static void test_file_body_owned_or_borrowed(void **state)
{
    fixture_t *f = *state;
    int owned = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int borrowed = open("/dev/null", O_RDONLY | O_CLOEXEC);

    assert_true(owned >= 0 && borrowed >= 0);
    forkd_resp_status(&f->resp, 200);
    forkd_resp_body_file(&f->resp, owned, 5, 10, NULL, NULL);
    assert_string_equal(strstr(head(f, 0, 1), "Content-Length: "),
                        "Content-Length: 10\r\n"
                        "Connection: keep-alive\r\n\r\n");
    resp_cleanup(&f->resp);
    /* released with the response: closed */
    assert_int_equal(fcntl(owned, F_GETFD), -1);
    assert_int_equal(errno, EBADF);

    resp_reset(&f->resp, &f->srv, NULL);
    f->resp.self = f;
    forkd_resp_body_file(&f->resp, borrowed, 0, 1, count_release, &borrowed);
    resp_cleanup(&f->resp);
    assert_int_equal(f->released, 1);
    assert_int_not_equal(fcntl(borrowed, F_GETFD), -1); /* the lender's to close */
    close(borrowed);
}

/* A body of parts: texts and ranges of a file in turn, their sum as Content-Length. */
static void test_body_of_parts(void **state)
{
    fixture_t *f = *state;
    static const char text[] = "<one><two>three";
    forkd_part_t parts[3] = {{5, 10, 4}, {5, 100, 6}, {5, 0, 0}};
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    forkd_resp_status(&f->resp, 206);
    assert_int_equal(forkd_resp_body_parts(&f->resp, fd, text, parts, 3, count_release, &fd), 0);
    parts[0].text_len = 99; /* copied: the caller's array is free again */
    assert_string_equal(strstr(head(f, 0, 1), "Content-Length: "),
                        "Content-Length: 25\r\n"
                        "Connection: keep-alive\r\n\r\n");
    /* the first piece; each next one adds its text to mem and replaces the range */
    assert_memory_equal(f->resp.mem, "<one>", 5);
    assert_int_equal(f->resp.mem_len, 5);
    assert_int_equal(f->resp.file_off, 10);
    assert_int_equal(f->resp.file_len, 4);
    assert_int_equal(resp_next_part(&f->resp), 1);
    assert_memory_equal(f->resp.mem, "<one><two>", 10);
    assert_int_equal(f->resp.mem_len, 10);
    assert_int_equal(f->resp.file_off, 100);
    assert_int_equal(f->resp.file_len, 6);
    assert_int_equal(resp_next_part(&f->resp), 1);
    assert_int_equal(f->resp.mem_len, 15);
    assert_int_equal(f->resp.file_len, 0);
    assert_int_equal(resp_next_part(&f->resp), 0);
    assert_int_equal(f->released, 0);
    resp_cleanup(&f->resp);
    assert_int_equal(f->released, 1);
    assert_ptr_equal(f->release_of, &fd);
    assert_int_not_equal(fcntl(fd, F_GETFD), -1); /* borrowed: the lender's to close */

    /* HEAD: the length, no piece to move on to; another body replaces the parts */
    resp_reset(&f->resp, &f->srv, NULL);
    f->resp.self = f;
    forkd_resp_status(&f->resp, 206);
    assert_int_equal(forkd_resp_body_parts(&f->resp, fd, text, parts + 1, 2, NULL, NULL), 0);
    assert_non_null(strstr(head(f, 1, 1), "Content-Length: 16\r\n"));
    assert_int_equal(resp_next_part(&f->resp), 0);
    forkd_resp_body_copy(&f->resp, "x", 1);
    assert_int_equal(fcntl(fd, F_GETFD), -1); /* owned (release NULL): closed when replaced */
    assert_null(f->resp.parts);
    assert_string_equal(sealed_body(f, 0), "x");
    assert_int_equal(resp_next_part(&f->resp), 0);
}

/* A body of parts moves from a thread's response with what it holds. */
static void test_move_a_body_of_parts(void **state)
{
    fixture_t *f = *state;
    resp_t *src = malloc(sizeof(*src));
    forkd_part_t parts[2] = {{2, 0, 3}, {2, 0, 0}};

    assert_non_null(src);
    resp_reset(src, NULL, NULL);
    src->self = f;
    forkd_resp_status(src, 206);
    assert_int_equal(forkd_resp_body_parts(src, 0, "abcd", parts, 2, count_release, src), 0);
    resp_move(&f->resp, src);
    resp_cleanup(src);
    assert_int_equal(f->released, 0);
    assert_non_null(strstr(head(f, 0, 1), "Content-Length: 7\r\n"));
    assert_int_equal(resp_next_part(&f->resp), 1);
    assert_memory_equal(f->resp.mem, "abcd", 4);
    resp_cleanup(&f->resp);
    assert_int_equal(f->released, 1);
    free(src);
}

static void test_error_page_keeps_headers(void **state)
{
    fixture_t *f = *state;

    forkd_resp_header(&f->resp, "Retry-After", "1");
    forkd_resp_error(&f->resp, 503);
    assert_int_equal(f->resp.status, 503);
    assert_string_equal(f->resp.content_type, "text/html; charset=utf-8");
    assert_non_null(strstr(sealed_body(f, 0), "<h1>503 Service Unavailable</h1>"));
    assert_non_null(strstr(f->head, "\r\nRetry-After: 1\r\n"));
}

static void test_head_of_a_response(void **state)
{
    fixture_t *f = *state;

    forkd_resp_status(&f->resp, 200);
    forkd_resp_content_type(&f->resp, "text/plain");
    forkd_resp_header(&f->resp, "ETag", "\"x\"");
    forkd_resp_body_copy(&f->resp, "hello", 5);
    assert_string_equal(head(f, 0, 1), "HTTP/1.1 200 OK\r\n"
                                       "Server: forkd\r\n"
                                       "Date: " DATE "\r\n"
                                       "Content-Type: text/plain\r\n"
                                       "Content-Length: 5\r\n"
                                       "ETag: \"x\"\r\n"
                                       "Connection: keep-alive\r\n\r\n");
    assert_int_equal(f->resp.no_body, 0);
}

/*
 * A pool = yes handler's response (no loop) moved into the real one: the
 * head, built text inline or grown, and lent memory go across; the source
 * releases nothing afterwards, the destination releases it once.
 */
static void test_move_a_threads_response(void **state)
{
    fixture_t *f = *state;
    resp_t *src = malloc(sizeof(*src));
    static char lent[] = "lent";
    int i;

    assert_non_null(src);
    resp_reset(src, NULL, NULL);
    src->self = f;
    assert_int_equal(forkd_resp_timer(src, 1, NULL, NULL), -1); /* no loop on a thread */
    forkd_resp_status(src, 201);
    forkd_resp_content_type(src, "text/plain");
    forkd_resp_header(src, "X-A", "1");
    forkd_resp_printf(src, "small");
    assert_int_equal(src->upstream_us, -1); /* none told */
    forkd_resp_upstream_time(src, 1500);
    resp_move(&f->resp, src);
    assert_int_equal(f->resp.upstream_us, 1500);
    resp_cleanup(src);
    assert_string_equal(sealed_body(f, 0), "small");
    assert_non_null(strstr(f->head, "HTTP/1.1 201 Created\r\n"));
    assert_non_null(strstr(f->head, "Content-Type: text/plain\r\nContent-Length: 5\r\nX-A: 1\r\n"));

    resp_cleanup(&f->resp);
    resp_reset(&f->resp, &f->srv, NULL);
    resp_reset(src, NULL, NULL);
    forkd_resp_status(src, 200);
    for (i = 0; i < 1000; i++) {
        forkd_resp_printf(src, "0123456789");
    }
    resp_move(&f->resp, src);
    resp_cleanup(src);
    assert_int_equal(strlen(sealed_body(f, 0)), 10000);

    resp_cleanup(&f->resp);
    resp_reset(&f->resp, &f->srv, NULL);
    resp_reset(src, NULL, NULL);
    src->self = f;
    forkd_resp_status(src, 200);
    forkd_resp_body_ref(src, lent, 4, count_release, lent);
    resp_move(&f->resp, src);
    resp_cleanup(src);
    assert_int_equal(f->released, 0);
    assert_string_equal(sealed_body(f, 0), "lent");
    resp_cleanup(&f->resp);
    assert_int_equal(f->released, 1);
    assert_ptr_equal(f->release_of, lent);
    free(src);
}

static void test_head_of_head_204_304_and_close(void **state)
{
    fixture_t *f = *state;

    forkd_resp_status(&f->resp, 200);
    forkd_resp_body_copy(&f->resp, "hello", 5);
    /* HEAD: the length of the body a GET would get, and no body */
    assert_non_null(strstr(head(f, 1, 0), "\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"));
    assert_int_equal(f->resp.no_body, 1);

    /* HEAD with the length a handler declared (a proxy's app said it): that one, no body */
    resp_reset(&f->resp, &f->srv, NULL);
    forkd_resp_status(&f->resp, 200);
    forkd_resp_head_length(&f->resp, 5000);
    assert_non_null(strstr(head(f, 1, 1), "\r\nContent-Length: 5000\r\n"));
    assert_int_equal(f->resp.no_body, 1);
    /* not for a GET, nor for an error page that replaced the answer */
    resp_reset(&f->resp, &f->srv, NULL);
    forkd_resp_status(&f->resp, 200);
    forkd_resp_head_length(&f->resp, 5000);
    assert_non_null(strstr(head(f, 0, 1), "\r\nContent-Length: 0\r\n"));
    resp_reset(&f->resp, &f->srv, NULL);
    forkd_resp_head_length(&f->resp, 5000);
    forkd_resp_error(&f->resp, 502);
    assert_null(strstr(head(f, 1, 1), "Content-Length: 5000"));

    resp_reset(&f->resp, &f->srv, NULL);
    forkd_resp_status(&f->resp, 204);
    assert_string_equal(head(f, 0, 1), "HTTP/1.1 204 No Content\r\nServer: forkd\r\nDate: " DATE
                                       "\r\nConnection: keep-alive\r\n\r\n");
    assert_int_equal(f->resp.no_body, 1);

    resp_reset(&f->resp, &f->srv, NULL);
    forkd_resp_status(&f->resp, 304);
    forkd_resp_header(&f->resp, "ETag", "\"x\"");
    assert_null(strstr(head(f, 0, 1), "Content-Length"));
    assert_int_equal(f->resp.no_body, 1);
}

static void test_head_of_odd_statuses(void **state)
{
    fixture_t *f = *state;
    char ctype[RESP_CTYPE_MAX + 2];

    forkd_resp_status(&f->resp, 299);
    assert_int_equal(strncmp(head(f, 0, 1), "HTTP/1.1 299 Unknown\r\n", 22), 0);

    /* none set (or out of range): a 500 page, not "HTTP/1.1 0" */
    resp_reset(&f->resp, &f->srv, NULL);
    assert_int_equal(strncmp(head(f, 0, 1), "HTTP/1.1 500 Internal Server Error\r\n", 36), 0);
    resp_cleanup(&f->resp);
    resp_reset(&f->resp, &f->srv, NULL);
    forkd_resp_status(&f->resp, 600);
    assert_int_equal(strncmp(head(f, 0, 1), "HTTP/1.1 500 ", 13), 0);
    resp_cleanup(&f->resp);

    /* a Content-Type too long for the head is left out */
    resp_reset(&f->resp, &f->srv, NULL);
    memset(ctype, 't', sizeof(ctype) - 1);
    ctype[sizeof(ctype) - 1] = '\0';
    forkd_resp_status(&f->resp, 200);
    forkd_resp_content_type(&f->resp, ctype);
    assert_null(strstr(head(f, 0, 1), "Content-Type"));
    ctype[RESP_CTYPE_MAX] = '\0';
    assert_non_null(strstr(head(f, 0, 1), "Content-Type: ttt"));
}

static void test_head_of_a_stream(void **state)
{
    fixture_t *f = *state;
    size_t n;

    /* HTTP/1.1: chunked, no Content-Length; a body set before is dropped, released */
    forkd_resp_status(&f->resp, 200);
    forkd_resp_content_type(&f->resp, "text/event-stream");
    forkd_resp_body_ref(&f->resp, "old", 3, count_release, NULL);
    n = resp_stream_start(&f->resp, 0, 0, DATE, 1, f->head);
    f->head[n] = '\0';
    assert_string_equal(f->head, "HTTP/1.1 200 OK\r\n"
                                 "Server: forkd\r\n"
                                 "Date: " DATE "\r\n"
                                 "Content-Type: text/event-stream\r\n"
                                 "Transfer-Encoding: chunked\r\n"
                                 "Connection: keep-alive\r\n\r\n");
    assert_int_equal(f->resp.framing, RESP_FRAME_CHUNKED);
    assert_int_equal(f->resp.no_body, 0);
    assert_int_equal(f->released, 1);

    /* HTTP/1.0: neither length nor chunks, the close ends it */
    resp_reset(&f->resp, &f->srv, NULL);
    forkd_resp_status(&f->resp, 200);
    n = resp_stream_start(&f->resp, 0, 1, DATE, 0, f->head);
    f->head[n] = '\0';
    assert_null(strstr(f->head, "Content-Length"));
    assert_null(strstr(f->head, "Transfer-Encoding"));
    assert_non_null(strstr(f->head, "\r\nConnection: close\r\n\r\n"));
    assert_int_equal(f->resp.framing, RESP_FRAME_CLOSE);

    /* HEAD: the head a GET would get, no body; 204 neither; no status: 500 */
    resp_reset(&f->resp, &f->srv, NULL);
    forkd_resp_status(&f->resp, 200);
    n = resp_stream_start(&f->resp, 1, 0, DATE, 1, f->head);
    f->head[n] = '\0';
    assert_non_null(strstr(f->head, "Transfer-Encoding: chunked\r\n"));
    assert_int_equal(f->resp.no_body, 1);
    resp_reset(&f->resp, &f->srv, NULL);
    forkd_resp_status(&f->resp, 204);
    n = resp_stream_start(&f->resp, 0, 0, DATE, 1, f->head);
    f->head[n] = '\0';
    assert_null(strstr(f->head, "Transfer-Encoding"));
    assert_int_equal(f->resp.no_body, 1);
    resp_reset(&f->resp, &f->srv, NULL);
    n = resp_stream_start(&f->resp, 0, 0, DATE, 1, f->head);
    assert_int_equal(strncmp(f->head, "HTTP/1.1 500 ", 13), 0);
    assert_int_equal(f->resp.status, 500);
}

static void test_busy_answer(void **state)
{
    char out[RESP_BUSY_MAX + 1];
    size_t n = resp_busy(DATE, out);
    (void)state;

    out[n] = '\0';
    assert_string_equal(out,
                        "HTTP/1.1 503 Service Unavailable\r\nServer: forkd\r\nDate: " DATE
                        "\r\nContent-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n\r\n");
}

static void count_timer(forkd_resp_t *resp, void *arg)
{
    fixture_t *f = arg;

    assert_ptr_equal(resp, &f->resp);
    f->timer_calls++;
}

static void test_timer_fires_once_and_dies_with_the_request(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(forkd_resp_timer(&f->resp, 1, count_timer, f), 0);
    assert_int_equal(forkd_resp_timer(&f->resp, 1, count_timer, f), -1); /* one at a time */
    event_base_dispatch(f->srv.base);
    assert_int_equal(f->timer_calls, 1);
    /* a pending timer is cancelled when the request ends */
    assert_int_equal(forkd_resp_timer(&f->resp, 1, count_timer, f), 0);
    resp_cleanup(&f->resp);
    event_base_dispatch(f->srv.base);
    assert_int_equal(f->timer_calls, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_header_lines_grow_past_the_inline_area, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_printf_grows_past_the_inline_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_printf_bigger_than_the_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_copy_replaces_built_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lent_memory_released_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replaced_body_released_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_body_owned_or_borrowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_of_parts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move_a_body_of_parts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_page_keeps_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_of_a_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_of_head_204_304_and_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move_a_threads_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_of_odd_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_of_a_stream, setup, teardown),
        cmocka_unit_test(test_busy_answer),
        cmocka_unit_test_setup_teardown(test_timer_fires_once_and_dies_with_the_request, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
