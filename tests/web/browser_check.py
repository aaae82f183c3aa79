#!/usr/bin/env python3
"""Loads the stemdyn dashboard in headless Chromium through chromedriver's
W3C WebDriver HTTP API (plain urllib: no selenium needed), waits until the
page has rendered live data, checks what it drew, and saves a screenshot.

    browser_check.py URL SCREENSHOT.png --envs 10 [--frames N] [--timeout S]

Checks: the heatmap has envs×envs cells; the chord diagram has envs group
arcs (and at least one ribbon); the populations, τ, progress, LENS, KDE,
frame (image + columns) and 3D model panels are drawn; the health bar shows
the frames counters and the connection is live.  Exit 0 when all pass, 1
otherwise; 77 when chromium or chromedriver is missing."""
import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

PROBE = r"""
const q = s => document.querySelectorAll(s).length;
const txt = id => (document.getElementById(id) || {}).textContent || "";
const cv = document.getElementById("model3d");
let painted = 0;
if (cv) { const d = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
  for (let i = 3; i < d.length; i += 4 * 97) if (d[i] > 0) painted++; }
return { cells: q("#heatmap rect.cell"), coloured: q("#heatmap rect.cell:not([fill='#ffffff'])"),
  arcs: q("#chord path.group-arc"), ribbons: q("#chord path.ribbon"),
  pops: q("#populations rect.pop-bar"), tau: q("#tau rect"), runs: q("#progress tr") - 1,
  lens: q("#lens path.lens-line"), kde: q("#kde path.kde"), frame_img: q("#frame image.frame-image"),
  columns: q("#frame circle.column"), model_px: painted,
  conn: txt("h-conn"), frames: txt("h-frames"), dropped: txt("h-dropped"), gaps: txt("h-gaps"),
  latency: txt("h-latency"), errors: window.__errors || [] };
"""


