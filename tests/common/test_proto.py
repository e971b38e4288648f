"""The generated event code matches proto/ (``make proto`` was run after the last change)."""

from __future__ import annotations

from pathlib import Path

from wildlens.common.events import codegen

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "libs" / "common" / "wildlens" / "common" / "events" / "v1"


def test_generated_code_is_not_stale() -> None:
    expected = codegen.generate(ROOT / "proto")
    committed = {p.name: p.read_text() for p in GENERATED.glob("*_pb2.py*")}
    stale = sorted(
        n for n in expected.keys() | committed.keys() if expected.get(n) != committed.get(n)
    )
    assert not stale, f"run `make proto`: {', '.join(stale)} differ from proto/"


def test_every_proto_file_is_generated() -> None:
    protos = {p.stem for p in (ROOT / "proto" / "wildlens" / "v1").glob("*.proto")}
    modules = {p.name.removesuffix("_pb2.py") for p in GENERATED.glob("*_pb2.py")}
    assert protos == modules
