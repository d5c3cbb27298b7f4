"""A person at a browser, for the interactive-authorization test: `BROWSER` runs this with the
consent URL; it signs in as AB_TEST_AGENT, clicks Allow and follows the redirect to the kit."""
from __future__ import annotations

import html
import os
import re
import sys
from urllib.parse import urljoin

import requests

FORM = re.compile(r'<form method="post" action="([^"]+)"')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def main(url: str) -> int:
    browser = requests.Session()
    page = browser.get(url, timeout=10)  # a refused request redirects straight back to the kit
    if FORM.search(page.text) is None:
        return 0
    page = browser.post(urljoin(url, html.unescape(FORM.search(page.text)[1])), timeout=10, data={
        "form": "login", "csrf_token": CSRF.search(page.text)[1], "email": os.environ["AB_TEST_AGENT"],
        "password": "agentbuddy"})
    answer = browser.post(urljoin(url, html.unescape(FORM.search(page.text)[1])), allow_redirects=False, timeout=10,
                          data={"csrf_token": CSRF.search(page.text)[1], "decision": "allow"})
    browser.get(answer.headers["Location"], timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