INTERACT = r"""
const done = arguments[arguments.length - 1];
const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 30)));
const fills = () => Array.from(document.querySelectorAll("#heatmap rect.cell")).map(c => c.getAttribute("fill")).join();
const tauLabel = () => { const t = document.querySelectorAll("#tau text"); return t.length ? t[t.length - 1].textContent : ""; };
(async () => {
  const out = {};
  const merged = fills();
  const scope = document.getElementById("scope");
  scope.value = "mean"; scope.dispatchEvent(new Event("change"));
  await frame();
  out.mean_cells = document.querySelectorAll("#heatmap rect.cell").length;
  out.mean_coloured = document.querySelectorAll("#heatmap rect.cell:not([fill='#ffffff'])").length;
  out.mean_differs = fills() !== merged;
  scope.value = "merged"; scope.dispatchEvent(new Event("change"));
  out.tau_label0 = tauLabel();
  const sel = document.getElementById("tau-env");
  sel.value = String(sel.options.length - 3); sel.dispatchEvent(new Event("change"));
  await frame();
  out.tau_label = tauLabel();
  const cv = document.getElementById("model3d"), before = cv.toDataURL();
  const r = cv.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
  const ev = (t, dx) => cv.dispatchEvent(new PointerEvent(t, { clientX: x + dx, clientY: y, pointerId: 1, bubbles: true }));
  ev("pointerdown", 0); ev("pointermove", 60); ev("pointerup", 60);
  await frame();
  out.rotated = cv.toDataURL() !== before;
  done(out);
})();
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Driver:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        self.sid = None

    def call(self, method, path, body=None, timeout=60):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read().decode())["value"]

    def session(self, chromium, profile):
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1400,2200"]}}}}
        self.sid = self.call("POST", "/session", caps)["sessionId"]

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.sid}{path}", body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("screenshot")
    ap.add_argument("--envs", type=int, default=10)
    ap.add_argument("--frames", type=int, default=1, help="analysed frames to wait for")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--report", action="store_true", help="a static report (no live connection)")
    a = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    drv = shutil.which("chromedriver")
    if not chromium or not drv:
        print("SKIP: chromium/chromedriver not installed (apt-get install chromium chromium-driver)")
        return 77
    port = free_port()
    profile = tempfile.mkdtemp(prefix="stemdyn-chromium-")
    log = open(os.path.join(profile, "chromedriver.log"), "w")
    cd = subprocess.Popen([drv, f"--port={port}"], stdout=log, stderr=subprocess.STDOUT)
    ok = fail = 0
    d = Driver(port)
    try:
        for _ in range(100):
            try:
                d.call("GET", "/status", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        d.session(chromium, profile)
        d.s("POST", "/url", {"url": a.url})
        d.s("POST", "/execute/sync", {"script": "window.__errors = []; window.addEventListener('error', e => window.__errors.push(String(e.message)));", "args": []})
        end = time.monotonic() + a.timeout
        r = {}
        e2 = a.envs * a.envs

        def ready(r):
            return (r.get("cells") == e2 and r.get("arcs") == a.envs and r.get("columns", 0) > 0
                    and r.get("model_px", 0) > 0 and r.get("kde", 0) > 0
                    and f"analysed {a.frames}" in r.get("frames", "")
                    and (a.report or r.get("conn") == "live"))
        while time.monotonic() < end:
            r = d.s("POST", "/execute/sync", {"script": PROBE, "args": []})
            if ready(r):
                break
            time.sleep(0.5)
        time.sleep(0.5)  # let the last animation frame paint before the picture
        r = d.s("POST", "/execute/sync", {"script": PROBE, "args": []})
        # the whole page: grow the window to the document height
        h = d.s("POST", "/execute/sync", {"script": "return Math.ceil(document.querySelector('footer').getBoundingClientRect().bottom + window.scrollY);", "args": []})
        d.s("POST", "/window/rect", {"width": 1400, "height": min(6000, int(h) + 100)})
        time.sleep(0.3)
        png = base64.b64decode(d.s("GET", "/screenshot"))
        with open(a.screenshot, "wb") as f:
            f.write(png)
        print("page:", json.dumps(r))

        def check(cond, what):
            nonlocal ok, fail
            if cond:
                ok += 1
            else:
                fail += 1
                print("FAIL:", what)
        check(r["cells"] == e2, f"heatmap has {r['cells']} cells, want {e2}")
        check(r["coloured"] > 0, "heatmap: no observed transition coloured")
        check(r["arcs"] == a.envs, f"chord diagram has {r['arcs']} group arcs, want {a.envs}")
        check(r["ribbons"] > 0, "chord diagram: no exchange ribbon")
        check(r["pops"] >= a.envs * 2, f"populations: {r['pops']} bars (runs + merged per environment)")
        check(r["tau"] > 0, "τ panel empty")
        check(r["runs"] >= 1, "progress table has no run")
        check(r["lens"] == 3, f"LENS over time: {r['lens']} class lines, want 3")
        check(r["kde"] == 1, "LENS KDE missing")
        check(r["frame_img"] == 1, "latest frame image missing")
        check(r["columns"] > 0, "no counted columns drawn over the frame")
        check(r["model_px"] > 0, "3D model canvas is blank")
        check(r["frames"].startswith("frames ") and "—" not in r["frames"].split("·")[0],
              f"health: frames received unknown ({r['frames']})")
        check(f"analysed {a.frames}" in r["frames"], f"health: want {a.frames} analysed ({r['frames']})")
        check("dropped" in r["dropped"] and "gaps" in r["gaps"] and "p50" in r["latency"],
              "health bar incomplete")
        check(a.report or r["conn"] == "live", f"connection state '{r['conn']}'")
        check(not r["errors"], f"script errors: {r['errors']}")
        check(len(png) > 10000 and png[:8] == b"\x89PNG\r\n\x1a\n", "screenshot is not a PNG")
        # interaction: the paper's mean-of-runs scope, another environment for τ,
        # and a drag on the 3D view (the picture must change)
        r2 = d.s("POST", "/execute/async", {"script": INTERACT, "args": []})
        print("interaction:", json.dumps(r2))
        check(r2["mean_cells"] == e2 and r2["mean_coloured"] > 0, "mean-of-runs heatmap not drawn")
        check(r2["mean_differs"], "mean-of-runs heatmap identical to the merged one")
        check(r2["tau_label"].startswith("τ from ") and r2["tau_label"] != r2["tau_label0"],
              f"τ panel did not follow the environment choice ({r2['tau_label0']} → {r2['tau_label']})")
        check(r2["rotated"], "dragging did not rotate the 3D model")
    finally:
        if d.sid:  # closes the browser (also after a failure)
            try:
                d.s("DELETE", "")
            except OSError:
                pass
        cd.terminate()
        try:
            cd.wait(10)
        except subprocess.TimeoutExpired:
            cd.kill()
        shutil.rmtree(profile, ignore_errors=True)
    print(f"screenshot: {a.screenshot}")
    print(f"{ok} passed, {fail} failed")
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main())
