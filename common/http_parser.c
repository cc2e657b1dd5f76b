/* http_parser: strict, zero-copy HTTP/1.1 request head and chunked body parser (RFC 9112/9110). */
#include "http_parser.h"

#include <string.h>

/*
 * Character classes, one bit each in cls[]. Only the byte values named in
 * the RFC grammars carry a bit; everything else (CTLs, DEL, and for most
 * classes the bytes >= 0x80) has none, so a single lookup rejects it.
 */
#define C_TCHAR 0x01   /* token: RFC 9110 5.6.2 */
#define C_PATH 0x02    /* pchar without '%', plus '/': RFC 3986 3.3 */
#define C_QUERY 0x04   /* C_PATH plus '?': RFC 3986 3.4 */
#define C_VALUE 0x08   /* field-value byte: VCHAR, obs-text, SP, HTAB */
#define C_HEX 0x10     /* HEXDIG */
#define C_REGNAME 0x20 /* reg-name without '%': unreserved / sub-delims */
#define C_DIGIT 0x40   /* DIGIT */
#define C_TARGET 0x80  /* any byte of any request-target form: C_QUERY, '%', '[', ']' */

#define IS(c, k) (cls[(unsigned char)(c)] & (k))
#define IS_OWS(c) ((c) == ' ' || (c) == '\t')

/* A chunk size above this is a framing error even when max_body allows it. */
#define CHUNK_SIZE_MAX ((uint64_t)1 << 60)

/* Content-Length: at most this many digits (10^18 - 1 < 2^62). */
#define CONTENT_LENGTH_DIGITS_MAX 18

/* Internal result of the head sub-parsers, besides HTTP_PARSE_NEED_MORE / _BAD. */
#define PARSE_OK 0

/* Where the input ran out, to choose the status when max_head is the cause. */
typedef enum {
    STAGE_EMPTY_LINES, /* still in the empty lines before the request line */
    STAGE_REQUEST_LINE,
    STAGE_FIELDS
} stage_t;

/* Facts gathered from the header fields, judged once the head is complete. */
typedef struct {
    http_slice_t host;   /* Host field value */
    int host_seen;       /* a Host line was seen (at most one) */
    int length_seen;     /* a Content-Length line was seen */
    int te_seen;         /* a Transfer-Encoding line was seen */
    int te_chunked;      /* "chunked" seen (at most once) */
    int te_last_chunked; /* the last coding so far is a plain "chunked" */
    int te_other;        /* a coding other than plain "chunked" is present */
    int expect_bad;      /* HTTP/1.1 Expect other than 100-continue */
} fields_t;

/* Chunked decoder states; 0 is the start so that a zeroed http_chunked_t works. */
enum {
    CH_SIZE = 0,      /* first hex digit of a chunk-size line */
    CH_SIZE_MORE,     /* further hex digits, ';', BWS or CR */
    CH_SIZE_BWS,      /* SP/HTAB after the size: only ';' may follow */
    CH_EXT,           /* chunk-ext bytes up to CR */
    CH_SIZE_LF,       /* LF ending the size line */
    CH_DATA,          /* chunk_left data bytes */
    CH_DATA_CR,       /* CR after chunk data */
    CH_DATA_LF,       /* LF after chunk data */
    CH_TRAILER,       /* start of a trailer field line, or CR of the final CRLF */
    CH_TRAILER_NAME,  /* field-name bytes up to ':' */
    CH_TRAILER_VALUE, /* field-value bytes up to CR */
    CH_TRAILER_LF,    /* LF ending a trailer field line */
    CH_END_LF,        /* LF of the final CRLF */
    CH_DONE,
    CH_BAD
};

static int fail(http_request_t *req, int status, const char *reason);
static ssize_t incomplete(http_request_t *req, size_t len, const http_limits_t *lim, stage_t stage);
static unsigned char lower(unsigned char c);
static int name_is(const char *p, const char *lower_name, size_t len);
static const char *scan_pct(const char *p, const char *end, unsigned k);
static int host_valid(const char *p, size_t len, int need_port);
static int parse_request_line(const char **pp, const char *end, http_request_t *req);
static int parse_target(const char **pp, const char *end, http_request_t *req);
static int parse_absolute(const char *p, const char *end, http_request_t *req);
static int parse_version(const char **pp, const char *end, http_request_t *req);
static int parse_field(http_request_t *req, fields_t *f, const char *name, size_t name_len,
                       const char *value, size_t value_len);
static int parse_content_length(http_request_t *req, fields_t *f, const char *p, size_t len);
static int parse_transfer_encoding(http_request_t *req, fields_t *f, const char *p, size_t len);
static void parse_connection(http_request_t *req, const char *p, size_t len);
static int finish_head(http_request_t *req, fields_t *f);
static ssize_t chunked_fail(http_chunked_t *st, int status, const char *reason, size_t w,
                            size_t *data_len);

/*
 * Generated from the ABNF of RFC 9110 5.6.2 / 5.5 and RFC 3986; the unit tests
 * try every byte value in the method, path, query, field name and value.
 */
