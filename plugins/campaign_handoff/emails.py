"""The emails of the hand-off: built as plain functions, sent through the SMTP provider.

Every email has a plain-text and an HTML part. Campaign names are user data: they are
escaped in HTML, stripped of line breaks in subjects (no header injection), and subjects
are RFC 2047 encoded by the email package for any Unicode, emoji included.
"""

from __future__ import annotations

import html
import re
import smtplib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from airflow.providers.smtp.hooks.smtp import SmtpHook

from campaign_handoff.config import SMTP_CONN_ID

_LINE_BREAKS = re.compile(r"\s*[\r\n\t\x0b\x0c\x85\u2028\u2029]+\s*")


def one_line(text: str) -> str:
    """The text on one line, safe to place in a header."""
    return _LINE_BREAKS.sub(" ", text).strip()


def sql_literal(value: str) -> str:
    """Quote a value as a SQL string literal (standard_conforming_strings, PostgreSQL's default)."""
    if "\x00" in value:
        raise ValueError("a SQL string literal cannot hold a NUL character")
    return "'" + value.replace("'", "''") + "'"


def reset_sql(campaign_id: str) -> str:
    """The statement that resets one campaign, as an operator pastes it into psql."""
    return (
        "UPDATE campaign_status SET a1_retry_count = 0, a1_last_retry_at = NULL, "
        "a1_permanently_failed = false, a1_failure_reason = NULL "
        f"WHERE campaign_id = {sql_literal(campaign_id)};"
    )


@dataclass(frozen=True)
class CampaignRef:
    campaign_id: str
    name: str
    number: str | None = None

    @property
    def label(self) -> str:
        return f"{self.number} {self.name}" if self.number else self.name


def _message(subject: str, text: str, html_body: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = one_line(subject)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="campaign-handoff.local")
    message.set_content(text)
    message.add_alternative(html_body, subtype="html")
    return message


def _html_page(title: str, paragraphs: Sequence[str], code: str | None = None) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    if code:
        body += f"<pre>{html.escape(code)}</pre>"
    return f"<html><body><h2>{html.escape(title)}</h2>{body}</body></html>"


def retry_email(campaign: CampaignRef, attempt: int, max_attempts: int, next_step: str) -> EmailMessage:
    """The email of a failed attempt that is not the last one."""
    left = max_attempts - attempt
    subject = f"⚠️ No Assets Found (Attempt {attempt}/{max_attempts}) - Campaign {one_line(campaign.name)}"
    facts = [
        f"The Master Assets folder of campaign {campaign.label} (id {campaign.campaign_id}) is empty, "
        "so nothing could be handed over to Box.",
        f"Failed attempts so far: {attempt} of {max_attempts}. Attempts left: {left}.",
        f"Next: {next_step} If the folder is still empty after attempt {max_attempts}, the campaign "
        "is marked permanently failed and skipped until someone resets it.",
        "To fix: put the campaign's master assets into its Master Assets folder in the DAM.",
    ]
    escaped = [html.escape(f) for f in facts]
    return _message(subject, "\n\n".join(facts) + "\n", _html_page(subject, escaped))


def final_email(campaign: CampaignRef, attempts: int) -> EmailMessage:
    """The email of the last attempt: the campaign is now skipped until it is reset."""
    noun = "Attempt" if attempts == 1 else "Attempts"
    subject = f"PERMANENTLY FAILED - Campaign {one_line(campaign.name)} (No Assets After {attempts} {noun})"
    statement = reset_sql(campaign.campaign_id)
    facts = [
        f"Campaign {campaign.label} (id {campaign.campaign_id}) still had an empty Master Assets folder "
        f"after {attempts} attempts. It is now marked permanently failed: the hand-off skips it and "
        "sends no more email about it.",
        "To fix: put the master assets into the campaign's Master Assets folder in the DAM (or move the "
        "campaign out of A1 if it should not be handed over), then reset it so the next run tries again.",
        "Reset it with this SQL on the tracking database, or with the Airflow DAG "
        "'reset_a1_retry_state' (Trigger DAG with config, campaign id as above):",
    ]
    text = "\n\n".join(facts) + "\n\n    " + statement + "\n"
    return _message(subject, text, _html_page(subject, [html.escape(f) for f in facts], code=statement))


def report_email(subject: str, text: str, html_body: str) -> EmailMessage:
    return _message(subject, text, html_body)


class HandoffSmtpHook(SmtpHook):
    """The provider's SMTP hook, sending a ready multipart message (plain text and HTML).

    The provider's own ``send_email_smtp`` builds an HTML-only body; the connection handling
    (SSL, STARTTLS, login, retry limit, sender) stays the provider's.
    """

    def send_message(self, message: EmailMessage, to: Iterable[str]) -> None:
        recipients = [address.strip() for address in to if address.strip()]
        if not recipients:
            raise ValueError(
                "No recipients: set the Airflow Variable handoff_error_recipients (or "
                "handoff_report_recipients for the report) to a comma-separated address list."
            )
        sender = self.from_email
        if not sender:
            raise ValueError(
                f"The SMTP connection '{self.smtp_conn_id}' has no sender: set 'from_email' in its extra."
            )
        del message["From"], message["To"]
        message["From"] = sender
        message["To"] = ", ".join(recipients)
        self.get_conn()
        client = self._smtp_client
        for attempt in range(self.smtp_retry_limit + 1):
            try:
                client.send_message(message, from_addr=sender, to_addrs=recipients)
                break
            except Exception:
                if attempt == self.smtp_retry_limit:
                    raise
        self.log.info("Email %r sent to %d recipient(s)", one_line(str(message["Subject"])), len(recipients))


class EmailDeliveryError(RuntimeError):
    """The relay could not be reached or refused the message; the message says what to check."""


def send(message: EmailMessage, to: Iterable[str], smtp_conn_id: str = SMTP_CONN_ID) -> None:
    recipients = list(to)
    try:
        with HandoffSmtpHook(smtp_conn_id=smtp_conn_id) as hook:
            hook.send_message(message, recipients)
    except (smtplib.SMTPException, OSError) as exc:
        raise EmailDeliveryError(
            f"Could not send {one_line(str(message['Subject']))!r} through SMTP connection "
            f"{smtp_conn_id!r}: {type(exc).__name__}: {exc}. Check that the relay is up and the "
            "connection's host, port and SSL/TLS settings; the task retry sends it again, and a "
            "later run sends it if every retry fails."
        ) from exc


def parse_recipients(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").replace(";", ",").split(",") if part.strip()]
