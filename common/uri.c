/* uri: percent-decoding and dot-segment removal for request paths. */
#include "uri.h"

#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (char)(c | 0x20);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/*
 * Two passes over out: decode, then remove dot segments in place (the write
 * position never passes the read position). Decoding comes first, so an
 * encoded dot or slash counts as the plain character and "%2e%2e" cannot
 * climb above the root either.
 */
int uri_normalize_path(const char *in, size_t len, char *out, size_t outsz)
{
    size_t i, n = 0, r, w, s;
    int hi, lo;

    if (len == 0 || in[0] != '/') {
        return -1;
    }
    for (i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= len) {
                return -1;
            }
            hi = hexval(in[i + 1]);
            lo = hexval(in[i + 2]);
            if (hi < 0 || lo < 0 || (hi | lo) == 0) {
                return -1; /* bad escape or %00 */
            }
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (n + 1 >= outsz) {
            return -1;
        }
        out[n++] = c;
    }

    w = 1; /* out[0] is the leading '/' */
    r = 0;
    while (r < n) {
        while (r < n && out[r] == '/') {
            r++;
        }
        if (r == n) {
            break;
        }
        s = r;
        while (r < n && out[r] != '/') {
            r++;
        }
        if (r - s == 1 && out[s] == '.') {
            continue;
        }
        if (r - s == 2 && out[s] == '.' && out[s + 1] == '.') {
            if (w == 1) {
                return -1; /* above the root */
            }
            w--; /* the '/' after the previous segment */
            while (out[w - 1] != '/') {
                w--;
            }
            continue;
        }
        memmove(out + w, out + s, r - s);
        w += r - s;
        if (r < n) {
            out[w++] = '/';
        }
    }
    out[w] = '\0';
    return (int)w;
}
