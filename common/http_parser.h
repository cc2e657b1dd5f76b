/* http_parser: strict, zero-copy HTTP/1.1 request head and chunked body parser (RFC 9112/9110). */
#ifndef FORKD_HTTP_PARSER_H
#define FORKD_HTTP_PARSER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Return codes of the parse functions (a positive value is bytes consumed). */
#define HTTP_PARSE_NEED_MORE (-2) /* input ends before the element does: read more */
#define HTTP_PARSE_BAD (-1)       /* rejected: see req->status / req->reason */

/* A slice of the caller's buffer: never NUL-terminated, valid while the buffer is. */
typedef struct {
    const char *p;
    size_t len;
} http_slice_t;

typedef struct {
    http_slice_t name;  /* a token, as received (case kept) */
    http_slice_t value; /* leading/trailing OWS removed; may be empty */
} http_header_t;

typedef enum {
    HTTP_METHOD_OTHER = 0, /* a valid token that is none of the below: answer 501 */
    HTTP_METHOD_GET,
    HTTP_METHOD_HEAD,
    HTTP_METHOD_POST,
    HTTP_METHOD_PUT,
    HTTP_METHOD_DELETE,
    HTTP_METHOD_CONNECT,
    HTTP_METHOD_OPTIONS,
    HTTP_METHOD_TRACE,
    HTTP_METHOD_PATCH,
    HTTP_METHOD_COUNT
} http_method_t;

/* Bit for a method in a method set (router, Allow header). */
#define HTTP_METHOD_BIT(m) (1u << (m))

typedef enum {
    HTTP_TARGET_ORIGIN = 0, /* "/path?query" */
    HTTP_TARGET_ABSOLUTE,   /* "http://host/path?query": path/query/host taken from it */
    HTTP_TARGET_AUTHORITY,  /* "host:port", CONNECT only */
    HTTP_TARGET_ASTERISK    /* "*", OPTIONS only */
} http_target_form_t;

typedef enum {
    HTTP_BODY_NONE = 0,
    HTTP_BODY_LENGTH, /* content_length bytes follow the head */
    HTTP_BODY_CHUNKED /* decode with http_chunked_parse() */
} http_body_kind_t;

/* Flags set by http_parse_request(). */
#define HTTP_REQ_CONN_CLOSE 0x01      /* "Connection: close" */
#define HTTP_REQ_CONN_KEEPALIVE 0x02  /* "Connection: keep-alive" */
#define HTTP_REQ_EXPECT_CONTINUE 0x04 /* "Expect: 100-continue" on HTTP/1.1 */
#define HTTP_REQ_HAS_HOST 0x08

typedef struct {
    size_t max_head;    /* request line + headers + final CRLF, bytes (431/414 above) */
    size_t max_headers; /* header field lines (431 above) */
} http_limits_t;

/*
 * Everything is a slice of the buffer given to http_parse_request(). The caller
 * provides the header array (headers, headers_cap) before the call.
 */
typedef struct {
    http_method_t method;
    http_slice_t method_name;
    http_slice_t target; /* the request-target as received */
    http_target_form_t target_form;
    http_slice_t path;  /* origin/absolute form: "/..." still percent-encoded; empty otherwise */
    http_slice_t query; /* without the '?'; len 0 and p NULL when absent */
    http_slice_t host;  /* from absolute-form target, else the Host header; may be empty */
    int version_minor;  /* 0 or 1 (other 1.x parse as 1) */

    http_header_t *headers; /* caller's array */
    size_t headers_cap;
    size_t nheaders;

    http_body_kind_t body_kind;
    uint64_t content_length; /* HTTP_BODY_LENGTH only */
    unsigned flags;          /* HTTP_REQ_* */

    /* Set when HTTP_PARSE_BAD is returned. */
    int status;         /* 400, 414, 417, 431, 501, 505 */
    const char *reason; /* static string, for the error log */
} http_request_t;