static const uint8_t cls[256] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 0x00 */
    0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 0x08 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 0x10 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 0x18 */
    0x08, 0xaf, 0x08, 0x09, 0xaf, 0x89, 0xaf, 0xaf, /* 0x20 */
    0xae, 0xae, 0xaf, 0xaf, 0xae, 0xaf, 0xaf, 0x8e, /* 0x28 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* 0x30 */
    0xff, 0xff, 0x8e, 0xae, 0x08, 0xae, 0x08, 0x8c, /* 0x38 */
    0x8e, 0xbf, 0xbf, 0xbf, 0xbf, 0xbf, 0xbf, 0xaf, /* 0x40 */
    0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, /* 0x48 */
    0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, /* 0x50 */
    0xaf, 0xaf, 0xaf, 0x88, 0x08, 0x88, 0x09, 0xaf, /* 0x58 */
    0x09, 0xbf, 0xbf, 0xbf, 0xbf, 0xbf, 0xbf, 0xaf, /* 0x60 */
    0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, /* 0x68 */
    0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, /* 0x70 */
    0xaf, 0xaf, 0xaf, 0x08, 0x09, 0x08, 0xaf, 0x00, /* 0x78 */
    0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, /* 0x80 */
    0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, /* 0x88 */
    0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, /* 0x90 */
    0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, /* 0x98 */
    0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, /* 0xa0 */
    0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, /* 0xa8 */
    0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, /* 0xb0 */
    0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, /* 0xb8 */
    0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, /* 0xc0 */
    0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, /* 0xc8 */
    0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, /* 0xd0 */
    0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, /* 0xd8 */
    0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, /* 0xe0 */
    0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, /* 0xe8 */
    0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, /* 0xf0 */
    0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, /* 0xf8 */
};

static const char *const method_names[HTTP_METHOD_COUNT] = {
    [HTTP_METHOD_OTHER] = NULL,        [HTTP_METHOD_GET] = "GET",
    [HTTP_METHOD_HEAD] = "HEAD",       [HTTP_METHOD_POST] = "POST",
    [HTTP_METHOD_PUT] = "PUT",         [HTTP_METHOD_DELETE] = "DELETE",
    [HTTP_METHOD_CONNECT] = "CONNECT", [HTTP_METHOD_OPTIONS] = "OPTIONS",
    [HTTP_METHOD_TRACE] = "TRACE",     [HTTP_METHOD_PATCH] = "PATCH",
};

/* The path of an absolute-form target with an empty path ("http://h?q"): RFC 9112 3.2.2. */
static const char root_path[] = "/";

/*
 * Parse one request head. The head is parsed in a single pass over at most
 * lim->max_head bytes counted from buf[0]: the empty lines skipped before the
 * request line count towards max_head, so that NEED_MORE is never returned
 * once len >= max_head and the caller's buffer stays bounded.
 * Every call starts over from buf[0] (no state is kept between calls), and
 * a syntax error is reported as soon as its byte is seen, before the head is
 * complete; rules that need the whole head (Host presence, body framing
 * codings, Expect) are judged at its end, 400s before 501 before 417.
 * A Content-Length of 0 gives HTTP_BODY_NONE.
 */
