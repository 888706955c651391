#!/usr/bin/env python3
"""First paint of a page in headless Chromium, read from the browser's own timings.

Starts Debian's chromium headless with --remote-debugging-port, opens a tab, navigates it
RUNS times to URL over the DevTools protocol (a minimal WebSocket client: standard library
only), and after each load reads `performance.getEntriesByType('paint')` (first-paint,
first-contentful-paint) and the navigation timing (time to first byte, response end, load
event), in milliseconds from the navigation's start. Prints one JSON object: every run and
the medians.

Usage: dashboard-paint.py URL [RUNS=5]
"""

import base64
import json
import os
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.path.exists(p)), None)


class WebSocket:
    """Just enough of RFC 6455 for the DevTools protocol: text frames, masked from us."""

    def __init__(self, url):
        m = re.match(r"ws://([^/:]+):(\d+)(/.*)", url)
        if not m:
            raise ValueError(f"not a ws:// URL: {url}")
        host, port, path = m.group(1), int(m.group(2)), m.group(3)
        self.sock = socket.create_connection((host, port), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("websocket handshake: connection closed")
            head += chunk
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            raise ConnectionError(f"websocket handshake failed: {status!r}")
        self.buf = head.split(b"\r\n\r\n", 1)[1]

    def send(self, text):
        data = text.encode()
        header = bytearray([0x81])
        n = len(data)
        if n < 126:
            header.append(0x80 | n)
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(bytes(header) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("websocket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise ConnectionError("websocket closed by the browser")
            if opcode in (0x9, 0xA):  # ping / pong: not used by DevTools
                continue
            message += payload
            if b0 & 0x80:
                return message.decode()


class Tab:
    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, method, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for i, e in enumerate(self.events):
                if e.get("method") == method:
                    del self.events[i]
                    return e
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(method)


MEASURE = """JSON.stringify((() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const paint = Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]));
  return {
    first_paint_ms: paint['first-paint'] ?? null,
    first_contentful_paint_ms: paint['first-contentful-paint'] ?? null,
    ttfb_ms: nav.responseStart, response_end_ms: nav.responseEnd,
    dom_content_loaded_ms: nav.domContentLoadedEventEnd, load_ms: nav.loadEventEnd,
    html_bytes: nav.transferSize || nav.encodedBodySize,
    elements: document.getElementsByTagName('*').length,
    svgs: document.getElementsByTagName('svg').length,
  };
})())"""


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    url = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    if CHROMIUM is None:
        sys.exit("chromium is not installed (/usr/bin/chromium)")
    profile = tempfile.mkdtemp(prefix="iops-paint-")
    browser = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--remote-debugging-port=0", "--window-size=1280,900",
         f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.time() + 30
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if time.time() > deadline or browser.poll() is not None:
                sys.exit("chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        port = int(open(port_file).read().split()[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t.get("type") == "page")
        tab = Tab(WebSocket(page["webSocketDebuggerUrl"]))
        tab.call("Page.enable")
        tab.call("Network.enable")
        tab.call("Network.setCacheDisabled", cacheDisabled=True)
        results = []
        for _ in range(runs):
            tab.call("Page.navigate", url="about:blank")
            tab.wait_event("Page.loadEventFired")
            started = time.perf_counter()
            tab.call("Page.navigate", url=url)
            tab.wait_event("Page.loadEventFired")
            wall = (time.perf_counter() - started) * 1000
            # the paint entries are recorded when the frame is presented, which may come
            # after the load event: poll for them
            deadline = time.time() + 10
            while True:
                value = tab.call("Runtime.evaluate", expression=MEASURE, returnByValue=True)
                r = json.loads(value["result"]["value"])
                if r["first_contentful_paint_ms"] is not None or time.time() > deadline:
                    break
                time.sleep(0.02)
            r["wall_to_load_ms"] = wall
            results.append(r)
        keys = ["first_paint_ms", "first_contentful_paint_ms", "ttfb_ms", "response_end_ms", "load_ms", "wall_to_load_ms"]
        medians = {k: statistics.median(r[k] for r in results if r[k] is not None) for k in keys
                   if any(r[k] is not None for r in results)}
        print(json.dumps({"url": url, "runs": runs, "median": medians, "each": results}, indent=2))
    finally:
        browser.terminate()
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
