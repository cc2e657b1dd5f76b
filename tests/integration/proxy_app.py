"""A tiny WSGI app for the reverse proxy tests (run by Debian's gunicorn).

/echo       the request as the app saw it, as JSON (method, path, query, headers, body)
/big?n=N    N bytes with a Content-Length
/stream?n=N&chunk=C&delay=S   N bytes in C-byte pieces, no length (gunicorn sends it chunked)
/slow?s=S   answers after S seconds
/pid        the serving process id (which server and worker answered)
/hash       the request body's length and SHA-256, and its framing, as JSON (read to its end,
            Content-Length or chunked)
"""
import hashlib
import json
import os
import time
from urllib.parse import parse_qs

PATTERN = bytes(range(251))  # /big's bytes: i % 251


def app(environ, start_response):
    path = "/" + environ.get("PATH_INFO", "").rsplit("/", 1)[-1]  # the last segment routes
    q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if path == "/echo":
        n = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(n) if n else b""
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items()
                   if k.startswith("HTTP_")}
        out = json.dumps({"method": environ["REQUEST_METHOD"], "path": path,
                          "raw_uri": environ.get("RAW_URI", ""),
                          "query": environ.get("QUERY_STRING", ""), "headers": headers,
                          "content_length": environ.get("CONTENT_LENGTH"),
                          "body": body.decode("latin-1")}).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(out))),
                                  ("X-App", "proxy_app"), ("Keep-Alive", "timeout=2"),
                                  ("Connection", "X-Secret"), ("X-Secret", "hop")])
        return [out]
    if path == "/big":
        n = int(q.get("n", "1000000"))
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(n))])
        return [(PATTERN * (n // 251 + 1))[:n]]
    if path == "/stream":
        n, chunk = int(q.get("n", "100000")), int(q.get("chunk", "1000"))
        delay = float(q.get("delay", "0"))
        start_response("200 OK", [("Content-Type", "text/plain")])

        def gen():
            sent = 0
            while sent < n:
                k = min(chunk, n - sent)
                yield b"x" * k
                sent += k
                if delay:
                    time.sleep(delay)
        return gen()
    if path == "/cookies":  # a head of many fields: cookies and a long policy
        n = int(q.get("n", "40"))
        headers = [("Content-Type", "text/plain"), ("Content-Length", "3"),
                   ("Content-Security-Policy", "default-src 'self'; " + "img-src x; " * 200)]
        headers += [("Set-Cookie", "c%d=%s; Path=/; HttpOnly" % (i, "v" * 80)) for i in range(n)]
        start_response("200 OK", headers)
        return [b"ok\n"]
    if path == "/slow":
        time.sleep(float(q.get("s", "1")))
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [b"slow\n"]
    if path == "/hash":
        h, n, inp = hashlib.sha256(), 0, environ["wsgi.input"]
        while True:
            block = inp.read(65536)
            if not block:
                break
            h.update(block)
            n += len(block)
        out = json.dumps({"length": n, "sha256": h.hexdigest(),
                          "content_length": environ.get("CONTENT_LENGTH"),
                          "transfer_encoding": environ.get("HTTP_TRANSFER_ENCODING")}).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(out)))])
        return [out]
    if path == "/pid":
        out = ("%d %s\n" % (os.getpid(), environ.get("SERVER_PORT", ""))).encode()
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(out)))])
        return [out]
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
    return [b"not found\n"]
