"""Headless Chromium driven through the Chrome DevTools Protocol (CDP).

Prints the report to the PDF handout (`print_pdf`) and lets the browser test load the
page, run JavaScript, collect console errors and failed loads, and take screenshots
(`Chromium`). Chromium is a system program (Debian package ``chromium``); the protocol
is spoken over a WebSocket with ``websocket-client``, so nothing is downloaded.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Self

from ..stats._validation import InputError

__all__ = ["BrowserUnavailable", "Chromium", "find_chromium", "make_deterministic", "print_pdf"]

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
A4_INCHES = (8.27, 11.69)  # 210 x 297 mm


class BrowserUnavailable(InputError):
    """No Chromium (or no websocket-client) on this machine; says how to get one."""


def find_chromium() -> str | None:
    """Path of a Chromium-family browser: ``$CHROMIUM`` if set, else the first on PATH."""
    env = os.environ.get("CHROMIUM")
    if env:
        return shutil.which(env) or (env if Path(env).is_file() else None)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Chromium:
    """One headless browser with one page, used as a context manager.

    ``send(method, **params)`` runs a CDP command on the page and returns its result;
    every event received meanwhile is kept in ``events`` (a list of dicts with
    ``method`` and ``params``), so a caller can look for console errors afterwards.
    """

    def __init__(self, binary: str | None = None, *, timeout: float = 60.0):
        try:
            import websocket  # noqa: F401  (imported here: only the PDF and the browser test need it)
        except ImportError:
            raise BrowserUnavailable("the Python package websocket-client is not installed "
                                     "(it is in requirements.lock: run make .venv/.installed)") from None
        self.binary = binary or find_chromium()
        if self.binary is None:
            raise BrowserUnavailable("no Chromium found on PATH: install it (Debian: apt-get install "
                                     "chromium) or set CHROMIUM=/path/to/chrome")
        self.timeout = timeout
        self.events: list[dict] = []
        self._next_id = 0

    def __enter__(self) -> Self:
        import websocket

        self._profile = tempfile.mkdtemp(prefix="analysis-chromium-")
        args = [self.binary, "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--hide-scrollbars", "--mute-audio", "--font-render-hinting=none",
                "--remote-debugging-port=0", f"--user-data-dir={self._profile}", "about:blank"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = self._browser_url()
            self._ws = websocket.create_connection(url, timeout=self.timeout, suppress_origin=True)
            target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.send(f"{domain}.enable")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        ws = getattr(self, "_ws", None)
        if ws is not None:
            ws.close()
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        shutil.rmtree(self._profile, ignore_errors=True)

    def _browser_url(self) -> str:
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrowserUnavailable(f"{self.binary} exited at start-up (status {self._proc.returncode})")
            if port_file.is_file():
                lines = port_file.read_text().split()
                if len(lines) >= 2:
                    return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            time.sleep(0.05)
        raise BrowserUnavailable(f"{self.binary} did not open its DevTools port within {self.timeout:g} s")

    def _call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self._ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self._ws.recv())
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def send(self, method: str, **params) -> dict:
        """Run one CDP command on the page; returns its result."""
        return self._call(method, params, self._session)

    def wait_for(self, method: str, *, since: int = 0) -> dict:
        """Block until an event `method` arrives (or has arrived after index `since`)."""
        deadline = time.monotonic() + self.timeout
        while True:
            for ev in self.events[since:]:
                if ev["method"] == method:
                    return ev
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} event within {self.timeout:g} s")
            self.events.append(json.loads(self._ws.recv()))

    def open(self, path: str | os.PathLike, *, width: int = 1366, height: int = 900,
             mobile: bool = False) -> None:
        """Load a local file at a given viewport width and wait until it has loaded."""
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=mobile)
        mark = len(self.events)
        self.send("Page.navigate", url=Path(path).resolve().as_uri())
        self.wait_for("Page.loadEventFired", since=mark)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited)."""
        res = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"JavaScript error: {res['exceptionDetails'].get('text')}: {expression[:80]}")
        return res["result"].get("value")

    def screenshot(self, *, full_page: bool = True) -> bytes:
        """PNG of the viewport, or of the whole page at the current width."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        return base64.b64decode(self.send("Page.captureScreenshot", **params)["data"])

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads seen so far, one line each."""
        out = []
        for ev in self.events:
            m, p = ev["method"], ev.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
            elif m == "Runtime.exceptionThrown":
                out.append("exception: " + p["exceptionDetails"].get("text", ""))
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
            elif m == "Network.loadingFailed" and not p.get("canceled"):
                out.append(f"failed load: {p.get('errorText')} ({p.get('type')})")
        return out


