"""Options of ``wildlens up`` that services declare (``ServiceSpec.up_options``): each sets one
field of one of the service's settings groups, so the command knows no service's settings."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

from wildlens.common.service.spec import ServiceSpec
from wildlens.common.settings import Settings, SettingsGroup

__all__ = ["ChosenSettings", "with_service_options"]


@dataclass(frozen=True)
class ChosenSettings:
    """What a command line set through service options, per settings group."""

    values: dict[type[SettingsGroup], dict[str, object]] = field(default_factory=dict)

    def applied_to(self, settings: Settings) -> Settings:
        for group, chosen in self.values.items():
            current = group.of(settings)
            settings = settings.model_copy(update={group.group: current.model_copy(update=chosen)})
        return settings


def with_service_options(
    command: Callable[..., None], specs: Sequence[ServiceSpec]
) -> Callable[..., None]:
    """``command`` taking, besides its own options, every option ``specs`` declare; it gets
    the ones given as its ``chosen`` argument (a :class:`ChosenSettings`).

    Raises:
        ValueError: two options would have the same name.
    """
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "chosen"]
    targets: dict[str, type[SettingsGroup]] = {}
    added: list[inspect.Parameter] = []
    for spec in specs:
        for option in spec.up_options:
            name = option.field
            if name in targets or name in signature.parameters:
                raise ValueError(f"two options are called --{name.replace('_', '-')}")
            group = spec.group_of(name)
            if group is None:
                continue  # ``ServiceSpec`` refuses an option without its setting
            # Not given: the setting keeps what the environment says.
            kind = group.model_fields[name].annotation | None  # type: ignore[operator]
            added.append(
                inspect.Parameter(
                    name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=None,
                    annotation=Annotated[kind, typer.Option(help=option.help)],
                )
            )
            targets[name] = group

    @functools.wraps(command)
    def run(**values: Any) -> None:
        chosen: dict[type[SettingsGroup], dict[str, object]] = {}
        for name, group in targets.items():
            value = values.pop(name)
            if value is not None:
                chosen.setdefault(group, {})[name] = value
        command(**values, chosen=ChosenSettings(chosen))

    # What typer reads to build the command's options.
    run.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
    return run
