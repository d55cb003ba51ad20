"""`defectlab` commands from the benchmark scripts: run in this process (shared.suite.cli.main) and kept as the exact
command lines that reproduce a number (a result's `defectlab` field), and a recorded recipe written back as the
`key=value` words that train it."""
from __future__ import annotations

import dataclasses
import json
import shlex

ALIASES = {"imgsz": "image_size", "batch": "batch_size"}  # names of fields in recipes recorded before their renames


def run(*words, quiet: bool = False) -> str:
    """`defectlab WORDS` in this process; its command line, quoted for a shell (`--quiet` runs, unrecorded: it changes
    no number). A failure ends the script with the command's status."""
    from shared.suite import cli

    words = [str(word) for word in words]
    line = shlex.join(["defectlab", *words])
    print(f"$ {line}", flush=True)
    status = cli.main([*words, *(["--quiet"] if quiet else [])])
    if status:
        raise SystemExit(f"{line}: exit status {status}")
    return line


def recipe(task: str, words: list[str]):
    """The recipe `defectlab TASK train WORDS` trains, read as the command line reads it."""
    from shared.suite import cli, registry
    from shared.suite.recipe import recipe_values

    parser = cli.build_parser()
    args = parser.parse_args(cli.expand_key_values([task, "train", *words], parser))
    recipe_class = registry.task(task).recipe
    return recipe_class.from_preset(args.preset, **recipe_values(args, recipe_class))


def word(key: str, value) -> str:
    """key=value as the command line reads it back: true/false, lists comma-joined, dicts as JSON."""
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, (list, tuple)):
        text = ",".join(map(str, value))
    elif isinstance(value, dict):
        text = json.dumps(value)
    else:
        text = str(value)
    return f"{key}={text}"


def recipe_words(task: str, recorded: dict, first=("data",), last=("out", "name")) -> list[str]:
    """The words that train `recorded` (a run's config.json, of any version) from its preset as it is today:
    preset=, then every field whose recorded value differs from the preset's. Fields renamed since (imgsz, batch)
    read as today's; a detection budget recorded in extra as {"time": H} becomes time=H. Fields the record lacks
    keep today's preset values."""
    from shared.suite import registry

    recipe_class = registry.task(task).recipe
    values = {ALIASES.get(key, key): value for key, value in recorded.items()}
    extra = values.get("extra")
    if task == "detection" and isinstance(extra, dict) and "time" in extra:
        values["extra"] = {k: v for k, v in extra.items() if k != "time"}
        values["time"] = values.get("time") or extra["time"]
    preset = values.pop("preset")
    defaults = recipe_class.from_preset(preset).to_dict()
    fields = [f.name for f in dataclasses.fields(recipe_class)]
    if task == "detection" and "time" not in fields:  # the budget before it was a field of its own
        fields.insert(fields.index("epochs") + 1, "time")
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise KeyError(f"{task} recipe: {', '.join(unknown)} recorded, not fields today")
    changed = [key for key in fields if key in values and values[key] != defaults.get(key)]
    order = [*(k for k in first if k in changed), *(k for k in changed if k not in first + last),
             *(k for k in last if k in changed)]
    return [f"preset={preset}", *(word(key, values[key]) for key in order)]


def line(*words) -> str:
    return shlex.join(["defectlab", *map(str, words)])


def train_line(task: str, recorded: dict) -> str:
    """The `defectlab TASK train` command of a recorded recipe (recipe_words)."""
    return line(task, "train", *recipe_words(task, recorded))