ssize_t http_parse_request(const char *buf, size_t len, const http_limits_t *lim,
                           http_request_t *req)
{
    const char *p = buf;
    const char *end = buf + (len < lim->max_head ? len : lim->max_head);
    size_t max_fields = lim->max_headers < req->headers_cap ? lim->max_headers : req->headers_cap;
    fields_t f;
    int rc;

    req->method = HTTP_METHOD_OTHER;
    req->method_name = (http_slice_t){NULL, 0};
    req->target = (http_slice_t){NULL, 0};
    req->target_form = HTTP_TARGET_ORIGIN;
    req->path = (http_slice_t){NULL, 0};
    req->query = (http_slice_t){NULL, 0};
    req->host = (http_slice_t){NULL, 0};
    req->version_minor = 1;
    req->nheaders = 0;
    req->body_kind = HTTP_BODY_NONE;
    req->content_length = 0;
    req->flags = 0;
    req->status = 0;
    req->reason = NULL;
    memset(&f, 0, sizeof(f));

    /* RFC 9112 2.2: ignore empty lines received before the request line. */
    for (;;) {
        if (p == end) {
            return incomplete(req, len, lim, STAGE_EMPTY_LINES);
        }
        if (*p != '\r') {
            break;
        }
        if (p + 1 == end) {
            return incomplete(req, len, lim, STAGE_EMPTY_LINES);
        }
        if (p[1] != '\n') {
            return fail(req, 400, "CR not followed by LF");
        }
        p += 2;
    }

    rc = parse_request_line(&p, end, req);
    if (rc == HTTP_PARSE_NEED_MORE) {
        return incomplete(req, len, lim, STAGE_REQUEST_LINE);
    }
    if (rc != PARSE_OK) {
        return rc;
    }

    for (;;) {
        const char *name, *value, *vend;
        size_t name_len;

        if (p == end) {
            return incomplete(req, len, lim, STAGE_FIELDS);
        }
        if (*p == '\r') {
            if (p + 1 == end) {
                return incomplete(req, len, lim, STAGE_FIELDS);
            }
            if (p[1] != '\n') {
                return fail(req, 400, "CR not followed by LF");
            }
            p += 2;
            break;
        }

        name = p;
        while (p < end && IS(*p, C_TCHAR)) {
            p++;
        }
        if (p == end) {
            return incomplete(req, len, lim, STAGE_FIELDS);
        }
        if (*p != ':') {
            if (p == name && IS_OWS(*p)) {
                return fail(req, 400, "obs-fold or whitespace at start of field line");
            }
            if (*p == '\n') {
                return fail(req, 400, "bare LF in field line");
            }
            if (p != name && IS_OWS(*p)) {
                return fail(req, 400, "whitespace between field name and colon");
            }
            return fail(req, 400, "invalid byte in field name");
        }
        if (p == name) {
            return fail(req, 400, "empty field name");
        }
        /* Checked at the colon, so a field line just beyond the limit still fails. */
        if (req->nheaders == max_fields) {
            return fail(req, 431, "too many header fields");
        }
        name_len = (size_t)(p - name);
        p++;

        while (p < end && IS_OWS(*p)) {
            p++;
        }
        value = p;
        while (p < end && IS(*p, C_VALUE)) {
            p++;
        }
        if (p == end) {
            return incomplete(req, len, lim, STAGE_FIELDS);
        }
        if (*p != '\r') {
            return fail(req, 400,
                        *p == '\n' ? "bare LF in field line" : "invalid byte in field value");
        }
        if (p + 1 == end) {
            return incomplete(req, len, lim, STAGE_FIELDS);
        }
        if (p[1] != '\n') {
            return fail(req, 400, "CR not followed by LF");
        }
        vend = p;
        while (vend > value && IS_OWS(vend[-1])) {
            vend--;
        }
        p += 2;

        req->headers[req->nheaders].name = (http_slice_t){name, name_len};
        req->headers[req->nheaders].value = (http_slice_t){value, (size_t)(vend - value)};
        req->nheaders++;

        rc = parse_field(req, &f, name, name_len, value, (size_t)(vend - value));
        if (rc != PARSE_OK) {
            return rc;
        }
    }

    rc = finish_head(req, &f);
    if (rc != PARSE_OK) {
        return rc;
    }
    return p - buf;
}

int http_head_bytes_plausible(const char *p, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (IS(c, C_VALUE) || c == '\n') {
            continue;
        }
        if (c != '\r' || (i + 1 < len && p[i + 1] != '\n')) {
            return 0;
        }
    }
    return 1;
}

/* Set the error status and reason; returns HTTP_PARSE_BAD. */
static int fail(http_request_t *req, int status, const char *reason)
{
    req->status = status;
    req->reason = reason;
    return HTTP_PARSE_BAD;
}

/*
 * The input ran out inside the head. NEED_MORE while the caller may still
 * read more; once max_head bytes are buffered: 414 when the request line is
 * not complete yet, 431 when the field section is not, 400 when nothing but
 * empty lines was sent.
 */
static ssize_t incomplete(http_request_t *req, size_t len, const http_limits_t *lim, stage_t stage)
{
    if (len < lim->max_head) {
        return HTTP_PARSE_NEED_MORE;
    }
    switch (stage) {
    case STAGE_EMPTY_LINES: return fail(req, 400, "only empty lines within max_head");
    case STAGE_REQUEST_LINE: return fail(req, 414, "request line longer than max_head");
    default: return fail(req, 431, "request head longer than max_head");
    }
}

/* ASCII lower case, whatever the locale. */
static unsigned char lower(unsigned char c)
{
    return (unsigned char)((unsigned)(c - 'A') < 26u ? c | 0x20 : c);
}

/*
 * True when the field name p[0..len) equals lower_name ignoring case. Only
 * for token bytes against a lower-case name of letters and '-': there OR
 * 0x20 folds case exactly, and the first letter is tested before the rest.
 */
static int name_is(const char *p, const char *lower_name, size_t len)
{
    size_t i;

    if ((p[0] | 0x20) != lower_name[0]) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if ((p[i] | 0x20) != lower_name[i]) {
            return 0;
        }
    }
    return 1;
}

/*
 * Skip bytes of class k and pct-encoded triplets in p[0..end). Returns
 * where it stopped (end, or the first byte outside the class), or NULL at a
 * '%' not followed by two hex digits.
 */
static const char *scan_pct(const char *p, const char *end, unsigned k)
{
    while (p < end) {
        if (IS(*p, k)) {
            p++;
        } else if (*p == '%') {
            if (end - p < 3 || !IS(p[1], C_HEX) || !IS(p[2], C_HEX)) {
                return NULL;
            }
            p += 3;
        } else {
            break;
        }
    }
    return p;
}

/*
 * True when p[0..len) is uri-host [ ":" port ] (RFC 3986 3.2.2, 3.2.3) with a
 * non-empty host: a reg-name (which covers IPv4 addresses) or an IP-literal
 * "[...]" of hex digits, ':' and '.'. The port may be empty unless need_port.
 * No userinfo: an '@' makes it invalid.
 */
