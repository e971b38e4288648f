"""Removing what a test declared on the shared RabbitMQ."""

from __future__ import annotations

import asyncio
import json
import shutil

import aio_pika

EXCHANGE_SUFFIXES = ("wildlens.events", "wildlens.events.dlx")


async def _queues() -> list[str]:
    """Names of all queues, read with rabbitmqctl (on the broker's machine)."""
    return list(await queue_depths(""))


async def queue_depths(prefix: str) -> dict[str, int]:
    """How many messages (ready and unacknowledged) each queue whose name starts with
    ``prefix`` holds, read with rabbitmqctl (on the broker's machine)."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        return {}
    process = await asyncio.create_subprocess_exec(
        ctl,
        "-q",
        "list_queues",
        "name",
        "messages",
        "--formatter",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    if process.returncode != 0:
        return {}
    return {
        row["name"]: int(row.get("messages") or 0)
        for row in json.loads(out or b"[]")
        if row["name"].startswith(prefix)
    }


async def delete_prefixed(url: str, user: str, password: str, prefix: str) -> None:
    connection = await aio_pika.connect_robust(url, login=user, password=password)
    async with connection:
        channel = await connection.channel()
        for name in await _queues():
            if name.startswith(prefix):
                await channel.queue_delete(name)
        # Exchange names are known; deleting one that was never declared is harmless.
        for suffix in EXCHANGE_SUFFIXES:
            await channel.exchange_delete(prefix + suffix)
