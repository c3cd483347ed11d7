"""Helpers for tests in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-gl=swiftshader",
    "--enable-unsafe-swiftshader",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Chromium not installed (.ci/run installs Debian's chromium; apt-get install chromium)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_jupyterlab(root, port: int):
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--allow-root",
        f"--port={port}",
        "--ip=127.0.0.1",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    t0 = time.time()
    while time.time() - t0 < 90:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("JupyterLab did not start in 90 s")


@contextmanager
def jupyterlab_page(root, viewport: tuple[int, int] = (1200, 900)):
    """JupyterLab serving ``root`` and a headless Chromium page on it: yields (page, port, errors),
    ``errors`` collecting the page's script errors; a page-leaving dialog is accepted."""
    exe = chromium_path()
    sync_api = pytest.importorskip("playwright.sync_api")
    port = free_port()
    server = start_jupyterlab(root, port)
    errors: list[str] = []
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: d.accept())
            yield page, port, errors
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def open_notebook(page, port: int, name: str, workspace: str = "default") -> None:
    """Open ``name`` in JupyterLab (in its own workspace) and wait until its kernel is idle."""
    page.goto(f"http://127.0.0.1:{port}/lab/workspaces/{workspace}/tree/{name}", timeout=60000)
    page.wait_for_selector(".jp-Notebook .jp-Cell .cm-content", timeout=60000)
    page.wait_for_selector("text=| Idle", timeout=90000)  # the kernel is connected
    page.locator(".jp-Notebook .jp-Cell .cm-content").first.click()
