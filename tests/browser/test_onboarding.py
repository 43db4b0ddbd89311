"""Support onboards a customer user in one form; the new user sets a password through the e-mailed link and signs
in to their own tenant's dashboard."""

import re

from playwright.sync_api import expect

from portal.models import Membership
from tests.browser.conftest import sign_in

NEW_PASSWORD = "a long pass phrase 42"


def test_support_invites_a_customer_who_sets_a_password_and_signs_in(page, new_page, world, mailoutbox):
    sign_in(page, "sam")
    page.goto("/auth/user/")
    page.get_by_role("link", name="Invite a customer user").click()
    page.fill("input[name=email]", "Nina.Ng@Demo.example")
    page.select_option("select[name=tenant]", label=world["tenant"].name)
    invite = page.locator("input[type=submit][value=Invite]")
    invite.click()  # the first name forgotten: the error stands in that field's row, which is marked required
    row = page.locator(".form-row", has=page.locator("input[name=first_name]"))
    expect(row.locator(".errorlist")).to_contain_text("This field is required.")
    assert page.locator(".errorlist").count() == 1
    assert "errors" in row.get_attribute("class") and "required" in (row.locator("label").get_attribute("class") or "")
    page.fill("input[name=first_name]", "Nina")
    page.fill("input[name=last_name]", "Ng")
    invite.click()
    expect(page.locator("#content")).to_contain_text("was invited as a customer finance user")
    shown = page.locator("#password-set-link").input_value()

    (invitation,) = [m for m in mailoutbox if "nina.ng@demo.example" in m.to]  # the world's cycle mailed its digest
    link = re.search(r"https?://\S+/password-set/\S+", invitation.body).group(0)
    assert link == shown
    membership = Membership.objects.get(user__username="nina.ng@demo.example")
    assert (membership.tenant, membership.role) == (world["tenant"], Membership.CUSTOMER)

    # the new user, in a browser of their own: the link, a password, then the sign-in page
    theirs = new_page()
    theirs.goto(link)
    expect(theirs.locator("#site-name")).to_have_text("ml-connector portal")  # the product, not "Django administration"
    theirs.fill("input[name=new_password1]", NEW_PASSWORD)
    theirs.fill("input[name=new_password2]", NEW_PASSWORD)
    theirs.locator("input[type=submit]").click()
    theirs.wait_for_url("**/password-set/done/")
    expect(theirs.locator("#site-name")).to_have_text("ml-connector portal")
    sign_in(theirs, "nina.ng@demo.example", NEW_PASSWORD)
    body = theirs.locator("#content").inner_text()
    assert "Expensify to JD Edwards" in body and "Globex" not in body
    theirs.goto(link)  # the link worked once
    assert theirs.locator("input[name=new_password1]").count() == 0
