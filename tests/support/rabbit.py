"""Removing what a test declared on the shared RabbitMQ."""

from __future__ import annotations

import json
import shutil
import subprocess

import aio_pika


def _list(kind: str) -> list[str]:
    """Names of queues or exchanges, read with rabbitmqctl (same machine as the broker)."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        return []
    out = subprocess.run(
        [ctl, "-q", f"list_{kind}", "name", "--formatter", "json"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    if out.returncode != 0:
        return []
    return [row["name"] for row in json.loads(out.stdout or "[]")]


async def delete_prefixed(url: str, user: str, password: str, prefix: str) -> None:
    connection = await aio_pika.connect_robust(url, login=user, password=password)
    async with connection:
        for name in _list("queues"):
            if name.startswith(prefix):
                channel = await connection.channel()
                await channel.queue_delete(name)
        for name in _list("exchanges"):
            if name.startswith(prefix):
                channel = await connection.channel()
                await channel.exchange_delete(name)
