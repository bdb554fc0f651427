"""The Content-Security-Policy in a real browser: every page runs with no violation, and injected script does not run.

The policy allows no inline script but the ones the server hashed (folium's
map script and header); a script or an event handler that reaches the DOM
by another way (an injection) is refused by the browser.
"""

import pytest
from browser.helpers import wait_for_map

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
    window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sample || ""));
});
"""
PAGES = ["/", "/map/tapi", "/map?layers=cpec,ports&feature=gwadar_port", "/corridor", "/route", "/embed/tapi",
         "/embed/corridor?feature=tapi:tapi_trunk&width_km=25"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_run_without_a_single_policy_violation(live_server, browsing, path):
    session = browsing()
    session.context.add_init_script(RECORD_VIOLATIONS)
    page = session.new_page()
    response = page.goto(live_server.url + path)
    policy = response.headers["content-security-policy"]
    script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'sha256-" in script_src
    wait_for_map(page)
    page.wait_for_timeout(300)
    assert page.evaluate("window.__csp") == []


def test_injected_script_and_handlers_do_not_run(live_server, playwright_browser):
    context = playwright_browser.new_context()
    try:
        context.add_init_script(RECORD_VIOLATIONS)
        page = context.new_page()
        page.goto(live_server.url + "/map/tapi")
        page.wait_for_function("window.mapsvc && window.mapsvc.map")
        page.evaluate("""() => {
            window.__ran = [];
            document.body.insertAdjacentHTML("beforeend", '<img src="data:," onload="window.__ran.push(1)">');
            const s = document.createElement("script");
            s.textContent = "window.__ran.push(2)";
            document.body.appendChild(s);
            const a = document.createElement("a");
            a.href = "javascript:window.__ran.push(3)";
            document.body.appendChild(a);
            a.click();
        }""")
        page.wait_for_timeout(300)
        assert page.evaluate("window.__ran") == []
        violations = page.evaluate("window.__csp")
        assert len(violations) >= 2 and all(v.startswith("script-src") for v in violations), violations
    finally:
        context.close()
