"""An SMTP server on 127.0.0.1 that keeps every message it receives as an ``.eml`` file.

It speaks real SMTP (aiosmtpd), so the project's emails go through the SMTP provider's
hook exactly as they would to a company relay; the demo report and the tests read the
files back with :func:`read_messages`.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import signal
import sys
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller


class _KeepAsEml:
    """aiosmtpd handler: write each accepted message to ``<n>.eml`` in arrival order."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._lock = threading.Lock()
        #: Messages still to refuse with a temporary failure, as a busy relay does.
        self.refusals_left = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        with self._lock:
            if self.refusals_left > 0:
                self.refusals_left -= 1
                return "451 4.3.0 Temporary failure, try again later"
            number = len(list(self.out_dir.glob("*.eml"))) + 1
            target = self.out_dir / f"{number:05d}.eml"
            partial = target.with_suffix(".part")
            header = f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n".encode()
            partial.write_bytes(header + envelope.original_content)
            partial.rename(target)
        return "250 Message accepted for delivery"


@dataclass
class SmtpSink:
    out_dir: Path
    controller: Controller

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def refuse_next(self, count: int) -> None:
        """Answer the next ``count`` messages with 451 (temporary failure) and keep none."""
        handler = self.controller.handler
        with handler._lock:
            handler.refusals_left = count

    def stop(self) -> None:
        self.controller.stop()


def start_smtp_sink(out_dir: Path, port: int = 0) -> SmtpSink:
    out_dir.mkdir(parents=True, exist_ok=True)
    from local_stack.postgres import free_port

    controller = Controller(_KeepAsEml(out_dir), hostname="127.0.0.1", port=port or free_port())
    controller.start()
    return SmtpSink(out_dir=out_dir, controller=controller)


def read_messages(out_dir: Path) -> list[EmailMessage]:
    """Every stored message, oldest first, parsed with the modern email policy."""
    messages = []
    for path in sorted(out_dir.glob("*.eml")):
        with path.open("rb") as handle:
            messages.append(email.message_from_binary_file(handle, policy=email.policy.default))
    return messages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path)
    args = parser.parse_args(argv)
    sink = start_smtp_sink(args.out_dir, args.port)
    if args.port_file:
        args.port_file.write_text(str(sink.port))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    while not stopping.is_set():
        time.sleep(0.2)
    sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
