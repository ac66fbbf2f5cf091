"""Reading a config: the YAML file within bounds, validated into a `Config`, errors by
key path.

The file is read with a bounded read, parsed by a safe loader that refuses duplicate keys,
deep nesting and alias bombs before any Python object is built, and validated; a problem is
one `ConfigError` naming the file, line or key path (`window.look_bak: unknown key; did you
mean 'look_back'?`). `lstmcli.config` re-exports `load_config`, `config_from_dict` and
`format_loc`.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from lstmcli.config.sections import MAX_CONFIG_BYTES, MAX_DEPTH, MAX_VALUES
from lstmcli.config.spec import Config
from lstmcli.errors import ConfigError


def format_loc(loc: tuple[Any, ...]) -> str:
    """('model', 'layers', 1, 'units') -> 'model.layers[1].units'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            text = text if text.isprintable() else repr(text)  # a key holding a line break
            out += ("." if out else "") + _short(text, 40)
    return out or "(top level)"


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at the parent of `loc`, found by walking the schema."""
    model: Any = Config
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        ann = field.annotation
        for candidate in getattr(ann, "__args__", ()) + (ann,):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                model = candidate
                break
        else:
            return []
    return list(model.model_fields)


def _describe(err: dict[str, Any]) -> str:
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(allowed)}"
        return f"unknown key; {hint}"
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error" and not loc:
        return str(err.get("ctx", {}).get("error", err["msg"]))
    received = err.get("input")
    msg = err["msg"]
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        msg = msg.replace("Input should be", "must be")
    if kind == "less_than_equal" and loc and loc[-1] in _LIMITS:
        msg += f" ({_LIMITS[loc[-1]]})"
    return f"{msg}. Received: {_short(repr(received))}"


# Why each upper limit is there, shown with it.
_STEPS = "a limit no real series needs; beyond it the arrays would not fit in memory"
_LIMITS = {
    "look_back": _STEPS, "horizon": _STEPS, "chunk_length": _STEPS, "interval_steps": _STEPS,
    "batch_size": "a limit no real data set needs; one batch must fit in memory",
    "stride": "a limit no real series needs", "season_length": "a limit no real series needs",
    "epochs": "a limit no real training needs", "patience": "a limit no real training needs",
    "checkpoint_every": "a limit no real training needs",
    "units": "a limit no real model needs; its weights would not fit in memory",
    "seed": "seeds are 32-bit: 0 to 4294967295",
    "learning_rate": "larger steps diverge to NaN",
    "l2": "a larger penalty only drives every weight to 0",
}


def _short(text: str, limit: int = 80) -> str:
    """A value as shown in an error: long ones (a YAML alias bomb) cut to `limit` chars."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.safe_load, except that a key given twice in one mapping is an error (PyYAML
    silently keeps the last one), a key must be a plain value, and nesting is bounded."""

    depth = 0  # of the node being composed
    nodes = 0  # composed so far (an alias adds none: it is its anchor's node again)

    def compose_node(self, parent, index):
        # composing recurses once per level: 20,000 brackets would end in RecursionError
        self.depth += 1
        try:
            problem = None
            if self.depth > MAX_DEPTH:
                problem = f"nested more than {MAX_DEPTH} levels deep"
            elif not self.check_event(yaml.AliasEvent):
                self.nodes += 1
                if self.nodes > MAX_VALUES:
                    problem = f"more than {MAX_VALUES:,} values; a config needs far fewer"
            if problem:
                raise yaml.composer.ComposerError(None, None, problem,
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:  # `? [a, b]` or `{[1]: 2}`: PyYAML would fail on `key in seen`
                kind = {list: "list", dict: "mapping", set: "set"}.get(type(key), "collection")
                raise yaml.constructor.ConstructorError(
                    None, None, f"a key must be a plain value such as a name, not a {kind}",
                    key_node.start_mark) from None
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{_short(str(key), 40)}' appears twice in one mapping",
                    key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a document that is small as text but huge once its aliases are expanded (a
    "billion laughs" bomb), or whose aliases form a cycle, before any Python object is built.

    An alias is the node of its anchor again, so the expanded size and depth of every node
    are computed once (memoised), walking the graph without recursion."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_: set[int] = set()  # the nodes on the path being walked
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        kids = ([n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode)
                else node.value if isinstance(node, yaml.SequenceNode) else [])
        if done:
            size[id(node)] = 1 + sum(size[id(k)] for k in kids)
            depth[id(node)] = 1 + max((depth[id(k)] for k in kids), default=0)
            open_.discard(id(node))
            if size[id(node)] > MAX_VALUES or depth[id(node)] > MAX_DEPTH:
                what = (f"more than {MAX_VALUES:,} values" if size[id(node)] > MAX_VALUES
                        else f"nesting more than {MAX_DEPTH} levels deep")
                raise yaml.composer.ComposerError(
                    None, None, f"its aliases expand to {what}; a config needs far fewer",
                    node.start_mark)
            continue
        if id(node) in size:
            continue
        if id(node) in open_:
            raise yaml.composer.ComposerError(
                None, None, "an alias refers to the collection it is in", node.start_mark)
        open_.add(id(node))
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in size)


def _parse(text: str) -> Any:
    """The YAML document in `text` as Python objects, within the limits above."""
    # Fast path for the worst case: PyYAML scans up to 1024 characters ahead of every
    # "[" or "{" for a possible key, so a run of brackets costs it half a second to reach
    # the composer's depth check below. A run of openers is found here in one pass.
    for run in re.finditer(r"[\[{][\[{\s]*", text):
        openers = [i for i, c in enumerate(run.group(), run.start()) if c in "[{"]
        if len(openers) > MAX_DEPTH:
            at = openers[MAX_DEPTH]
            line = text.count("\n", 0, at)
            mark = yaml.Mark("<config>", at, line, at - (text.rfind("\n", 0, at) + 1), None,
                             None)
            raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_DEPTH} "
                                              "levels deep", mark)
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    """' line L, column C: invalid YAML (problem)' on one line."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return f" line {line}: invalid YAML (character #x{char:04x} is not allowed in YAML)"
    mark = getattr(exc, "problem_mark", None)
    where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
    problem = re.sub(r"\s*\n\s*", " ", str(getattr(exc, "problem", None) or exc))
    return f"{where} invalid YAML ({problem})"


def config_from_dict(raw: Any, *, source: str = "config") -> Config:
    """Validate a parsed YAML document into a Config, or raise ConfigError naming every bad key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the config must be a YAML mapping with keys "
                          "data, window, model, training")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        lines = [_describe(e) if e["type"] == "value_error" and not e["loc"]
                 else f"{format_loc(tuple(e['loc']))}: {_describe(e)}" for e in errors[:3]]
        more = f"; and {len(errors) - 3} more" if len(errors) > 3 else ""
        raise ConfigError(f"{source}: " + "; ".join(lines) + more) from None


def load_config(path: str | Path) -> Config:
    """Read a YAML config safely and validate it."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)  # a bounded read: the path may be /dev/zero
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: cannot read config: is a directory; give the YAML "
                          "file itself") from None
    except PermissionError:
        raise ConfigError(f"{path}: cannot read config: permission denied") from None
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise ConfigError(f"{path}: cannot read config: {reason}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: the config is over {MAX_CONFIG_BYTES:,} bytes; a config "
                          "needs a few hundred")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path}: line {line}: byte 0x{data[exc.start]:02x} is not UTF-8 "
                          "text; save the config as UTF-8") from None
    try:
        raw = _parse(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}:{_yaml_problem(exc, text)}") from None
    return config_from_dict(raw, source=str(path))
