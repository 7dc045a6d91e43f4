"""Write the sample campaigns that the local OTMM server serves in the demo and the tests.

Every file is a real, valid file of its format, made here rather than checked in: a PNG, a
JPEG, a PDF and an AVI video (RIFF container with Motion-JPEG frames). The video is larger
than 21,000,000 bytes so that its Box upload has to go through a chunked upload session.
Names carry accents, an emoji and quotes because real campaign names do.

The output is the same bytes on every run (fixed seeds, no timestamps), and large files are
written frame by frame rather than built in memory.

Usage: ``python -m local_stack.samples TARGET_DIR``
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import shutil
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageDraw

MASTER_ASSETS = "Master Assets"
#: Box only accepts chunked upload sessions for files of at least 20,000,000 bytes.
BIG_VIDEO_MIN_BYTES = 21_000_000


@dataclass(frozen=True)
class SampleFile:
    path: Path
    size: int
    sha1: str
    #: ``png``, ``jpeg``, ``pdf``, ``avi`` or ``text``
    kind: str


@dataclass(frozen=True)
class SampleCampaign:
    id: str
    number: str
    name: str
    status: str
    dir: Path
    #: Files under ``Master Assets/``, in name order.
    master_assets: tuple[SampleFile, ...]

    @property
    def master_assets_dir(self) -> Path:
        return self.dir / MASTER_ASSETS


def _campaign_id(seed: str) -> str:
    # OTMM ids are 40 hex digits; derive them from a fixed seed so runs agree.
    return hashlib.sha1(f"campaign-handoff sample campaign {seed}".encode()).hexdigest()


# --- PNG -----------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(out: BinaryIO, width: int, height: int, seed: int) -> None:
    """Write an 8-bit RGB PNG of a soft gradient with a few circles, encoded by hand.

    Hand-encoding keeps the bytes independent of the Pillow version.
    """
    rng = random.Random(seed)
    spots = [(rng.randrange(width), rng.randrange(height), rng.randrange(20, 90)) for _ in range(6)]
    compressor = zlib.compressobj(6)
    idat = bytearray()
    for y in range(height):
        row = bytearray(b"\x00")  # filter type 0 (None) for every scanline
        for x in range(width):
            r, g, b = 255 - (x * 80 // width), 180 + (y * 60 // height), 200 + (x * 50 // width)
            if any((x - cx) ** 2 + (y - cy) ** 2 < rad * rad for cx, cy, rad in spots):
                r, g, b = 250, 150, 190  # blossom pink
            row += bytes((r, g, b))
        idat += compressor.compress(bytes(row))
    idat += compressor.flush()
    out.write(b"\x89PNG\r\n\x1a\n")
    out.write(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
    out.write(_png_chunk(b"tEXt", b"Software\x00campaign-handoff local_stack.samples"))
    out.write(_png_chunk(b"IDAT", bytes(idat)))
    out.write(_png_chunk(b"IEND", b""))


# --- JPEG ----------------------------------------------------------------------------------


def _photo(width: int, height: int, seed: int) -> Image.Image:
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), (236, 222, 200))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = rng.randrange(width), rng.randrange(height)
        size = rng.randrange(20, 160)
        colour = (rng.randrange(120, 256), rng.randrange(60, 200), rng.randrange(40, 160))
        draw.ellipse((x, y, x + size, y + size), fill=colour)
    return image


def write_jpeg(out: BinaryIO, width: int, height: int, seed: int) -> None:
    """Write a baseline JPEG (no EXIF, so nothing varies between runs)."""
    _photo(width, height, seed).save(out, "JPEG", quality=88)


# --- PDF -----------------------------------------------------------------------------------


def _pdf_text(text: str) -> bytes:
    """Encode text as a PDF literal string in WinAnsi, escaping what PDF needs escaped."""
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def write_pdf(out: BinaryIO, title: str, lines: list[str]) -> None:
    """Write a one-page PDF 1.4 with a correct cross-reference table.

    The title goes in the document information as UTF-16 (it may hold an emoji); the page
    text uses Helvetica in WinAnsi encoding, which covers the accents.
    """
    content = [b"BT", b"/F1 22 Tf", b"72 760 Td", _pdf_text(lines[0]) + b" Tj", b"/F1 12 Tf"]
    for line in lines[1:]:
        content += [b"0 -22 Td", _pdf_text(line) + b" Tj"]
    content.append(b"ET")
    stream = b"\n".join(content)
    title_hex = ("FEFF" + title.encode("utf-16-be").hex().upper()).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Title <" + title_hex + b"> /Producer (campaign-handoff local_stack.samples) >>",
    ]
    body = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref_at = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f\r\n" % (len(objects) + 1)
    for offset in offsets:
        body += b"%010d 00000 n\r\n" % offset
    body += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\n" % (len(objects) + 1)
    body += b"startxref\n%d\n%%%%EOF\n" % xref_at
    out.write(bytes(body))


# --- AVI (RIFF, Motion-JPEG) ----------------------------------------------------------------

AVIF_HASINDEX = 0x10
AVIIF_KEYFRAME = 0x10


def _video_frames(width: int, height: int, seed: int) -> Iterator[bytes]:
    """Yield JPEG frames: film grain (which barely compresses) under a sweeping bar."""
    rng = random.Random(seed)
    index = 0
    while True:
        frame = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
        draw = ImageDraw.Draw(frame)
        x = (index * 37) % width
        draw.rectangle((x, 0, x + width // 10, height), fill=(250, 150, 190))
        buffer = io.BytesIO()
        frame.save(buffer, "JPEG", quality=85)
        yield buffer.getvalue()
        index += 1


def write_avi(out: BinaryIO, min_bytes: int, width: int = 1280, height: int = 720, fps: int = 25) -> None:
    """Write an AVI 1.0 file of Motion-JPEG frames until it is at least ``min_bytes`` long.

    Frames are written as they are encoded; the sizes in the headers are patched at the end,
    so ``out`` must be seekable.
    """
    start = out.tell()

    def header(total_frames: int, riff_size: int, movi_size: int, max_frame: int) -> bytes:
        avih = struct.pack(
            "<10I16x",
            1_000_000 // fps,  # microseconds per frame
            max_frame * fps,  # max bytes per second
            0,
            AVIF_HASINDEX,
            total_frames,
            0,  # initial frames
            1,  # streams
            max_frame,  # suggested buffer size
            width,
            height,
        )
        strh = struct.pack(
            "<4s4sIHHIIIIIIII4h",
            b"vids",
            b"MJPG",
            0,
            0,
            0,
            0,
            1,  # scale
            fps,  # rate: rate / scale = frames per second
            0,
            total_frames,
            max_frame,
            0xFFFFFFFF,  # quality: default
            0,
            0,
            0,
            width,
            height,
        )
        strf = struct.pack("<IiiHH4sIiiII", 40, width, height, 1, 24, b"MJPG", width * height * 3, 0, 0, 0, 0)
        strl = b"strl" + _riff_chunk(b"strh", strh) + _riff_chunk(b"strf", strf)
        hdrl = b"hdrl" + _riff_chunk(b"avih", avih) + _riff_chunk(b"LIST", strl)
        return (
            b"RIFF"
            + struct.pack("<I", riff_size)
            + b"AVI "
            + _riff_chunk(b"LIST", hdrl)
            + b"LIST"
            + struct.pack("<I", movi_size)
            + b"movi"
        )

    head_size = len(header(0, 0, 0, 0))
    out.write(b"\x00" * head_size)  # placeholder, same length as the final header
    index: list[tuple[int, int]] = []  # (offset from the 'movi' fourcc, frame size)
    movi_offset = 4
    max_frame = 0
    for frame in _video_frames(width, height, seed=2025):
        chunk = _riff_chunk(b"00dc", frame)
        out.write(chunk)
        index.append((movi_offset, len(frame)))
        movi_offset += len(chunk)
        max_frame = max(max_frame, len(frame))
        if head_size + movi_offset - 4 + 8 + 16 * len(index) >= min_bytes:
            break
    idx1 = b"".join(struct.pack("<4sIII", b"00dc", AVIIF_KEYFRAME, offset, size) for offset, size in index)
    out.write(_riff_chunk(b"idx1", idx1))
    end = out.tell()

    out.seek(start)
    out.write(header(len(index), end - start - 8, movi_offset, max_frame))
    out.seek(end)


def _riff_chunk(fourcc: bytes, data: bytes) -> bytes:
    # RIFF chunks are padded to an even length; the size field excludes the pad byte.
    pad = b"\x00" if len(data) % 2 else b""
    return fourcc + struct.pack("<I", len(data)) + data + pad


# --- campaigns -----------------------------------------------------------------------------


def sha1_of(path: Path) -> str:
    digest = hashlib.sha1()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _write(path: Path, kind: str, writer: Callable[[BinaryIO], None]) -> SampleFile:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        writer(handle)
    return SampleFile(path=path, size=path.stat().st_size, sha1=sha1_of(path), kind=kind)


def _campaign_dir(target_dir: Path, campaign_id: str, number: str, name: str, status: str) -> Path:
    # A fresh folder each time: a demo that moved a campaign to A2 starts over in A1.
    directory = target_dir / campaign_id
    if directory.exists():
        shutil.rmtree(directory)
    (directory / MASTER_ASSETS).mkdir(parents=True)
    meta = {"id": campaign_id, "number": number, "name": name, "status": status}
    (directory / "campaign.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return directory


def write_sample_campaigns(target_dir: Path) -> list[SampleCampaign]:
    """Write the three sample campaigns under ``target_dir`` (one folder each, named by id).

    - ``Café Spring "Launch" 🌸`` in A1 with a PNG, a JPEG, a PDF and a video over 21 MB;
    - ``Autumn Teaser – Ü-Bahn`` in A1 with an empty ``Master Assets`` folder;
    - ``Winter Sale ❄️`` already in A2, with one PNG.

    Other folders in ``target_dir`` are left alone.
    """
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    campaigns: list[SampleCampaign] = []

    spring_id, spring_name = _campaign_id("spring"), 'Café Spring "Launch" 🌸'
    spring = _campaign_dir(target_dir, spring_id, "CMP-2025-0001", spring_name, "A1")
    master = spring / MASTER_ASSETS
    files = [
        _write(master / 'Affiche "Printemps" 🌸.png', "png", lambda f: write_png(f, 480, 320, seed=1)),
        _write(master / "Photo terrasse l'été.jpg", "jpeg", lambda f: write_jpeg(f, 1024, 683, seed=2)),
        _write(
            master / "Brochure – Café Spring.pdf",
            "pdf",
            lambda f: write_pdf(
                f,
                spring_name,
                [
                    "Café Spring « Launch »",
                    "Brochure de la campagne CMP-2025-0001.",
                    "Été, crème brûlée, déjà.",
                ],
            ),
        ),
        _write(master / "Spot TV « Printemps » 🌸.avi", "avi", lambda f: write_avi(f, BIG_VIDEO_MIN_BYTES)),
    ]
    # A second folder next to Master Assets, so that the hook has to pick the right one by name.
    notes = spring / "Working Files" / "notes.txt"
    notes.parent.mkdir()
    notes.write_text("Drafts and briefs; not handed over to Box.\n", "utf-8")
    campaigns.append(
        SampleCampaign(
            spring_id, "CMP-2025-0001", spring_name, "A1", spring, tuple(sorted(files, key=_by_name))
        )
    )

    autumn_id, autumn_name = _campaign_id("autumn"), "Autumn Teaser – Ü-Bahn"
    autumn = _campaign_dir(target_dir, autumn_id, "CMP-2025-0002", autumn_name, "A1")
    campaigns.append(SampleCampaign(autumn_id, "CMP-2025-0002", autumn_name, "A1", autumn, ()))

    winter_id, winter_name = _campaign_id("winter"), "Winter Sale ❄️"
    winter = _campaign_dir(target_dir, winter_id, "CMP-2024-0117", winter_name, "A2")
    banner = _write(
        winter / MASTER_ASSETS / "Banner Winter.png", "png", lambda f: write_png(f, 320, 100, seed=3)
    )
    campaigns.append(SampleCampaign(winter_id, "CMP-2024-0117", winter_name, "A2", winter, (banner,)))
    return campaigns


def _by_name(sample: SampleFile) -> tuple[str, str]:
    return (sample.path.name.casefold(), sample.path.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the sample campaigns for the local OTMM server.")
    parser.add_argument("target", type=Path, help="campaigns folder to write into (created if missing)")
    args = parser.parse_args(argv)
    for campaign in write_sample_campaigns(args.target):
        total = sum(f.size for f in campaign.master_assets)
        count = len(campaign.master_assets)
        print(f"{campaign.id}  {campaign.status}  {campaign.name}  ({count} files, {total} bytes)")
        for sample in campaign.master_assets:
            print(f"    {sample.size:>10}  {sample.sha1}  {sample.path.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
