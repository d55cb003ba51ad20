"""What a request to /v1/inspect may set besides its picture, from the registry and the task specs: `tasks`, and
each loaded task's request options (`Option.request`), spelt `TASK.OPTION` (TASK also as one of its aliases) or the
plain `OPTION` where only one loaded task has a request option of that name. The values are parsed by
shared.suite.options, the parser of the CLI's TASK.OPTION=VALUE words. The API description (openapi.py) and the
app read the same table."""
from __future__ import annotations

from shared.suite import registry
from shared.suite.options import Option, changed

TASKS = "tasks"


def request_options(tasks) -> dict[str, tuple[str, Option]]:
    """{spelling: (task, option)} of every accepted spelling: plain names first, then TASK.OPTION, then the
    alias spellings."""
    dotted, aliased, owners = {}, {}, {}
    for task in tasks:
        spec = registry.task(task)
        for name, option in spec.predict_options.items():
            if option.request:
                dotted[f"{task}.{name}"] = (task, option)
                aliased.update({f"{alias}.{name}": (task, option) for alias in spec.aliases})
                owners.setdefault(name, []).append((task, option))
    plain = {name: found[0] for name, found in owners.items() if len(found) == 1}
    return {**plain, **dotted, **aliased}


def documented(tasks) -> dict[str, tuple[str, Option]]:
    """The spellings the API description names: plain where unique, TASK.OPTION always (aliases left out)."""
    return {spelling: (task, option) for spelling, (task, option) in request_options(tasks).items()
            if "." not in spelling or spelling.partition(".")[0] == task}


def task_names(tasks) -> list[str]:
    """The names and aliases `tasks` accepts."""
    return [*tasks, *(alias for task in tasks for alias in registry.task(task).aliases)]


def spelling_of(field: str) -> str:
    """'-' in an option's name reads as '_', as on the command line."""
    head, dot, name = field.rpartition(".")
    return f"{head}{dot}{name.replace('-', '_')}"


def unknown_reason(field: str, tasks) -> str:
    """Why a field is refused, in a few words (the error adds what is taken)."""
    head, dot, name = spelling_of(field).rpartition(".")
    if dot:
        try:
            owners = [registry.canonical(head)]
        except KeyError:
            return f"unknown field {field!r}"
        if owners[0] not in tasks:
            return f"{field!r}: {owners[0]} is not loaded by this service"
    else:
        owners = list(tasks)
    owners = [t for t in owners if name in registry.task(t).predict_options]
    if len([t for t in owners if registry.task(t).predict_options[name].request]) > 1:
        return f"{field!r} is an option of {', '.join(owners)}: name one as TASK.{name}"
    if owners:
        return f"{field!r} is set when the service starts (--predict {owners[0]}.{name}=VALUE), not per request"
    return f"unknown field {field!r}"


def changes(given: dict[str, str], tasks) -> dict[str, dict]:
    """{task: {option: value}} from a request's fields ({spelling: text}, every spelling known), typed and checked
    by the task's Option. TASK.OPTION wins over the plain OPTION; two spellings of TASK.OPTION are an error. A bad
    value is a one-line ValueError naming the field as it was spelt."""
    table = request_options(tasks)
    chosen = {}  # (task, option name) -> (field, value)
    for field, value in given.items():
        task, option = table[spelling_of(field)]
        key, dotted = (task, option.name), "." in field
        if key in chosen:
            earlier = chosen[key][0]
            if ("." in earlier) == dotted:
                raise ValueError(f"{field}: the same option as {earlier}; give one of them")
            if not dotted:
                continue
        chosen[key] = (field, value)
    out = {}
    for (task, name), (field, value) in chosen.items():
        where = field[:field.rfind(".") + 1]  # '' or the task as spelt, so the error names the field
        out.setdefault(task, {}).update(changed({name: registry.task(task).predict_options[name]}, {name: value},
                                                where))
    return out
