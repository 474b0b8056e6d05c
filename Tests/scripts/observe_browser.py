#!/usr/bin/env python3
"""Drives the web view of a running `hypha run --http` in headless Chromium (Debian's chromium
and chromium-driver, Python selenium): the page loads with no console errors, shows every node
of the workflow, and its jobs table fills as the jobs of 20 zips complete; then a job's logs
open with one click. Writes a screenshot to SCREENSHOT.

    observe_browser.py HYPHA_BIN WORKFLOW TMP_DIR PORT SCREENSHOT

Exit 0: all held; 1: a check failed (stderr says which); 77: chromium, chromedriver or
selenium is missing. Spawned by Tests/CLITests/ObserveTests.swift.
"""
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    print("selenium is not installed", file=sys.stderr)
    sys.exit(77)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
BROWSER = shutil.which("chromium") or "/usr/bin/chromium"
NODES = ["downloads", "decode", "extract-spec", "extract", "aggregate-spec", "aggregate"]


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def severe(driver):
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def main():
    if not (os.path.exists(DRIVER) and os.path.exists(BROWSER)):
        print("chromium or chromedriver is not installed", file=sys.stderr)
        sys.exit(77)
    hypha, workflow, tmp, port, screenshot = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    inbox, staging, work = os.path.join(tmp, "in"), os.path.join(tmp, "staging"), os.path.join(tmp, "work")
    os.makedirs(inbox, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_sample_zips.py"), staging, "--count", "20"],
                   check=True, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    err = open(os.path.join(tmp, "hypha.stderr"), "w+")
    proc = subprocess.Popen([hypha, "run", workflow, "--no-progress", "--var", f"inbox={inbox}", "--var", f"work={work}",
                             "--state-dir", os.path.join(tmp, "state"), "--http", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=err)
    driver = None
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/api/v1/status", timeout=5).read()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    err.seek(0)
                    fail("the endpoint did not come up: " + err.read())
                time.sleep(0.1)
        options = webdriver.ChromeOptions()
        options.binary_location = BROWSER
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1050"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(DRIVER), options=options)
        driver.get(url + "/")
        wait = WebDriverWait(driver, 60, poll_frequency=0.1)

        # Every node of the workflow is drawn, in the graph and in the table.
        # (Read in one script each: the page redraws the graph and tables as it updates.)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#graph g.node")) == len(NODES))
        drawn = set(driver.execute_script(
            "return [...document.querySelectorAll('#graph g.node')].map(e => e.getAttribute('data-node'))"))
        if drawn != set(NODES):
            fail(f"the graph shows {sorted(drawn)}, not {sorted(NODES)}")
        listed = set(driver.execute_script(
            "return [...document.querySelectorAll('#nodes tbody tr')].map(e => e.getAttribute('data-node'))"))
        if listed != set(NODES):
            fail(f"the node table shows {sorted(listed)}, not {sorted(NODES)}")
        edges = {tuple(e) for e in driver.execute_script(
            "return [...document.querySelectorAll('#graph g.edge')].map(e => [e.getAttribute('data-from'), e.getAttribute('data-to')])")}
        if edges != {("downloads", "decode"), ("decode", "extract-spec"), ("extract-spec", "extract"),
                     ("extract", "aggregate-spec"), ("aggregate-spec", "aggregate")}:
            fail(f"the graph has edges {sorted(edges)}")
        if driver.execute_script("return document.querySelectorAll('#jobs tbody tr').length") != 0:
            fail("the jobs table is not empty before any file arrived")

        # The jobs table fills as the jobs complete.
        for name in sorted(os.listdir(staging)):
            os.rename(os.path.join(staging, name), os.path.join(inbox, name))
        completed = lambda d: d.execute_script(
            "return document.querySelectorAll('#jobs tbody tr[data-state=\"completed\"]').length")
        seen = set()
        wait.until(lambda d: seen.add(completed(d)) or completed(d) == 40)
        if len(seen) < 2:
            fail(f"the jobs table did not fill step by step: counts seen {sorted(seen)}")
        wait.until(lambda d: "in 20 · out 20" in d.execute_script(
            "return document.querySelector('#graph g.node[data-node=\"aggregate\"]').textContent"))

        # A job's logs are one click away.
        job = driver.execute_script("""
            const row = document.querySelector('#jobs tbody tr[data-state="completed"]');
            row.querySelector('a.logs').click();
            return row.getAttribute('data-job');""")
        wait.until(lambda d: d.execute_script(
            "return document.getElementById('log-job').textContent === arguments[0]"
            " && document.getElementById('log-stdout').textContent.length > 0", job))
        stdout = driver.execute_script("return document.getElementById('log-stdout').textContent")
        if not stdout.strip() or stdout == "(empty)":
            fail(f"the logs of {job} show nothing")
        os.makedirs(os.path.dirname(screenshot), exist_ok=True)
        driver.save_screenshot(screenshot)
        errors = severe(driver)
        if errors:
            fail(f"console errors: {errors}")
        print(f"ok: {len(NODES)} nodes drawn, the jobs table filled through {len(seen)} states; screenshot {screenshot}")
    finally:
        if driver is not None:
            driver.quit()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
