"""The whole local stack on 127.0.0.1: PostgreSQL, SMTP sink, OTMM and Box servers.

One object starts everything on free ports, knows where each part keeps its data, and
stops what it started. The demo and the tests both use it, so both run the product
against the same real services.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_stack import postgres
from local_stack.settings import AirflowSettings, load_settings
from local_stack.smtp_sink import SmtpSink, read_messages, start_smtp_sink

REPO = Path(__file__).resolve().parents[1]
TRACKING_DB = "campaigns"


@dataclass
class LocalStack:
    root: Path
    settings: AirflowSettings = field(default_factory=load_settings)
    pg: postgres.LocalPostgres | None = None
    smtp: SmtpSink | None = None
    otmm: Any = None
    box: Any = None

    @property
    def campaigns_dir(self) -> Path:
        return self.root / "campaigns"

    @property
    def mail_dir(self) -> Path:
        return self.root / "mail"

    @property
    def pg_dir(self) -> Path:
        return self.root / "pg"

    def start(self, *, samples: bool = True, fresh: bool = True) -> LocalStack:
        """Start every service; ``fresh`` wipes data of an earlier run (campaigns, mail, Box)."""
        from local_stack.box_server import default_spec_path, start_box_server
        from local_stack.otmm_server import start_otmm_server

        if fresh:
            for folder in (self.campaigns_dir, self.mail_dir, self.root / "box"):
                shutil.rmtree(folder, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        self.campaigns_dir.mkdir(parents=True, exist_ok=True)
        if samples:
            from local_stack.samples import write_sample_campaigns

            write_sample_campaigns(self.campaigns_dir)

        self.pg = postgres.start(self.pg_dir)
        if fresh:
            postgres.drop_database(self.pg, TRACKING_DB)
        postgres.create_database(self.pg, TRACKING_DB)
        self.smtp = start_smtp_sink(self.mail_dir)

        otmm_conn = self.settings.connections["otmm_default"]
        self.otmm = start_otmm_server(
            self.campaigns_dir,
            username=otmm_conn["login"],
            password=otmm_conn["password"],
        )
        box_conn = self.settings.connections["box_default"]
        self.box = start_box_server(
            self.root / "box",
            client_id=box_conn["login"],
            client_secret=box_conn["password"],
            # Checking every exchange against Box's OpenAPI document needs that document
            # (beside the checkout, or $BOX_OPENAPI_SPEC); the tests insist on it, the demo
            # runs without it.
            validate=default_spec_path().exists(),
        )
        self._point_settings_at_services()
        return self

    def _point_settings_at_services(self) -> None:
        assert self.pg and self.smtp and self.otmm and self.box
        self.settings.override_connection(
            "campaign_db", host=self.pg.host, port=self.pg.port, schema=TRACKING_DB
        )
        self.settings.override_connection("smtp_default", host="127.0.0.1", port=self.smtp.port)
        otmm_port = int(self.otmm.base_url.rsplit(":", 1)[1].split("/")[0])
        self.settings.override_connection("otmm_default", host="127.0.0.1", port=otmm_port, schema="http")
        self.settings.override_connection(
            "box_default",
            extra={
                "base_url": self.box.sdk_base_url,
                "upload_url": self.box.sdk_upload_url,
                "oauth2_url": self.box.sdk_oauth2_url,
            },
        )

    def apply_migrations(self) -> list[str]:
        import psycopg

        from campaign_handoff.migrations import apply_pending

        assert self.pg
        with psycopg.connect(self.pg.url(TRACKING_DB)) as conn:
            return apply_pending(conn)

    def tracking_connection(self):
        import psycopg

        assert self.pg
        return psycopg.connect(self.pg.url(TRACKING_DB), autocommit=True)

    def emails(self):
        return read_messages(self.mail_dir)

    def stop(self, *, discard_data: bool = False) -> None:
        """Stop everything; ``discard_data`` also deletes the PostgreSQL cluster's files."""
        for part in (self.box, self.otmm, self.smtp):
            if part is not None:
                try:
                    part.stop()
                except Exception as exc:  # keep stopping the others
                    print(f"warning: could not stop {type(part).__name__}: {exc}")
        self.box = self.otmm = self.smtp = None
        if self.pg is not None:
            if discard_data:
                postgres.discard(self.pg_dir)
            else:
                postgres.stop(self.pg_dir)
            self.pg = None

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
