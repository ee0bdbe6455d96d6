"""Open a report page in headless Chromium and check it as a reader's browser shows it.

:func:`check_page` drives Chromium through the Chrome DevTools Protocol over a pipe
(``--remote-debugging-pipe``: no port, no extra Python package, no browser download): it
loads the page, waits for its load event, then reads ``<html lang>``, every image's
``naturalWidth`` (0 when it did not load) and alt text, the console errors and uncaught
exceptions (a missing file or a failed script load is one), and takes a screenshot of the
whole page. The browser test of the report (``tests/test_browser.py``) asserts on it.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.errors import ReportError
from analysis.reporting.pdf import chromium_command

__all__ = ["PageCheck", "check_page"]

_READ_IMAGES = """JSON.stringify({
  lang: document.documentElement.getAttribute('lang'),
  title: document.title,
  images: Array.from(document.images).map(i => ({src: (i.getAttribute('src') || '').slice(0, 60),
      complete: i.complete, naturalWidth: i.naturalWidth, alt: i.getAttribute('alt')})),
  height: Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)
})"""


@dataclass
class PageCheck:
    """What the browser saw on one page."""

    path: Path
    lang: str | None = None
    title: str = ""
    images: list[dict[str, Any]] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def broken_images(self) -> list[str]:
        """``src`` (first 60 characters) of the images that did not load."""
        return [i["src"] for i in self.images if not i["complete"] or not i["naturalWidth"]]


class _Pipe:
    """A minimal CDP client over Chromium's remote-debugging pipe (fd 3 in, fd 4 out)."""

    def __init__(self, cmd: list[str]):
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # move the child's ends out of the way of 3 and 4 before placing them there
        hi_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
        hi_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
        os.close(to_chrome_r)
        os.close(from_chrome_w)

        def place() -> None:  # runs in the child, before exec
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, pass_fds=(3, 4), preexec_fn=place)
        os.close(hi_r)
        os.close(hi_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_chrome], [], [], max(remaining, 0))
            if not ready:
                raise ReportError("headless Chromium did not answer in time.")
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise ReportError("headless Chromium closed its DevTools pipe (it may have crashed).")
            self._buf += chunk
        raw, _, self._buf = self._buf.partition(b"\0")
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise ReportError(f"Chromium: {method} failed: {reply['error'].get('message')}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            ev = self._read_message(deadline)
            if ev.get("method") == method:
                return ev
            self.events.append(ev)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except ReportError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


def _console_errors(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for ev in events:
        m, p = ev.get("method"), ev.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            out.append(f"{e.get('text', '')} {e.get('url', '')}".strip())
    return out


def check_page(path: str | Path, screenshot: str | Path | None = None, *, width: int = 1280,
               chromium: str | None = None, timeout: float = 60.0) -> PageCheck:
    """Load ``path`` in headless Chromium and report what a reader would see.

    Parameters
    ----------
    path : an HTML file (opened as ``file://``, so relative links are checked as they are).
    screenshot : PNG written with the whole page (at most 12,000 px high), if given.
    width : viewport width in CSS pixels.

    Raises
    ------
    ReportError
        If Chromium is missing or does not load the page in ``timeout`` seconds.
    """
    path = Path(path).resolve()
    result = PageCheck(path=path)
    with tempfile.TemporaryDirectory(prefix="churn-radar-chromium-") as profile:
        pipe = _Pipe(chromium_command("--remote-debugging-pipe", f"--window-size={width},900",
                                      profile=profile, chromium=chromium))
        try:
            target = pipe.send("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
            session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                pipe.send(f"{domain}.enable", session=session)
            pipe.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=session)
            pipe.send("Page.navigate", {"url": path.as_uri()}, session=session)
            pipe.wait_for("Page.loadEventFired", timeout=timeout)
            info = json.loads(pipe.send("Runtime.evaluate", {"expression": _READ_IMAGES, "returnByValue": True},
                                        session=session)["result"]["value"])
            result.lang, result.title, result.images = info["lang"], info["title"], info["images"]
            if screenshot is not None:
                height = int(min(max(info["height"], 900), 12000))
                pipe.send("Emulation.setDeviceMetricsOverride",
                          {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                          session=session)
                shot = pipe.send("Page.captureScreenshot", {"format": "png"}, session=session, timeout=timeout)
                result.screenshot = Path(screenshot)
                result.screenshot.parent.mkdir(parents=True, exist_ok=True)
                result.screenshot.write_bytes(base64.b64decode(shot["data"]))
            # let late console messages (failed image or script loads) arrive
            pipe.send("Runtime.evaluate", {"expression": "1"}, session=session)
            result.console_errors = _console_errors(pipe.events)
        finally:
            pipe.close()
    return result
