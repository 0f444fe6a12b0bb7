"""The dashboard in a real browser (Debian's chromium and chromedriver, driven by Selenium; nothing is downloaded):
load it, make a mistake, ask, accept, watch the session move on, read the API docs. Screenshots are kept in
`test-artefacts/` at the top of the repository (or `$EXECPLANNER_TEST_ARTEFACTS`) for people to look at."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.webdriver.common.by import By  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
NOTEBOOK = "https://github.com/ivoa/example-notebooks/raw/main/galaxy-colours.ipynb"
JSON = {"Accept": "application/json"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def artefacts() -> Path:
    folder = Path(os.environ.get("EXECPLANNER_TEST_ARTEFACTS") or REPO / "test-artefacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service as DriverService

    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1360,1000",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=DriverService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def text_of(driver, selector: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, selector).text


def shown(driver, selector: str) -> str:
    """The element's text, or "" while the page is (re)loading: for polling with wait_for."""
    from selenium.common.exceptions import WebDriverException

    try:
        return driver.find_element(By.CSS_SELECTOR, selector).text
    except WebDriverException:
        return ""


def test_ask_accept_and_follow_a_session_in_a_browser(browser, app_factory, http, wait_for, artefacts):
    server = app_factory()
    browser.get(server.url("/"))
    assert "Dashboard" in browser.title
    assert len(browser.find_elements(By.CSS_SELECTOR, "#sites tbody tr")) >= 2  # the catalogue, with quotas

    browser.find_element(By.ID, "location").clear()
    browser.find_element(By.ID, "ask-button").click()
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#form-problem"))  # the answer page has loaded
    assert "Nothing was asked yet" in text_of(browser, "#form-problem")
    assert "notebook's web address" in text_of(browser, ".field-error")

    browser.find_element(By.ID, "location").send_keys(NOTEBOOK)
    browser.find_element(By.ID, "memory").clear()
    browser.find_element(By.ID, "memory").send_keys("4")
    browser.find_element(By.ID, "ask-button").click()
    wait_for(lambda: "/ui/offersets/" in browser.current_url and browser.find_elements(By.CSS_SELECTOR, "#result"))
    assert text_of(browser, "#result") == "YES"
    offers = browser.find_elements(By.CSS_SELECTOR, "#offers .offer")
    assert len(offers) >= 2
    site = offers[0].find_element(By.CSS_SELECTOR, ".site").text
    browser.save_screenshot(str(artefacts / "dashboard-offers.png"))

    offers[0].find_element(By.CSS_SELECTOR, "button.accept").click()
    wait_for(lambda: "/ui/sessions/" in browser.current_url and browser.find_elements(By.CSS_SELECTOR, "#history"))
    assert "ACCEPTED" in text_of(browser, "#phase") or "OFFERED" not in text_of(browser, "#phase")
    assert "OFFERED" in text_of(browser, "#history") and "ACCEPTED" in text_of(browser, "#history")
    assert site in browser.page_source

    # another client (the CLI, say) cancels it: the open page notices by itself and shows the new phase
    session_url = server.url("/sessions/" + browser.current_url.rsplit("/", 1)[1])
    body = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": "CANCELLED"}}
    assert http.post(session_url, json=body, headers=JSON).status_code == 200
    wait_for(lambda: "CANCELLED" in shown(browser, "#phase"), timeout=20)
    assert "CANCELLED" in text_of(browser, "#history")
    browser.save_screenshot(str(artefacts / "dashboard-session.png"))

    browser.set_window_size(1360, 1700)  # the whole page, catalogue included, in the picture
    browser.get(server.url("/"))
    assert "CANCELLED" in text_of(browser, "#sessions") and "REJECTED" in text_of(browser, "#sessions")
    assert site in text_of(browser, "#sites")
    browser.save_screenshot(str(artefacts / "dashboard-home.png"))


def test_errors_read_as_sentences_and_the_docs_render(browser, app_factory, wait_for, artefacts):
    server = app_factory()
    browser.get(server.url("/ui/sessions/not-a-uuid"))
    assert "Not found" in browser.title or "Not found" in browser.page_source
    assert "is not the identifier of anything here" in text_of(browser, "#error-message")

    browser.get(server.url("/ui/catalogue"))
    assert browser.find_elements(By.CSS_SELECTOR, "section.site")
    browser.save_screenshot(str(artefacts / "dashboard-catalogue.png"))

    browser.get(server.url("/docs"))
    wait_for(lambda: "execplanner" in shown(browser, ".swagger-ui .info .title"), timeout=20)
    assert "execplanner" in text_of(browser, ".swagger-ui .info .title")
    assert browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")  # the operations are listed
    browser.save_screenshot(str(artefacts / "docs.png"))