static int host_valid(const char *p, size_t len, int need_port)
{
    const char *end = p + len;
    const char *h = p;

    if (p == end) {
        return 0;
    }
    if (*p == '[') {
        p++;
        while (p < end && (IS(*p, C_HEX) || *p == ':' || *p == '.')) {
            p++;
        }
        if (p == end || *p != ']' || p == h + 1) {
            return 0;
        }
        p++;
    } else {
        p = scan_pct(p, end, C_REGNAME);
        if (p == NULL || p == h) {
            return 0;
        }
    }
    if (p == end) {
        return !need_port;
    }
    if (*p != ':') {
        return 0;
    }
    p++;
    if (p == end && need_port) {
        return 0;
    }
    while (p < end && IS(*p, C_DIGIT)) {
        p++;
    }
    return p == end;
}

/*
 * request-line = method SP request-target SP HTTP-version CRLF, with single
 * spaces. Advances *pp past the CRLF. Returns PARSE_OK, HTTP_PARSE_NEED_MORE
 * when end comes first, or HTTP_PARSE_BAD (400, 505).
 */
static int parse_request_line(const char **pp, const char *end, http_request_t *req)
{
    const char *p = *pp;
    const char *start = p;
    int rc;

    while (p < end && IS(*p, C_TCHAR)) {
        p++;
    }
    if (p == end) {
        return HTTP_PARSE_NEED_MORE;
    }
    if (*p != ' ') {
        return fail(req, 400, *p == '\n' ? "bare LF in request line" : "invalid method");
    }
    if (p == start) {
        return fail(req, 400, "empty method");
    }
    req->method_name = (http_slice_t){start, (size_t)(p - start)};
    req->method = http_method_from(start, (size_t)(p - start));
    p++;

    rc = parse_target(&p, end, req);
    if (rc != PARSE_OK) {
        return rc;
    }
    p++; /* the SP after the target */

    rc = parse_version(&p, end, req);
    if (rc != PARSE_OK) {
        return rc;
    }
    *pp = p;
    return PARSE_OK;
}

/*
 * request-target (RFC 9112 3.2) up to the SP that follows it; *pp is left
 * on that SP. origin-form, the common case, is checked while it is scanned;
 * the other forms are first delimited, then checked. The form must suit the
 * method: authority-form for CONNECT only (and CONNECT takes nothing else),
 * "*" for OPTIONS only.
 */
/*
 * Advance *pp over bytes of class k and %HH escapes, up to the first other
 * byte. Returns PARSE_OK, HTTP_PARSE_NEED_MORE at the end of input, or
 * HTTP_PARSE_BAD for a malformed escape.
 */
static int scan_encoded(const char **pp, const char *end, int k, http_request_t *req)
{
    const char *p = *pp;

    for (;;) {
        if (p == end) {
            return HTTP_PARSE_NEED_MORE;
        }
        if (IS(*p, k)) {
            p++;
            continue;
        }
        if (*p != '%') {
            break;
        }
        if (end - p < 2) {
            return HTTP_PARSE_NEED_MORE;
        }
        if (!IS(p[1], C_HEX)) {
            return fail(req, 400, "invalid percent-encoding in request-target");
        }
        if (end - p < 3) {
            return HTTP_PARSE_NEED_MORE;
        }
        if (!IS(p[2], C_HEX)) {
            return fail(req, 400, "invalid percent-encoding in request-target");
        }
        p += 3;
    }
    *pp = p;
    return PARSE_OK;
}

static int parse_target(const char **pp, const char *end, http_request_t *req)
{
    const char *p = *pp;
    const char *start = p;
    const char *q;
    int rc;

    if (p == end) {
        return HTTP_PARSE_NEED_MORE;
    }
    if (*p == '/') {
        rc = scan_encoded(&p, end, C_PATH, req);
        if (rc != PARSE_OK) {
            return rc;
        }
        req->path = (http_slice_t){start, (size_t)(p - start)};
        if (*p == '?') {
            q = ++p;
            rc = scan_encoded(&p, end, C_QUERY, req);
            if (rc != PARSE_OK) {
                return rc;
            }
            req->query = (http_slice_t){q, (size_t)(p - q)};
        }
        if (*p != ' ') {
            return fail(req, 400,
                        *p == '\n' ? "bare LF in request line" : "invalid byte in request-target");
        }
        req->target = (http_slice_t){start, (size_t)(p - start)};
        req->target_form = HTTP_TARGET_ORIGIN;
        if (req->method == HTTP_METHOD_CONNECT) {
            return fail(req, 400, "CONNECT needs an authority-form target");
        }
        *pp = p;
        return PARSE_OK;
    }

    while (p < end && IS(*p, C_TARGET)) {
        p++;
    }
    if (p == end) {
        return HTTP_PARSE_NEED_MORE;
    }
    if (*p != ' ') {
        return fail(req, 400,
                    *p == '\n' ? "bare LF in request line" : "invalid byte in request-target");
    }
    if (p == start) {
        return fail(req, 400, "empty request-target");
    }
    req->target = (http_slice_t){start, (size_t)(p - start)};
    *pp = p;

    if (req->method == HTTP_METHOD_CONNECT) {
        if (!host_valid(start, (size_t)(p - start), 1)) {
            return fail(req, 400, "CONNECT needs an authority-form target");
        }
        req->target_form = HTTP_TARGET_AUTHORITY;
        return PARSE_OK;
    }
    if (*start == '*' && p - start == 1) {
        if (req->method != HTTP_METHOD_OPTIONS) {
            return fail(req, 400, "asterisk-form target for a method other than OPTIONS");
        }
        req->target_form = HTTP_TARGET_ASTERISK;
        return PARSE_OK;
    }
    return parse_absolute(start, p, req);
}

