"""Reading the files people import (CSV tables, JSON documents) within the limits, and the
rules their text meets before it is stored.

A CSV table may have at most ``WILDLENS_LIMITS__CSV_COLUMNS`` columns; a JSON document may nest
at most ``WILDLENS_LIMITS__JSON_DEPTH`` levels. Every string is checked with
:func:`~wildlens.common.text.text_problem`: a cell that fills a name column is a name (no
control characters, at most the column's length), anything else is free text of at most
:data:`FREE_TEXT_CHARS` characters. Python's ``csv`` module has no limit on a cell's length in
this process (frictionless lifts it on import), which is why lengths are checked here.

These functions block; importers run them off the event loop
(:func:`~wildlens.common.offload.run_stoppable`) and pass the stop flag on.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

from wildlens.common.errors import Invalid
from wildlens.common.offload import StopFlag
from wildlens.common.settings import LimitSettings
from wildlens.common.text import text_problem

__all__ = [
    "FREE_TEXT_CHARS",
    "CsvRow",
    "cell_problem",
    "json_text_problems",
    "parse_json",
    "read_csv",
    "row_problems",
]

# Free text (comments, descriptions) longer than this is not what the column is for.
FREE_TEXT_CHARS = 10_000
# How often (rows, nodes) long loops look at the stop flag.
_CHECK_EVERY = 2048

# A row as ``csv.DictReader`` gives it (cells past the header under ``None``), with the line
# it ends on.
CsvRow = tuple[int, dict[str | None, Any]]


def cell_problem(value: str, max_length: int | None) -> str | None:
    """What makes ``value`` unfit to store: as a name of at most ``max_length`` characters,
    or, where that is None, as free text; None when it is fine."""
    if max_length is None:
        if len(value) > FREE_TEXT_CHARS:
            return f"is {len(value)} characters long, more than the {FREE_TEXT_CHARS} allowed"
        return text_problem(value, free_text=True)
    if len(value) > max_length:
        return f"is {len(value)} characters long, more than the {max_length} allowed"
    return text_problem(value)


def row_problems(
    row: Mapping[Any, Any], names: Mapping[str, int | None]
) -> Iterable[tuple[str, str]]:
    """(column, problem) for each cell of ``row`` unfit to store; ``names`` gives the columns
    that fill name columns, with their lengths (None: free text)."""
    for column, value in row.items():
        if column is None or not isinstance(value, str) or not value:
            continue
        problem = cell_problem(value, names.get(column))
        if problem is not None:
            yield column, f"{column} {problem}"


def _too_many_columns(what: str, columns: int, limits: LimitSettings) -> Invalid:
    return Invalid(
        f"{what} has {columns} columns, more than the {limits.csv_columns} "
        "WILDLENS_LIMITS__CSV_COLUMNS allows"
    )


def read_csv(
    text: str,
    what: str,
    limits: LimitSettings,
    stop: StopFlag,
    *,
    delimiter: str = ",",
) -> tuple[list[str], list[CsvRow]]:
    """The header and rows of a CSV ``text`` (the file ``what``), each row with the line it
    ends on (a quoted cell may hold line breaks).

    Raises:
        Invalid: more columns than the limit, or text the ``csv`` module cannot read.
    """
    # Counted before the csv module reads the header: it parses a row in one go, holding the
    # interpreter (a million columns, a second), and a header that wide is no table of ours.
    first_line = text[: text.find("\n")] if "\n" in text else text
    if first_line.count(delimiter) >= limits.csv_columns:
        raise _too_many_columns(what, first_line.count(delimiter) + 1, limits)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[CsvRow] = []
    try:
        header = list(reader.fieldnames or [])
        if len(header) > limits.csv_columns:
            raise _too_many_columns(what, len(header), limits)
        for n, row in enumerate(reader):
            if n % _CHECK_EVERY == 0:
                stop.check()
            rows.append((reader.line_num, row))
    except csv.Error as error:
        raise Invalid(f"{what} cannot be read as CSV (line {reader.line_num}): {error}") from error
    return header, rows


def parse_json(data: bytes, what: str, limits: LimitSettings) -> Any:
    """The JSON document in ``data`` (the file ``what``).

    Raises:
        Invalid: not JSON, or nested deeper than Python's parser goes.
    """
    try:
        return json.loads(data)
    except RecursionError as error:
        raise Invalid(
            f"{what} nests arrays and objects deeper than the {limits.json_depth} levels "
            "WILDLENS_LIMITS__JSON_DEPTH allows"
        ) from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise Invalid(f"{what} is not JSON: {error}") from error


def json_text_problems(
    document: Any, what: str, limits: LimitSettings, stop: StopFlag
) -> list[tuple[list[str | int], str]]:
    """(path, problem) for every string of ``document`` (keys too) unfit to store as free
    text, the path from the top (``["images", 3, "location"]``).

    Raises:
        Invalid: the document nests deeper than the limit.
    """
    problems: list[tuple[list[str | int], str]] = []
    # Walked with a stack of its own, never by recursion: the depth is what is being checked.
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(document, 0, ())]
    visited = 0
    while stack:
        value, depth, path = stack.pop()
        visited += 1
        if visited % _CHECK_EVERY == 0:
            stop.check()
        if isinstance(value, str):
            problem = cell_problem(value, None)
            if problem is not None:
                problems.append((list(path), problem))
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth >= limits.json_depth:
            where = "/".join(str(p) for p in path[:8]) or "the top"
            raise Invalid(
                f"{what} nests arrays and objects deeper than the {limits.json_depth} levels "
                f"WILDLENS_LIMITS__JSON_DEPTH allows (at {where})"
            )
        if isinstance(value, dict):
            for key, item in value.items():
                problem = text_problem(key, free_text=True)
                if problem is not None:
                    problems.append(([*path, key], f"the key {problem}"))
                stack.append((item, depth + 1, (*path, key)))
        else:
            stack.extend((item, depth + 1, (*path, i)) for i, item in enumerate(value))
    return problems