def footer_template(text: str) -> str:
    """Chromium's footer markup: `text` and "page N of M" in small grey type."""
    from html import escape

    return ("<div style=\"font-family: Helvetica, Arial, sans-serif; font-size: 7.5pt; color: #5b6670; "
            "width: 100%; margin: 0 12mm; display: flex; justify-content: space-between;\">"
            f"<span>{escape(text)}</span><span>page <span class=\"pageNumber\"></span> of "
            "<span class=\"totalPages\"></span></span></div>")


def print_pdf(html: str | os.PathLike, *, footer: str, binary: str | None = None) -> bytes:
    """Print an HTML file to A4 PDF bytes with its print stylesheet and a running footer.

    Margins are 16 mm at the sides, 15 mm at the top and 18 mm at the bottom (room for
    the footer). The dates Chromium stamps into the file are fixed by `make_deterministic`.
    """
    mm = 1 / 25.4
    with Chromium(binary) as browser:
        browser.open(html)
        browser.evaluate("document.fonts.ready.then(() => true)")
        res = browser.send("Page.printToPDF", paperWidth=A4_INCHES[0], paperHeight=A4_INCHES[1],
                           marginTop=15 * mm, marginBottom=18 * mm, marginLeft=16 * mm, marginRight=16 * mm,
                           printBackground=True, displayHeaderFooter=True, headerTemplate="<span></span>",
                           footerTemplate=footer_template(footer), preferCSSPageSize=False,
                           generateTaggedPDF=True, generateDocumentOutline=True)
    return base64.b64decode(res["data"])


_PDF_NODE_ID = re.compile(rb"\(node(\d+)\)")
_PDF_DATE = re.compile(rb"/(CreationDate|ModDate) \(D:(\d{14})([^)]*)\)")


def make_deterministic(pdf: bytes, *, epoch: int) -> bytes:
    """`pdf` with the creation and modification dates Chromium stamps set to `epoch`.

    Chromium (Skia) writes both dates into the document information dictionary; the
    tagged-PDF structure tree also names elements by DOM node ids (``/ID (node00000026)``,
    referred to by table cells' ``/Headers``),
    which differ between runs. The dates are set to `epoch` and the node ids renumbered in
    order of appearance; both keep their length, so the cross-reference offsets stay valid
    and two prints of the same HTML are byte-identical.
    """
    stamp = datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC).strftime("%Y%m%d%H%M%S").encode()

    def fix(m: re.Match) -> bytes:
        tail = b"+00'00'" if len(m.group(3)) == 7 else m.group(3)
        return b"/" + m.group(1) + b" (D:" + stamp + tail + b")"

    out = _PDF_DATE.sub(fix, pdf)
    seen: dict[bytes, bytes] = {}

    def renumber(m: re.Match) -> bytes:
        new = seen.setdefault(m.group(1), str(len(seen)).zfill(len(m.group(1))).encode())
        return b"(node" + new + b")"  # in /ID and in the /Headers that point at it

    out = _PDF_NODE_ID.sub(renumber, out)
    if len(out) != len(pdf):  # pragma: no cover - a Chromium that writes another date form
        raise RuntimeError("could not fix the PDF dates without moving its cross-reference offsets")
    return out
