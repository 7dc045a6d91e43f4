"""Each sample file is a valid file of its format, and the samples come out the same every time."""

from __future__ import annotations

import io
import json
import re
import struct
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image

from local_stack.samples import BIG_VIDEO_MIN_BYTES, SampleCampaign, SampleFile, write_sample_campaigns


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[SampleCampaign]:
    return write_sample_campaigns(tmp_path_factory.mktemp("samples"))


def _files(samples: list[SampleCampaign], kind: str) -> list[SampleFile]:
    found = [f for c in samples for f in c.master_assets if f.kind == kind]
    assert found, f"no {kind} sample"
    return found


def test_three_campaigns_as_the_demo_needs_them(samples: list[SampleCampaign]) -> None:
    by_status = {(c.name, c.status, len(c.master_assets)) for c in samples}
    assert by_status == {
        ('Café Spring "Launch" 🌸', "A1", 4),
        ("Autumn Teaser – Ü-Bahn", "A1", 0),
        ("Winter Sale ❄️", "A2", 1),
    }
    for campaign in samples:
        meta = json.loads((campaign.dir / "campaign.json").read_text("utf-8"))
        assert meta == {
            "id": campaign.id,
            "number": campaign.number,
            "name": campaign.name,
            "status": campaign.status,
        }
        assert re.fullmatch(r"[0-9a-f]{40}", campaign.id) and campaign.dir.name == campaign.id
        assert campaign.master_assets_dir.is_dir()
        on_disk = sorted(p.name for p in campaign.master_assets_dir.iterdir())
        assert on_disk == sorted(f.path.name for f in campaign.master_assets)


def test_output_is_deterministic_and_fast(tmp_path: Path, samples: list[SampleCampaign]) -> None:
    started = time.monotonic()
    again = write_sample_campaigns(tmp_path)
    assert time.monotonic() - started < 5
    assert [(f.path.name, f.size, f.sha1) for c in again for f in c.master_assets] == [
        (f.path.name, f.size, f.sha1) for c in samples for f in c.master_assets
    ]
    # Writing over an earlier copy resets it, e.g. after a demo moved a campaign to A2.
    (again[0].dir / "campaign.json").write_text('{"id": "x", "name": "x", "status": "A2"}')
    assert [c.status for c in write_sample_campaigns(tmp_path)] == [c.status for c in samples]


def test_the_big_video_needs_a_chunked_upload(samples: list[SampleCampaign]) -> None:
    (video,) = _files(samples, "avi")
    assert video.size >= BIG_VIDEO_MIN_BYTES == 21_000_000
    assert video.path.stat().st_size == video.size


def test_png_files_are_valid(samples: list[SampleCampaign]) -> None:
    for sample in _files(samples, "png"):
        data = sample.path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        chunks, pos = [], 8
        while pos < len(data):
            (length,) = struct.unpack(">I", data[pos : pos + 4])
            kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
            (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
            assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r} of {sample.path.name}"
            chunks.append((kind, body))
            pos += 12 + length
        assert pos == len(data)
        assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
        width, height, depth, colour, *_ = struct.unpack(">IIBBBBB", chunks[0][1])
        assert (depth, colour) == (8, 2)
        pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
        assert len(pixels) == height * (1 + width * 3)
        with Image.open(sample.path) as image:
            image.load()
            assert image.size == (width, height)


def test_jpeg_files_are_valid(samples: list[SampleCampaign]) -> None:
    for sample in _files(samples, "jpeg"):
        with Image.open(sample.path) as image:
            assert image.format == "JPEG"
            image.verify()
        with Image.open(sample.path) as image:
            image.load()  # decodes every scan
            assert image.size == (1024, 683)


