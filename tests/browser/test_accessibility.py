"""axe-core on every kind of hosted page, in English and Ukrainian, light and dark.

No page may have a "serious" or "critical" violation: the invoice page of every
display kind (phone and desktop, and with the form's errors showing), the method
selection, the refused-link, incomplete-link and not-found pages, and the final
result pages. The dark scheme changes only colours, so there only the contrast
rule runs again, on the phone.
"""

import pytest
from django.utils import translation

from checkout.presentation import STATUS_TEXT
from tests.browser.conftest import (
    DEMO_SERVICES,
    VIEWPORTS,
    axe_violations,
    describe_violations,
    expect,
)


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
@pytest.mark.parametrize("language", ["en", "uk"])
def test_no_serious_accessibility_violations(
    language, color_scheme, demo, browsing, axe_core_js, shop_return_page
):
    page = browsing.page(bypass_csp=True, color_scheme=color_scheme)
    found: list[str] = []
    rules = ["color-contrast"] if color_scheme == "dark" else None

    def check(where: str, url: str | None = None, *, status: int = 200) -> None:
        if url is not None:
            response = page.goto(url)
            assert response.status == status, (where, url)
            expect(page.locator("html")).to_have_attribute("lang", language)
        violations = axe_violations(page, axe_core_js, rules=rules)
        if violations:
            found.append(describe_violations(f"{where} [{language}, {color_scheme}]", violations))

    with translation.override(language):
        waiting, paid = str(STATUS_TEXT["created"]), str(STATUS_TEXT["processed"])

    for service_code, kind in DEMO_SERVICES.items():
        invoice = demo.invoice(service_code, return_url=shop_return_page.url)
        for viewport, options in VIEWPORTS.items():
            if rules and viewport != "phone":
                continue  # colours are the same on a desktop
            page.set_viewport_size(options["viewport"])
            check(
                f"invoice page, {kind} ({service_code}), {viewport}",
                f"/hpp/?cpi={invoice.id}&locale={language}",
            )
            expect(page.locator("#status .status-text")).to_have_text(waiting)

    # The confirmation form showing its errors (swapped in by htmx).
    page.set_viewport_size(VIEWPORTS["phone"]["viewport"])
    invoice = demo.invoice("test_uah_invoice")
    page.goto(f"/hpp/?cpi={invoice.id}&locale={language}")
    page.locator("#confirm-form button[type=submit]").click()
    expect(page.locator("#confirm-form .error")).to_have_count(2)
    check("invoice page with the form's errors")

    link = {
        "public_key": demo.credentials.public_key_test,
        "amount": "150.00",
        "currency": "UAH",
        "reference_id": "order-77",
        "locale": language,
    }
    query = "&".join(f"{name}={value}" for name, value in link.items())
    check("method selection", f"/hpp/?{query}")
    check("refused link", f"/hpp/?{query.replace('pk_test_', 'pk_test_x')}", status=403)
    check("incomplete link", f"/hpp/?public_key={link['public_key']}&locale={language}", status=400)
    check("not found", f"/hpp/?cpi=cpi_0000000000000000&locale={language}", status=404)

    # Final results: paid (with a way back to the shop), and partially paid without one.
    invoice = demo.invoice("test_uah_invoice", return_url=shop_return_page.url)
    page.goto(f"/hpp/?cpi={invoice.id}&locale={language}")
    page.locator(".test-panel button[value=paid]").click()
    expect(page.locator("#status .status-text")).to_have_text(paid)
    check("result, paid, as the page turned to it")
    # (Checked well within the few seconds before the page returns to the shop.)
    check("result page, paid", f"/hpp/?cpi={invoice.id}&locale={language}")
    invoice = demo.invoice("test_uah_invoice")
    page.goto(f"/hpp/?cpi={invoice.id}&locale={language}")
    page.locator(".test-panel button[value=partial]").click()
    expect(page.locator("#status")).to_have_attribute("data-status", "partially_processed")
    check("result page, partially paid", f"/hpp/?cpi={invoice.id}&locale={language}")

    assert not found, "\n".join(found)
