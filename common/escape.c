/* escape: client bytes made safe for a log line or a JSON string. */
#include "escape.h"

#include <string.h>

static int plain(unsigned char ch)
{
    return ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\';
}

/* s[0..len) to p, each byte that is not plain as prefix (n bytes) and two hex digits. */
static char *escape_hex(char *p, const char *s, size_t len, const char *prefix, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (plain(ch)) {
            *p++ = (char)ch;
        } else {
            memcpy(p, prefix, n);
            p[n] = hex[ch >> 4];
            p[n + 1] = hex[ch & 15];
            p += n + 2;
        }
    }
    return p;
}

char *escape_bytes(char *p, const char *s, size_t len)
{
    return escape_hex(p, s, len, "\\x", 2);
}

char *escape_json(char *p, const char *s, size_t len)
{
    return escape_hex(p, s, len, "\\u00", 4);
}

char *escape_str(char *out, size_t outsz, const char *s, size_t len)
{
    char *p = out, *end;
    size_t i;

    if (outsz == 0) {
        return out;
    }
    end = out + outsz - 1;
    for (i = 0; i < len; i++) {
        size_t need = plain((unsigned char)s[i]) ? 1 : 4;
        if ((size_t)(end - p) < need) {
            break;
        }
        p = escape_bytes(p, s + i, 1);
    }
    *p = '\0';
    return out;
}
