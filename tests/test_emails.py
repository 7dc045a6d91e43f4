"""The emails over a real SMTP exchange with the local sink, read back as received."""

from __future__ import annotations

import pytest

from campaign_handoff import emails
from campaign_handoff.emails import CampaignRef
from local_stack.smtp_sink import read_messages

HOSTILE = CampaignRef("id-'42'", 'Café <b>"Spring"</b> 🌸 \r\nBcc: victim@example.com', "2026-001")


def send_and_read(sink, message, to=("support@example.com",)):
    emails.send(message, list(to))
    (received,) = read_messages(sink.out_dir)
    return received


def test_retry_email_subject_parts_and_escaping(smtp_sink):
    received = send_and_read(
        smtp_sink, emails.retry_email(HOSTILE, 1, 3, "the next scheduled run looks again.")
    )
    assert received["Subject"] == (
        '⚠️ No Assets Found (Attempt 1/3) - Campaign Café <b>"Spring"</b> 🌸 Bcc: victim@example.com'
    )
    assert received["Bcc"] is None
    assert received["To"] == "support@example.com"
    assert received["From"] == "handoff@example.com"
    assert received["X-Envelope-To"] == "support@example.com"
    plain = received.get_body(("plain",)).get_content()
    html_part = received.get_body(("html",)).get_content()
    assert "Failed attempts so far: 1 of 3. Attempts left: 2." in plain
    assert "<b>&quot;Spring&quot;</b>" not in html_part
    assert "&lt;b&gt;&quot;Spring&quot;&lt;/b&gt;" in html_part
    assert "<b>" not in html_part.replace("<h2>", "").split("</h2>", 1)[1]


def test_subject_is_rfc2047_encoded_on_the_wire(smtp_sink):
    emails.send(emails.retry_email(HOSTILE, 2, 3, "soon."), ["support@example.com"])
    raw = next(smtp_sink.out_dir.glob("*.eml")).read_bytes()
    subject_line = raw.split(b"\nSubject:", 1)[1].split(b"\n", 1)[0]
    assert b"=?utf-8?" in subject_line.lower()
    assert raw.isascii()


def test_final_email_says_what_to_do_and_gives_safe_reset_sql(smtp_sink):
    received = send_and_read(smtp_sink, emails.final_email(HOSTILE, 3))
    assert received["Subject"].startswith("PERMANENTLY FAILED - Campaign Café")
    assert received["Subject"].endswith("(No Assets After 3 Attempts)")
    plain = received.get_body(("plain",)).get_content()
    assert "WHERE campaign_id = 'id-''42''';" in plain
    assert "skips it" in plain and "reset_a1_retry_state" in plain
    assert (
        "WHERE campaign_id = &#x27;id-&#x27;&#x27;42&#x27;&#x27;&#x27;;"
        in received.get_body(("html",)).get_content()
    )


def test_no_recipients_is_a_clear_error(smtp_sink):
    with pytest.raises(ValueError, match="handoff_error_recipients"):
        emails.send(emails.final_email(HOSTILE, 3), emails.parse_recipients(" ; ,"))


def test_recipient_lists_accept_commas_and_semicolons():
    assert emails.parse_recipients("a@x.com; b@x.com ,c@x.com") == ["a@x.com", "b@x.com", "c@x.com"]


def test_sql_literal_refuses_nul():
    with pytest.raises(ValueError):
        emails.sql_literal("a\x00b")