/*
 * absolute-form: "http" / "https" (any case) "://" authority path-abempty
 * [ "?" query ], over the delimited target p[0..end). Sets req->host to the
 * authority; an empty path becomes the static "/".
 */
static int parse_absolute(const char *p, const char *end, http_request_t *req)
{
    const char *scheme = p;
    const char *authority, *path, *q;
    size_t n;

    while (p < end && *p != ':') {
        p++;
    }
    n = (size_t)(p - scheme);
    if (!((n == 4 && http_slice_eq_nocase((http_slice_t){scheme, n}, "http"))
          || (n == 5 && http_slice_eq_nocase((http_slice_t){scheme, n}, "https")))) {
        return fail(req, 400, "invalid request-target or scheme not http(s)");
    }
    if (end - p < 3 || p[1] != '/' || p[2] != '/') {
        return fail(req, 400, "invalid absolute-form target");
    }
    p += 3;
    authority = p;
    while (p < end && *p != '/' && *p != '?') {
        p++;
    }
    if (!host_valid(authority, (size_t)(p - authority), 0)) {
        return fail(req, 400, "invalid authority in request-target");
    }
    req->host = (http_slice_t){authority, (size_t)(p - authority)};

    if (p < end && *p == '/') {
        path = p;
        p = scan_pct(p, end, C_PATH);
        if (p == NULL) {
            return fail(req, 400, "invalid percent-encoding in request-target");
        }
        req->path = (http_slice_t){path, (size_t)(p - path)};
    } else {
        req->path = (http_slice_t){root_path, 1};
    }
    if (p < end && *p == '?') {
        q = ++p;
        p = scan_pct(p, end, C_QUERY);
        if (p == NULL) {
            return fail(req, 400, "invalid percent-encoding in request-target");
        }
        req->query = (http_slice_t){q, (size_t)(p - q)};
    }
    if (p != end) {
        return fail(req, 400, "invalid byte in request-target");
    }
    req->target_form = HTTP_TARGET_ABSOLUTE;
    return PARSE_OK;
}

/*
 * HTTP-version CRLF: "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 2.3).
 * Major 1 only (505 otherwise, once the line is known to be well formed);
 * 1.0 gives version_minor 0, any other 1.x gives 1. Advances *pp past CRLF.
 */
static int parse_version(const char **pp, const char *end, http_request_t *req)
{
    static const char prefix[] = "HTTP/";
    const char *p = *pp;
    int major, minor;
    size_t i;

    for (i = 0; i < sizeof(prefix) - 1; i++, p++) {
        if (p == end) {
            return HTTP_PARSE_NEED_MORE;
        }
        if (*p != prefix[i]) {
            return fail(req, 400, "invalid HTTP-version");
        }
    }
    if (p == end) {
        return HTTP_PARSE_NEED_MORE;
    }
    if (!IS(*p, C_DIGIT)) {
        return fail(req, 400, "invalid HTTP-version");
    }
    major = *p++ - '0';
    if (p == end) {
        return HTTP_PARSE_NEED_MORE;
    }
    if (*p++ != '.') {
        return fail(req, 400, "invalid HTTP-version");
    }
    if (p == end) {
        return HTTP_PARSE_NEED_MORE;
    }
    if (!IS(*p, C_DIGIT)) {
        return fail(req, 400, "invalid HTTP-version");
    }
    minor = *p++ - '0';
    if (p == end) {
        return HTTP_PARSE_NEED_MORE;
    }
    if (*p != '\r') {
        return fail(req, 400, *p == '\n' ? "bare LF in request line" : "invalid HTTP-version");
    }
    p++;
    if (p == end) {
        return HTTP_PARSE_NEED_MORE;
    }
    if (*p != '\n') {
        return fail(req, 400, "CR not followed by LF");
    }
    p++;
    if (major != 1) {
        return fail(req, 505, "HTTP major version not supported");
    }
    req->version_minor = minor == 0 ? 0 : 1;
    *pp = p;
    return PARSE_OK;
}

/*
 * Act on one complete field line if its name is one the parser must know.
 * Names are told apart by length, then first letter, before a comparison.
 * Returns PARSE_OK or HTTP_PARSE_BAD.
 */