/*
 * Parse one request head from buf[0..len). Leading empty lines (CRLF) before
 * the request line are skipped (RFC 9112 2.2).
 * Returns the number of bytes consumed up to and including the empty line
 * that ends the head, HTTP_PARSE_NEED_MORE when the head is incomplete and
 * still within limits, or HTTP_PARSE_BAD with req->status and req->reason set.
 * Body framing is validated: Content-Length digits only and at most one;
 * Transfer-Encoding must end in a single "chunked" (other codings 501), never
 * with Content-Length nor in HTTP/1.0; HTTP/1.1 needs exactly one valid Host.
 * Pure: no allocation, no I/O; all slices point into buf, except the path
 * of an absolute-form target with an empty path, which is a static "/".
 * No state is kept between calls: call again from buf[0] with more bytes.
 * max_head counts from buf[0], skipped empty lines included, so NEED_MORE is
 * never returned once len >= max_head (414 when the request line is not
 * complete by then, 431 when the field section is not). A Content-Length of
 * 0 gives HTTP_BODY_NONE. Syntax errors are reported as soon as they are
 * seen; rules needing the whole head are judged at its end, 400 before 501
 * before 417. req->host is the Host field value (NULL, 0 when absent) or, for
 * absolute-form, the target's authority.
 */
ssize_t http_parse_request(const char *buf, size_t len, const http_limits_t *lim,
                           http_request_t *req);

/*
 * May p[0..len) still be part of a request head? 0 when it holds a byte no
 * head has anywhere (a control byte other than HTAB, CR and LF, or DEL) or
 * a CR followed by anything but LF. For a caller that parses a head again
 * only when a line ends (http_parse_request() starts over from buf[0] on
 * each call: a client dripping bytes would cost O(n^2)): checking the new
 * bytes with this (from the one before them, which may be the CR) catches
 * such a byte at once, so the client gets its 400 instead of waiting for a
 * timeout. Bytes that are wrong only where they stand (a space in a field
 * name) are found when the line ends.
 */
int http_head_bytes_plausible(const char *p, size_t len);

/* Case-insensitive lookup of the first header named name; NULL if absent. */
const http_header_t *http_find_header(const http_request_t *req, const char *name);

/* Method name to enum for a token (HTTP_METHOD_OTHER if unknown). */
http_method_t http_method_from(const char *p, size_t len);

/* Canonical name of a known method ("GET"), NULL for HTTP_METHOD_OTHER. */
const char *http_method_name(http_method_t m);

/* True when the slice equals s ignoring ASCII case. */
int http_slice_eq_nocase(http_slice_t a, const char *s);

/* Incremental chunked body decoder state (RFC 9112 7.1); zero it to start. */
typedef struct {
    int state;           /* private to the decoder */
    uint64_t chunk_left; /* data bytes left in the current chunk (the size, while read) */
    uint64_t total;      /* decoded body bytes so far */
    size_t line_len;     /* bytes of the current size line so far */
    size_t trailer_len;  /* bytes of the trailer section so far */
    int status;          /* set with HTTP_PARSE_BAD: 400 or 413 */
    const char *reason;  /* static string, set with HTTP_PARSE_BAD */
} http_chunked_t;

/*
 * Decode chunked framing from buf[0..len) in place: decoded data bytes are
 * moved to the front of buf and their count stored in *data_len.
 * Returns the number of input bytes consumed when the body is complete
 * (last chunk and trailer section read; trailers are validated and dropped),
 * HTTP_PARSE_NEED_MORE when all of buf was consumed and more is needed,
 * or HTTP_PARSE_BAD with st->status (400, or 413 once total would pass
 * max_body) and st->reason set. Chunk sizes are hex digits only with an
 * overflow check; extensions are checked for bad bytes and ignored; a size
 * line or trailer section longer than max_line is rejected with 400
 * (a size line counts its bytes before CRLF; the trailer section counts its
 * field lines with their CRLFs, not the final empty line). BWS is accepted
 * before a ';' but not before CRLF. Once complete, further calls return 0
 * (nothing consumed); once bad, further calls return HTTP_PARSE_BAD.
 */
ssize_t http_chunked_parse(http_chunked_t *st, char *buf, size_t len, uint64_t max_body,
                           size_t max_line, size_t *data_len);

#endif