def test_pdf_files_are_valid(samples: list[SampleCampaign]) -> None:
    for sample in _files(samples, "pdf"):
        data = sample.path.read_bytes()
        assert re.match(rb"%PDF-1\.[0-7]\n", data)
        assert data.rstrip().endswith(b"%%EOF")
        startxref = int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data).group(1))
        assert data[startxref:].startswith(b"xref")

        # Every cross-reference entry is 20 bytes and points at the object it names.
        header = re.match(rb"xref\n0 (\d+)\n", data[startxref:])
        count = int(header.group(1))
        table = data[startxref + header.end() : startxref + header.end() + 20 * count]
        entries = [table[i : i + 20] for i in range(0, len(table), 20)]
        assert entries[0] == b"0000000000 65535 f\r\n"
        objects = {}
        for number, entry in enumerate(entries[1:], start=1):
            offset, generation, kind = int(entry[:10]), int(entry[11:16]), entry[17:18]
            assert (generation, kind) == (0, b"n")
            match = re.match(rb"%d 0 obj\n(.*?)\nendobj\n" % number, data[offset:], re.S)
            assert match, f"xref entry {number} does not point at its object"
            objects[number] = match.group(1)

        trailer = data[startxref + header.end() + 20 * count :]
        assert trailer.startswith(b"trailer\n")
        assert int(re.search(rb"/Size (\d+)", trailer).group(1)) == count
        root = int(re.search(rb"/Root (\d+) 0 R", trailer).group(1))
        assert b"/Type /Catalog" in objects[root]
        pages = int(re.search(rb"/Pages (\d+) 0 R", objects[root]).group(1))
        assert b"/Count 1" in objects[pages]
        for body in objects.values():
            if b"stream\n" in body:
                length = int(re.search(rb"/Length (\d+)", body).group(1))
                content = body.split(b"stream\n", 1)[1]
                assert content[length:] == b"\nendstream"


def _riff_chunks(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """Return (fourcc, data start, data length) for each chunk between start and end."""
    chunks, pos = [], start
    while pos < end:
        fourcc, length = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks.append((fourcc, pos + 8, length))
        pos += 8 + length + (length % 2)
    assert pos == end, "chunks overrun their parent"
    return chunks


def test_the_video_is_a_valid_mjpeg_avi(samples: list[SampleCampaign]) -> None:
    (video,) = _files(samples, "avi")
    data = video.path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"AVI "
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8

    top = _riff_chunks(data, 12, len(data))
    assert [(c[0], data[c[1] : c[1] + 4]) for c in top[:2]] == [(b"LIST", b"hdrl"), (b"LIST", b"movi")]
    assert top[2][0] == b"idx1"

    _, hdrl_at, hdrl_len = top[0]
    hdrl = _riff_chunks(data, hdrl_at + 4, hdrl_at + hdrl_len)
    assert hdrl[0][0] == b"avih" and hdrl[0][2] == 56
    avih = struct.unpack("<10I", data[hdrl[0][1] : hdrl[0][1] + 40])
    total_frames, width, height = avih[4], avih[8], avih[9]
    assert (avih[0], avih[6], width, height) == (40_000, 1, 1280, 720)

    strl = _riff_chunks(data, hdrl[1][1] + 4, hdrl[1][1] + hdrl[1][2])
    assert [c[0] for c in strl] == [b"strh", b"strf"]
    strh = struct.unpack("<4s4sIHHIIIIIIII4h", data[strl[0][1] : strl[0][1] + 56])
    assert strh[:2] == (b"vids", b"MJPG") and strh[7] / strh[6] == 25 and strh[9] == total_frames
    strf = struct.unpack("<IiiHH4s", data[strl[1][1] : strl[1][1] + 20])
    assert strf == (40, width, height, 1, 24, b"MJPG")

    movi_fourcc_at = top[1][1]
    frames = _riff_chunks(data, movi_fourcc_at + 4, top[1][1] + top[1][2])
    assert len(frames) == total_frames > 1 and {f[0] for f in frames} == {b"00dc"}
    for _, start, length in frames:
        assert (
            data[start : start + 2] == b"\xff\xd8"
            and data[start + length - 2 : start + length] == b"\xff\xd9"
        )

    index = [
        struct.unpack("<4sIII", data[top[2][1] + i : top[2][1] + i + 16]) for i in range(0, top[2][2], 16)
    ]
    assert [(i[2], i[3]) for i in index] == [
        (start - 8 - movi_fourcc_at, length) for _, start, length in frames
    ]

    _, first, length = frames[0]
    with Image.open(io.BytesIO(data[first : first + length])) as frame:
        frame.load()
        assert (frame.format, frame.size) == ("JPEG", (width, height))