static int parse_field(http_request_t *req, fields_t *f, const char *name, size_t name_len,
                       const char *value, size_t value_len)
{
    switch (name_len) {
    case 4:
        if (!name_is(name, "host", 4)) {
            break;
        }
        if (f->host_seen) {
            return fail(req, 400, "more than one Host field");
        }
        if (value_len != 0 && !host_valid(value, value_len, 0)) {
            return fail(req, 400, "invalid Host field");
        }
        f->host_seen = 1;
        f->host = (http_slice_t){value, value_len};
        req->flags |= HTTP_REQ_HAS_HOST;
        break;
    case 6:
        /* RFC 9110 10.1.1: only 100-continue is defined; ignored in HTTP/1.0. */
        if (!name_is(name, "expect", 6) || req->version_minor == 0 || value_len == 0) {
            break;
        }
        if (value_len == 12
            && http_slice_eq_nocase((http_slice_t){value, value_len}, "100-continue")) {
            req->flags |= HTTP_REQ_EXPECT_CONTINUE;
        } else {
            f->expect_bad = 1;
        }
        break;
    case 10:
        if (name_is(name, "connection", 10)) {
            parse_connection(req, value, value_len);
        }
        break;
    case 14:
        if (name_is(name, "content-length", 14)) {
            return parse_content_length(req, f, value, value_len);
        }
        break;
    case 17:
        if (name_is(name, "transfer-encoding", 17)) {
            return parse_transfer_encoding(req, f, value, value_len);
        }
        break;
    default: break;
    }
    return PARSE_OK;
}

/*
 * Content-Length = 1*DIGIT, one field line only (even a repeated identical
 * value is refused: RFC 9112 6.3 lets a server reject it, and it is a
 * request smuggling vector), at most 18 digits, never with
 * Transfer-Encoding. 0 leaves body_kind HTTP_BODY_NONE.
 */
