/* escape: client bytes made safe for a log line or a JSON string. */
#include "escape.h"

#include <string.h>

static int plain(unsigned char ch)
{
    return ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\';
}

char *escape_bytes(char *p, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (plain(ch)) {
            *p++ = (char)ch;
        } else {
            *p++ = '\\';
            *p++ = 'x';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        }
    }
    return p;
}

char *escape_json(char *p, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (plain(ch)) {
            *p++ = (char)ch;
        } else {
            memcpy(p, "\\u00", 4);
            p[4] = hex[ch >> 4];
            p[5] = hex[ch & 15];
            p += 6;
        }
    }
    return p;
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