static int parse_content_length(http_request_t *req, fields_t *f, const char *p, size_t len)
{
    uint64_t v = 0;
    size_t i;

    if (f->length_seen) {
        return fail(req, 400, "more than one Content-Length field");
    }
    if (f->te_seen) {
        return fail(req, 400, "both Content-Length and Transfer-Encoding");
    }
    if (len == 0 || len > CONTENT_LENGTH_DIGITS_MAX) {
        return fail(req, 400, "invalid Content-Length");
    }
    for (i = 0; i < len; i++) {
        if (!IS(p[i], C_DIGIT)) {
            return fail(req, 400, "invalid Content-Length");
        }
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    f->length_seen = 1;
    req->content_length = v;
    req->body_kind = v != 0 ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
    return PARSE_OK;
}

/*
 * One Transfer-Encoding field line: its elements extend the list of codings
 * of the earlier lines (RFC 9112 6.1). Each element is
 * token [ OWS ";" parameters ]; empty elements are refused. "chunked" (any
 * case, no parameters) may appear once; a coding with parameters, even
 * "chunked;x", counts as another coding. Whether "chunked" ends up last is
 * judged at the end of the head.
 */
static int parse_transfer_encoding(http_request_t *req, fields_t *f, const char *p, size_t len)
{
    const char *end = p + len;
    const char *tok, *t;

    if (req->version_minor == 0) {
        return fail(req, 400, "Transfer-Encoding in an HTTP/1.0 request");
    }
    if (f->length_seen) {
        return fail(req, 400, "both Content-Length and Transfer-Encoding");
    }
    f->te_seen = 1;

    for (;;) {
        while (p < end && IS_OWS(*p)) {
            p++;
        }
        tok = p;
        while (p < end && IS(*p, C_TCHAR)) {
            p++;
        }
        if (p == tok) {
            return fail(req, 400, "empty or invalid transfer-coding");
        }
        t = p;
        while (p < end && IS_OWS(*p)) {
            p++;
        }
        if (p < end && *p == ';') {
            /* Parameters: the coding is not plain "chunked". */
            while (p < end && *p != ',') {
                p++;
            }
            f->te_other = 1;
            f->te_last_chunked = 0;
        } else if (p < end && *p != ',') {
            return fail(req, 400, "invalid transfer-coding");
        } else if (t - tok == 7 && http_slice_eq_nocase((http_slice_t){tok, 7}, "chunked")) {
            if (f->te_chunked) {
                return fail(req, 400, "chunked applied more than once");
            }
            f->te_chunked = 1;
            f->te_last_chunked = 1;
        } else {
            f->te_other = 1;
            f->te_last_chunked = 0;
        }
        if (p == end) {
            return PARSE_OK;
        }
        p++; /* ',' */
    }
}

/* Connection options (RFC 9110 7.6.1): "close" and "keep-alive" matter, the rest is ignored. */
static void parse_connection(http_request_t *req, const char *p, size_t len)
{
    const char *end = p + len;
    const char *tok, *t;

    while (p < end) {
        while (p < end && (IS_OWS(*p) || *p == ',')) {
            p++;
        }
        tok = p;
        while (p < end && *p != ',') {
            p++;
        }
        t = p;
        while (t > tok && IS_OWS(t[-1])) {
            t--;
        }
        if (t - tok == 5 && http_slice_eq_nocase((http_slice_t){tok, 5}, "close")) {
            req->flags |= HTTP_REQ_CONN_CLOSE;
        } else if (t - tok == 10 && http_slice_eq_nocase((http_slice_t){tok, 10}, "keep-alive")) {
            req->flags |= HTTP_REQ_CONN_KEEPALIVE;
        }
    }
}

/*
 * Rules that need the whole head, in order: Host present in HTTP/1.1 (400),
 * Transfer-Encoding ending in chunked (400) with no other coding (501),
 * Expect (417). Sets body_kind for chunked and req->host unless the target
 * gave it. Returns PARSE_OK or HTTP_PARSE_BAD.
 */
static int finish_head(http_request_t *req, fields_t *f)
{
    if (req->version_minor == 1 && !f->host_seen) {
        return fail(req, 400, "missing Host field");
    }
    if (f->te_seen) {
        if (!f->te_last_chunked) {
            return fail(req, 400, "Transfer-Encoding does not end in chunked");
        }
        if (f->te_other) {
            return fail(req, 501, "transfer-coding not implemented");
        }
        req->body_kind = HTTP_BODY_CHUNKED;
    }
    if (f->expect_bad) {
        return fail(req, 417, "unsupported Expect");
    }
    if (req->target_form != HTTP_TARGET_ABSOLUTE) {
        req->host = f->host_seen ? f->host : (http_slice_t){NULL, 0};
    }
    return PARSE_OK;
}

/* Case-insensitive (ASCII) lookup; name is NUL-terminated. */
const http_header_t *http_find_header(const http_request_t *req, const char *name)
{
    size_t len = strlen(name);
    size_t i;

    for (i = 0; i < req->nheaders; i++) {
        const http_header_t *h = &req->headers[i];

        if (h->name.len == len && http_slice_eq_nocase(h->name, name)) {
            return h;
        }
    }
    return NULL;
}

/* Case-sensitive (RFC 9110 9.1): "get" is not GET. */
http_method_t http_method_from(const char *p, size_t len)
{
    switch (len) {
    case 3:
        if (memcmp(p, "GET", 3) == 0) {
            return HTTP_METHOD_GET;
        }
        if (memcmp(p, "PUT", 3) == 0) {
            return HTTP_METHOD_PUT;
        }
        break;
    case 4:
        if (memcmp(p, "HEAD", 4) == 0) {
            return HTTP_METHOD_HEAD;
        }
        if (memcmp(p, "POST", 4) == 0) {
            return HTTP_METHOD_POST;
        }
        break;
    case 5:
        if (memcmp(p, "PATCH", 5) == 0) {
            return HTTP_METHOD_PATCH;
        }
        if (memcmp(p, "TRACE", 5) == 0) {
            return HTTP_METHOD_TRACE;
        }
        break;
    case 6:
        if (memcmp(p, "DELETE", 6) == 0) {
            return HTTP_METHOD_DELETE;
        }
        break;
    case 7:
        if (memcmp(p, "CONNECT", 7) == 0) {
            return HTTP_METHOD_CONNECT;
        }
        if (memcmp(p, "OPTIONS", 7) == 0) {
            return HTTP_METHOD_OPTIONS;
        }
        break;
    default: break;
    }
    return HTTP_METHOD_OTHER;
}

const char *http_method_name(http_method_t m)
{
    if ((unsigned)m >= HTTP_METHOD_COUNT) {
        return NULL;
    }
    return method_names[m];
}

/* Compares a.len bytes; s must have exactly that length to match. */
int http_slice_eq_nocase(http_slice_t a, const char *s)
{
    size_t i;

    for (i = 0; i < a.len; i++) {
        if (s[i] == '\0' || lower((unsigned char)a.p[i]) != lower((unsigned char)s[i])) {
            return 0;
        }
    }
    return s[i] == '\0';
}

/*
 * Chunked decoder (RFC 9112 7.1), a byte-wise state machine except for chunk
 * data, which is moved in one memmove per call and chunk. Interpretations:
 * BWS (SP/HTAB) is allowed between the size and a ';' (the RFC grammar has
 * it) but not before CRLF; chunk-ext bytes may be VCHAR, SP or HTAB (no
 * obs-text); st->line_len counts the bytes of a size line before its CRLF;
 * st->trailer_len counts the trailer field lines with their CRLFs, but not
 * the final empty line. A size above 2^60 is 400 unless max_body is smaller,
 * in which case 413 comes first (as soon as the size digits pass
 * max_body - total, before the line ends).
 * After completion further calls return 0 with nothing consumed; after
 * HTTP_PARSE_BAD further calls return HTTP_PARSE_BAD again.
 */
ssize_t http_chunked_parse(http_chunked_t *st, char *buf, size_t len, uint64_t max_body,
                           size_t max_line, size_t *data_len)
{
    size_t r = 0, w = 0;

    if (st->state == CH_DONE) {
        *data_len = 0;
        return 0;
    }
    if (st->state == CH_BAD) {
        *data_len = 0;
        return HTTP_PARSE_BAD;
    }

    while (r < len) {
        unsigned char c = (unsigned char)buf[r];

        switch (st->state) {
        case CH_DATA: {
            size_t n = len - r;

            if (n > st->chunk_left) {
                n = (size_t)st->chunk_left;
            }
            if (w != r) {
                memmove(buf + w, buf + r, n);
            }
            w += n;
            r += n;
            st->chunk_left -= n;
            st->total += n;
            if (st->chunk_left == 0) {
                st->state = CH_DATA_CR;
            }
            continue;
        }

        case CH_SIZE:
        case CH_SIZE_MORE:
            if (IS(c, C_HEX)) {
                unsigned d = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

                if (st->chunk_left > (CHUNK_SIZE_MAX - d) >> 4) {
                    return chunked_fail(st, max_body - st->total <= CHUNK_SIZE_MAX ? 413 : 400,
                                        "chunk size too large", w, data_len);
                }
                st->chunk_left = st->chunk_left << 4 | d;
                if (st->chunk_left > max_body - st->total) {
                    return chunked_fail(st, 413, "chunked body larger than max_body", w, data_len);
                }
                st->state = CH_SIZE_MORE;
            } else if (st->state == CH_SIZE) {
                return chunked_fail(st, 400, "chunk size is not a hex number", w, data_len);
            } else if (c == ';') {
                st->state = CH_EXT;
            } else if (c == '\r') {
                st->state = CH_SIZE_LF;
            } else if (IS_OWS(c)) {
                st->state = CH_SIZE_BWS;
            } else {
                return chunked_fail(st, 400,
                                    c == '\n' ? "bare LF in chunk size line"
                                              : "invalid byte after chunk size",
                                    w, data_len);
            }
            break;

        case CH_SIZE_BWS:
            if (c == ';') {
                st->state = CH_EXT;
            } else if (!IS_OWS(c)) {
                return chunked_fail(st, 400, "whitespace after chunk size", w, data_len);
            }
            break;

        case CH_EXT:
            if (c == '\r') {
                st->state = CH_SIZE_LF;
            } else if (!IS(c, C_VALUE) || c >= 0x80) {
                return chunked_fail(st, 400,
                                    c == '\n' ? "bare LF in chunk size line"
                                              : "invalid byte in chunk extension",
                                    w, data_len);
            }
            break;

        case CH_SIZE_LF:
            if (c != '\n') {
                return chunked_fail(st, 400, "CR not followed by LF", w, data_len);
            }
            st->line_len = 0;
            st->state = st->chunk_left != 0 ? CH_DATA : CH_TRAILER;
            r++;
            continue;

        case CH_DATA_CR:
            if (c != '\r') {
                return chunked_fail(st, 400, "chunk data not followed by CRLF", w, data_len);
            }
            st->state = CH_DATA_LF;
            r++;
            continue;

        case CH_DATA_LF:
            if (c != '\n') {
                return chunked_fail(st, 400, "chunk data not followed by CRLF", w, data_len);
            }
            st->state = CH_SIZE;
            r++;
            continue;

        case CH_TRAILER:
            if (c == '\r') {
                st->state = CH_END_LF;
                r++;
                continue;
            }
            if (!IS(c, C_TCHAR)) {
                return chunked_fail(st, 400,
                                    c == '\n'   ? "bare LF in trailer section"
                                    : IS_OWS(c) ? "obs-fold in trailer section"
                                                : "invalid trailer field name",
                                    w, data_len);
            }
            st->state = CH_TRAILER_NAME;
            break;

        case CH_TRAILER_NAME:
            if (c == ':') {
                st->state = CH_TRAILER_VALUE;
            } else if (!IS(c, C_TCHAR)) {
                return chunked_fail(st, 400, "invalid trailer field name", w, data_len);
            }
            break;

        case CH_TRAILER_VALUE:
            if (c == '\r') {
                st->state = CH_TRAILER_LF;
            } else if (!IS(c, C_VALUE)) {
                return chunked_fail(st, 400,
                                    c == '\n' ? "bare LF in trailer section"
                                              : "invalid trailer field value",
                                    w, data_len);
            }
            break;

        case CH_TRAILER_LF:
            if (c != '\n') {
                return chunked_fail(st, 400, "CR not followed by LF", w, data_len);
            }
            st->state = CH_TRAILER;
            break;

        case CH_END_LF:
            if (c != '\n') {
                return chunked_fail(st, 400, "CR not followed by LF", w, data_len);
            }
            st->state = CH_DONE;
            *data_len = w;
            return (ssize_t)(r + 1);

        default: return chunked_fail(st, 400, "corrupt chunked decoder state", w, data_len);
        }

        /* Size-line or trailer byte: count it against max_line. */
        r++;
        if (st->state >= CH_TRAILER) {
            if (++st->trailer_len > max_line) {
                return chunked_fail(st, 400, "trailer section too long", w, data_len);
            }
        } else if (st->state != CH_SIZE_LF && ++st->line_len > max_line) {
            return chunked_fail(st, 400, "chunk size line too long", w, data_len);
        }
    }

    *data_len = w;
    return HTTP_PARSE_NEED_MORE;
}

/* Make the decoder fail for good; returns HTTP_PARSE_BAD. */
static ssize_t chunked_fail(http_chunked_t *st, int status, const char *reason, size_t w,
                            size_t *data_len)
{
    st->state = CH_BAD;
    st->status = status;
    st->reason = reason;
    *data_len = w;
    return HTTP_PARSE_BAD;
}
