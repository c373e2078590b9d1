"""Edit InvenTree's hand-commented ``config.yaml`` without disturbing anything else.

A YAML round trip (load and dump, even ruamel's) rewrites things an admin cares about: quoting,
``False`` capitalisation, list indentation, commented-out template sections.  So this module edits
the *text*: a YAML parser (PyYAML's ``compose``, with libyaml when available) only *locates* keys,
through the line/column marks of the node tree, and afterwards *verifies* the result: every edit
is re-parsed and must yield exactly the old data with that one change, or the edit is refused and
the document is left as it was.

Speed: a large file is cut into top-level sections (one per top-level key) once, on parse.  An edit
re-parses only the section it touches, which is exact because a section of a block mapping parses
on its own the same way it parses in the file.  Files where that does not hold (anchors and
aliases, directives, several documents, duplicate or merged top-level keys, a flow-style top level)
are edited as one piece and fully re-parsed after each edit.

``atomic_write`` puts the result on disk: temp file beside the target, fsync, rename, original
mode and owner kept, a dated 0600 backup of the previous content, old backups pruned.
"""

from __future__ import annotations

import copy
import datetime as _dt
import math
import os
import re
import stat
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:  # libyaml: ~10x faster, same marks
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - pure-Python fallback
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

__all__ = ["ConfigFileError", "ConfigDocument", "atomic_write", "list_backups"]

Path_ = tuple[str, ...]

_STR_TAG = "tag:yaml.org,2002:str"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_TAG = "tag:yaml.org,2002:merge"

# libyaml and PyYAML treat all of these as line breaks, so line numbers in marks count them too.
_BREAK_RE = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_BREAK_CHARS = "\r\n\x85\u2028\u2029"
_DOC_MARKER_RE = re.compile(r"^(?:---|\.\.\.)(?:[ \t]|$)")
_WIDTH = 1 << 30  # never fold long scalars
_MISSING: Any = object()

_BOOL_FAMILIES = {"true": ("true", "false"), "false": ("true", "false"), "yes": ("yes", "no"),
                  "no": ("yes", "no"), "on": ("on", "off"), "off": ("on", "off")}


class ConfigFileError(Exception):
    """The config file cannot be read, edited or written; the message says where and how to fix."""


# --------------------------------------------------------------------------------------------
# small text helpers


def _split_lines(text: str) -> list[str]:
    """Lines with their own line endings (the last one may have none)."""
    lines: list[str] = []
    start = 0
    for m in _BREAK_RE.finditer(text):
        lines.append(text[start:m.end()])
        start = m.end()
    if start < len(text):
        lines.append(text[start:])
    return lines


def _eol_len(line: str) -> int:
    if line.endswith("\r\n"):
        return 2
    if line and line[-1] in _BREAK_CHARS:
        return 1
    return 0


def _content(line: str) -> str:
    n = _eol_len(line)
    return line[:-n] if n else line


def _eol(line: str) -> str:
    n = _eol_len(line)
    return line[-n:] if n else ""


def _indent(content: str) -> int:
    return len(content) - len(content.lstrip(" "))


def _is_blank_or_comment(content: str) -> bool:
    s = content.strip()
    return not s or s.startswith("#")


def _dominant_newline(lines: list[str]) -> str:
    counts = Counter(_eol(line) for line in lines)
    counts.pop("", None)
    if not counts:
        return "\n"
    return max(counts, key=lambda e: (counts[e], e == "\n"))


# --------------------------------------------------------------------------------------------
# parsing


def _yaml_error_message(exc: yaml.YAMLError, source: str, first_line: int = 0) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        where = f"{source}, line {mark.line + 1 + first_line}, column {mark.column + 1}"
        what = exc.problem or "invalid YAML"
        extra = ""
        if exc.context and exc.context_mark is not None:
            cm = exc.context_mark
            extra = (f" ({exc.context} at line {cm.line + 1 + first_line},"
                     f" column {cm.column + 1})")
        elif exc.context:
            extra = f" ({exc.context})"
        return (f"{where}: {what}{extra}. Fix the YAML at that spot (common causes: a tab used"
                " for indentation, a missing space after ':', an unclosed quote) and run again.")
    return f"{source}: not valid YAML: {exc}. Fix the file and run again."


def _parse(text: str, source: str) -> tuple[Node | None, Any]:
    """Compose and construct in one libyaml pass; raise ConfigFileError on bad YAML."""
    try:
        if "<<" in text:
            # constructing a merge key ('<<: *base') rewrites the node tree in place, which
            # would leave merged-in keys pointing at the anchor's lines: build data separately
            return yaml.compose(text, Loader=_Loader), yaml.load(text, Loader=_Loader)
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise ConfigFileError(_yaml_error_message(exc, source)) from exc
    return node, data


def _find(mapping: MappingNode, key: str) -> tuple[Node, Node] | None:
    found = None
    for k, v in mapping.value:  # the last duplicate wins, as in yaml.safe_load
        if isinstance(k, ScalarNode) and k.tag == _STR_TAG and k.value == key:
            found = (k, v)
    return found


def _shared_ids(root: Node | None) -> set[int]:
    """ids of nodes reached more than once: targets of YAML aliases."""
    seen: set[int] = set()
    shared: set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            shared.add(id(node))
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            for k, v in node.value:
                stack.extend((k, v))
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return shared


def _is_block_mapping(node: Node | None) -> bool:
    return isinstance(node, MappingNode) and not node.flow_style


def _is_block_sequence(node: Node | None) -> bool:
    return isinstance(node, SequenceNode) and not node.flow_style


def _is_plain(node: ScalarNode) -> bool:
    return not node.style  # libyaml gives '', PyYAML None


# --------------------------------------------------------------------------------------------
# comparison and expected data


def _same(a: Any, b: Any) -> bool:
    """Strict equality: True is not 1, 1 is not 1.0, nan equals nan."""
    if isinstance(a, dict):
        return (isinstance(b, dict) and a.keys() == b.keys()
                and all(_same(a[k], b[k]) for k in a))
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


_SCALAR_TYPES = (str, bool, int, float, type(None), _dt.date, _dt.datetime)


def _normalise(value: Any, where: str) -> Any:
    """Deep copy of a value, tuples as lists; refuse what YAML config cannot hold."""
    if isinstance(value, dict):
        return {k: _normalise(v, where) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalise(v, where) for v in value]
    if isinstance(value, _SCALAR_TYPES):
        return value
    raise TypeError(f"cannot write a {type(value).__name__} to {where}: use str, int, float, "
                    "bool, None, list or dict")


def _nested(keys: Path_, value: Any) -> Any:
    for key in reversed(keys):
        value = {key: value}
    return value


def _lookup(data: Any, path: Path_) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return _MISSING
        data = data[key]
    return data


def _with_set(old: Any, rest: Path_, value: Any) -> Any:
    """``old`` (a top-level value) with the key path ``rest`` set: a copy, old stays untouched."""
    if not rest:
        return value
    new = copy.deepcopy(old) if isinstance(old, dict) else {}
    node = new
    for key in rest[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[rest[-1]] = value
    return new


def _with_delete(old: Any, rest: Path_) -> Any:
    new = copy.deepcopy(old)
    node = new
    for key in rest[:-1]:
        node = node[key]
    del node[rest[-1]]
    return new


# --------------------------------------------------------------------------------------------
# rendering (module level so a test can break it on purpose and watch the safety net fire)


def _dump_one(value: Any, style: str | None) -> str:
    out = yaml.safe_dump({"k": value}, default_style=style, allow_unicode=True, sort_keys=False,
                         width=_WIDTH, default_flow_style=False)
    prefix = {None: "k: ", "'": "'k': ", '"': '"k": '}[style]
    if not out.startswith(prefix) or not out.endswith("\n"):
        raise ConfigFileError(f"cannot render the value {value!r} as YAML")
    return out[len(prefix):-1]


def _render_scalar(value: Any, *, quote: str | None = None,
                   bools: tuple[str, str] = ("true", "false"), empty_null: bool = False) -> str:
    """One-line YAML text for a scalar, quoted only when needed (or in the old quote style)."""
    if value is None:
        return "" if empty_null else "null"
    if isinstance(value, bool):
        return bools[0] if value else bools[1]
    style = quote if isinstance(value, str) and quote in ("'", '"') else None
    text = _dump_one(value, style)
    if any(c in text for c in _BREAK_CHARS):  # multi-line quoted scalar: use escapes instead
        text = _dump_one(value, '"')
    return text


def _render_key(key: Any) -> str:
    out = yaml.safe_dump({key: None}, allow_unicode=True, width=_WIDTH, default_flow_style=False)
    suffix = ": null\n"
    if out.startswith("?") or not out.endswith(suffix) or any(
            c in out[:-len(suffix)] for c in _BREAK_CHARS):
        return _dump_one(key, '"')
    return out[:-len(suffix)]


def _bool_words(raw: str) -> tuple[str, str]:
    family = _BOOL_FAMILIES.get(raw.lower(), ("true", "false"))
    if raw.isupper():
        return family[0].upper(), family[1].upper()
    if raw[:1].isupper():
        return family[0].capitalize(), family[1].capitalize()
    return family


# --------------------------------------------------------------------------------------------
# the document


class _Chunk:
    """One top-level key with its value and the comments/blank lines that follow it."""

    __slots__ = ("key", "lines", "node")

    def __init__(self, key: Any, lines: list[str]) -> None:
        self.key = key
        self.lines = lines
        self.node: MappingNode | None = None  # parsed on first edit, marks relative to lines


class ConfigDocument:
    """An editable YAML config file; see the module docstring."""

    data: dict[Any, Any]

    def __init__(self, text: str, source: str = "config.yaml") -> None:
        self.source = source
        self._bom = "\ufeff" if text.startswith("\ufeff") else ""
        body = text[len(self._bom):]
        node, data = _parse(body, source)
        if data is None:  # empty, comments only, or a bare `---`
            node, data = None, {}
        if not isinstance(data, dict) or (node is not None and not isinstance(node, MappingNode)):
            kind = "list" if isinstance(data, list) else type(data).__name__
            raise ConfigFileError(
                f"{source}, line 1, column 1: the top level must be a mapping of settings (like "
                f"'debug: False'), but it is a {kind}. Restore the file from a backup or "
                "InvenTree's config template.")
        self.data = data
        lines = _split_lines(body)
        self._nl = _dominant_newline(lines)
        self._text_cache: str | None = text
        self._survey(node)
        # chunked mode (fast) or whole-file mode (fallback)
        self._header: list[str] = []
        self._chunks: list[_Chunk] = []
        self._index: dict[Any, int] = {}
        self._lines: list[str] = []
        self._root: MappingNode | None = None
        self._chunked = self._can_chunk(node, lines)
        if self._chunked:
            self._build_chunks(node, lines)
        else:
            self._lines = lines
            self._root = node if isinstance(node, MappingNode) else None

    @classmethod
    def parse(cls, text: str, source: str = "config.yaml") -> ConfigDocument:
        return cls(text, source)

    # ---------------------------------------------------------------- public API

    @property
    def text(self) -> str:
        """The current text, with the original BOM and line endings."""
        if self._text_cache is None:
            if self._chunked:
                parts = [*self._header]
                for chunk in self._chunks:
                    parts.extend(chunk.lines)
            else:
                parts = self._lines
            self._text_cache = self._bom + "".join(parts)
        return self._text_cache

    def get(self, path: Iterable[str], default: Any = None) -> Any:
        value = _lookup(self.data, tuple(path))
        return default if value is _MISSING else value

    def set(self, path: Iterable[str], value: Any) -> None:
        path = self._check_path(path)
        value = _normalise(value, ".".join(path))
        current = _lookup(self.data, path)
        if current is not _MISSING and _same(current, value):
            return  # nothing to change: the text stays byte for byte
        for i in range(1, len(path)):
            parent = _lookup(self.data, path[:i])
            if isinstance(parent, list):
                raise ConfigFileError(
                    f"{self.source}: cannot set {'.'.join(path)} because {'.'.join(path[:i])} is "
                    "a list, not a section of settings. Fix that key by hand and run again.")
        top = path[0]
        expected_top = _with_set(self.data.get(top), path[1:], value)
        self._apply(path, expected_top, lambda lines, root: self._edit_set(lines, root, path,
                                                                         value))

    def delete(self, path: Iterable[str]) -> None:
        path = self._check_path(path)
        if _lookup(self.data, path) is _MISSING:
            return
        top = path[0]
        if len(path) == 1:
            self._apply(path, _MISSING, lambda lines, root: self._edit_delete(lines, root, path))
        else:
            expected_top = _with_delete(self.data[top], path[1:])
            self._apply(path, expected_top,
                        lambda lines, root: self._edit_delete(lines, root, path))

    # ---------------------------------------------------------------- survey and chunking

    def _survey(self, root: Node | None) -> None:
        """File-wide style facts, and whether any node is shared (an alias)."""
        bools: Counter[str] = Counter()
        steps: Counter[int] = Counter()
        offsets: Counter[int] = Counter()
        seen: set[int] = set()
        self._shared: set[int] = set()
        stack: list[Node] = [root] if root is not None else []
        while stack:
            node = stack.pop()
            if id(node) in seen:
                self._shared.add(id(node))
                continue
            seen.add(id(node))
            if isinstance(node, ScalarNode):
                if node.tag == _BOOL_TAG and _is_plain(node):
                    words = _bool_words(node.value)
                    bools["upper" if words[0].isupper() else
                          "cap" if words[0][0].isupper() else "lower"] += 1
            elif isinstance(node, MappingNode):
                for k, v in node.value:
                    stack.append(k)
                    stack.append(v)
                    if node.flow_style:
                        continue
                    if _is_block_mapping(v) and v.value:
                        step = v.value[0][0].start_mark.column - k.start_mark.column
                        if step > 0:
                            steps[step] += 1
                    elif _is_block_sequence(v):
                        offsets[v.start_mark.column - k.start_mark.column] += 1
            elif isinstance(node, SequenceNode):
                stack.extend(node.value)
        style = max(("lower", "cap", "upper"), key=lambda s: (bools[s], s == "lower"))
        self._bools = {"lower": ("true", "false"), "cap": ("True", "False"),
                       "upper": ("TRUE", "FALSE")}[style]
        self._step = steps.most_common(1)[0][0] if steps else 2
        self._offset = offsets.most_common(1)[0][0] if offsets else 2
        self._root_col = 0
        if isinstance(root, MappingNode) and root.value:
            self._root_col = root.value[0][0].start_mark.column

    def _can_chunk(self, root: Node | None, lines: list[str]) -> bool:
        if root is None:  # only comments: fine unless a `...` would end the document early
            return not any(line.startswith("...") and _DOC_MARKER_RE.match(line)
                           for line in lines)
        if not _is_block_mapping(root) or self._shared:
            return False
        assert isinstance(root, MappingNode)
        keys = set()
        first = root.value[0][0].start_mark.line if root.value else len(lines)
        for k, _v in root.value:
            if not isinstance(k, ScalarNode) or k.tag == _MERGE_TAG:
                return False
            if (k.tag, k.value) in keys:
                return False
            keys.add((k.tag, k.value))
            line = k.start_mark.line
            if k.end_mark.line != line or _content(lines[line])[:k.start_mark.column].strip():
                return False
        for i, line in enumerate(lines):
            if line.startswith("%") or (i >= first and _DOC_MARKER_RE.match(line)):
                return False
        return True

    def _build_chunks(self, root: Node | None, lines: list[str]) -> None:
        if not isinstance(root, MappingNode) or not root.value:
            self._header = lines
            return
        starts = [k.start_mark.line for k, _v in root.value]
        self._header = lines[:starts[0]]
        ends = [*starts[1:], len(lines)]
        for key, start, end in zip(self.data.keys(), starts, ends, strict=True):
            self._index[key] = len(self._chunks)
            self._chunks.append(_Chunk(key, lines[start:end]))

    def _unchunk(self) -> None:
        """Fall back to whole-file editing (only if a section unexpectedly fails to stand alone)."""
        lines = [*self._header]
        for chunk in self._chunks:
            lines.extend(chunk.lines)
        node, _data = _parse("".join(lines), self.source)
        self._chunked = False
        self._lines = lines
        self._root = node if isinstance(node, MappingNode) else None
        self._shared = _shared_ids(self._root)
        self._header, self._chunks, self._index = [], [], {}

    def _chunk_root(self, chunk: _Chunk) -> MappingNode | None:
        if chunk.node is None:
            node, data = _parse("".join(chunk.lines), self.source)
            if (not isinstance(node, MappingNode) or not isinstance(data, dict)
                    or not _same(data, {chunk.key: self.data[chunk.key]})):
                self._unchunk()
                return None
            chunk.node = node
        return chunk.node

    # ---------------------------------------------------------------- apply with verification

    def _check_path(self, path: Iterable[str]) -> Path_:
        path = tuple(path)
        if not path or not all(isinstance(p, str) for p in path):
            raise TypeError(f"a config key path is a non-empty tuple of str, got {path!r}")
        return path

    def _refuse(self, path: Path_, why: str) -> ConfigFileError:
        return ConfigFileError(
            f"{self.source}: changing {'.'.join(path)} did not give the expected result when the "
            f"file was read back ({why}); nothing was changed. Edit that key by hand, and please "
            "report this as a bug in sso-wizard.")

    def _verified(self, lines: list[str], expected: dict[Any, Any], path: Path_,
                  single_key: bool) -> MappingNode | None:
        try:
            node, data = _parse("".join(lines), self.source)
        except ConfigFileError as exc:
            raise self._refuse(path, f"the edited text is not valid YAML: {exc}") from exc
        if data is None:
            node, data = None, {}
        if not _same(data, expected):
            raise self._refuse(path, "the data read back differs")
        if node is not None and not isinstance(node, MappingNode):
            raise self._refuse(path, "the top level is no longer a mapping")
        if single_key and (node is None or len(node.value) != 1
                           or node.value[0][0].start_mark.line != 0):
            raise self._refuse(path, "a top-level section lost its shape")
        return node

    def _apply(self, path: Path_, expected_top: Any, edit: Any) -> None:
        """Run ``edit(lines, root) -> lines`` on the right piece, verify, then commit."""
        top = path[0]
        if self._chunked and top in self._index:
            pos = self._index[top]
            chunk = self._chunks[pos]
            root = self._chunk_root(chunk)
            if root is not None:
                new_lines = edit(chunk.lines, root)
                if expected_top is _MISSING:  # the whole section goes
                    self._drop_chunk(pos, new_lines, path)
                else:
                    node = self._verified(new_lines, {top: expected_top}, path, single_key=True)
                    assert isinstance(node, MappingNode)
                    chunk.lines, chunk.node = new_lines, node
                    self.data[top] = expected_top
                self._text_cache = None
                return
        if self._chunked:  # a new top-level key: a new section at the end
            self._append_chunk(path, expected_top)
            self._text_cache = None
            return
        if self._root is not None and self._root.flow_style:
            raise ConfigFileError(
                f"{self.source}: the whole file is one flow-style mapping ({{...}}); sso-wizard "
                "only edits block-style files. Rewrite it in block style (key: value per line).")
        expected = dict(self.data)
        if expected_top is _MISSING:
            del expected[top]
        else:
            expected[top] = expected_top
        if self._root is None:
            new_lines = self._append_top(self._lines, top, expected_top)
        else:
            new_lines = edit(self._lines, self._root)
        node = self._verified(new_lines, expected, path, single_key=False)
        self._lines = new_lines
        self._root = node if isinstance(node, MappingNode) else None
        self._shared = _shared_ids(self._root)
        self.data = expected
        self._text_cache = None

    def _previous_lines(self, pos: int) -> list[str]:
        return self._chunks[pos - 1].lines if pos > 0 else self._header

    def _drop_chunk(self, pos: int, leftover: list[str], path: Path_) -> None:
        """Remove section ``pos``; its trailing comments/blank lines join the section before."""
        if any(not _is_blank_or_comment(_content(line)) for line in leftover):
            raise self._refuse(path, "text other than comments was left behind")
        if pos > 0:
            prev = self._chunks[pos - 1]
            merged = prev.lines + leftover
            prev_value = self.data[prev.key]
            node = self._verified(merged, {prev.key: prev_value}, path, single_key=True)
            assert isinstance(node, MappingNode)
            prev.lines, prev.node = merged, node
        else:
            self._header = self._header + leftover
        del self._chunks[pos]
        del self.data[path[0]]
        self._index = {chunk.key: i for i, chunk in enumerate(self._chunks)}

    def _append_chunk(self, path: Path_, value: Any) -> None:
        top = path[0]
        pos = len(self._chunks)
        prev = self._previous_lines(pos)
        new_prev = self._separate(prev)
        block = self._render_mapping({top: value}, self._root_col)
        new_lines = [line + self._nl for line in block]
        node = self._verified(new_lines, {top: value}, path, single_key=True)
        if pos > 0 and new_prev != prev:
            prev_chunk = self._chunks[pos - 1]
            prev_node = self._verified(new_prev, {prev_chunk.key: self.data[prev_chunk.key]}, path,
                                       single_key=True)
            assert isinstance(prev_node, MappingNode)
            prev_chunk.lines, prev_chunk.node = new_prev, prev_node
        elif pos == 0:
            self._header = new_prev
        chunk = _Chunk(top, new_lines)
        chunk.node = node if isinstance(node, MappingNode) else None
        self._chunks.append(chunk)
        self._index[top] = pos
        self.data[top] = value

    def _separate(self, lines: list[str]) -> list[str]:
        """``lines`` ending with a newline and a blank line, ready for a new top-level key."""
        if not lines:
            return lines
        new = list(lines)
        if not _eol(new[-1]):
            new[-1] += self._nl
        if _content(new[-1]).strip():
            new.append(self._nl)
        return new

    def _append_top(self, lines: list[str], key: str, value: Any) -> list[str]:
        block = [line + self._nl for line in self._render_mapping({key: value}, self._root_col)]
        end = len(lines)
        for i in range(len(lines) - 1, -1, -1):  # a closing `...` marker stays last
            text = _content(lines[i])
            if _is_blank_or_comment(text):
                continue
            if text.startswith("...") and _DOC_MARKER_RE.match(text):
                end = i
            break
        if end < len(lines):
            head = self._separate(lines[:end]) if end else []
            return head + block + lines[end:]
        return self._separate(lines) + block

    # ---------------------------------------------------------------- text edits

    def _end(self, node: Node, lines: list[str]) -> tuple[int, int]:
        """(line, column) just after the last character of the node's own text."""
        while True:
            if _is_block_mapping(node) and node.value:
                node = node.value[-1][1]
            elif _is_block_sequence(node) and node.value:
                node = node.value[-1]
            else:
                break
        end = node.end_mark
        if isinstance(node, ScalarNode) and node.style in ("|", ">"):
            line = end.line
            if end.column == 0 and line > node.start_mark.line:
                line -= 1
                while line > node.start_mark.line and not _content(lines[line]).strip():
                    line -= 1
                return line, len(_content(lines[line]))
        return end.line, end.column

    def _colon_end(self, lines: list[str], key: Node, path: Path_) -> int:
        line = key.end_mark.line
        text = _content(lines[line])
        col = key.end_mark.column
        while col < len(text) and text[col] in " \t":
            col += 1
        if line != key.start_mark.line or col >= len(text) or text[col] != ":":
            raise ConfigFileError(
                f"{self.source}, line {line + 1}: the key {'.'.join(path)} is written in a form "
                "sso-wizard does not edit (a complex '? key'). Set it by hand.")
        return col + 1

    def _hint(self, old: Node | None) -> dict[str, Any]:
        hint: dict[str, Any] = {"bools": self._bools}
        if isinstance(old, ScalarNode):
            if old.tag == _BOOL_TAG and _is_plain(old):
                hint["bools"] = _bool_words(old.value)
            elif old.tag == _STR_TAG and old.style in ("'", '"'):
                hint["quote"] = old.style
            elif old.tag == _NULL_TAG and old.value == "":
                hint["empty_null"] = True
        return hint

    def _render_value(self, value: Any, key_col: int, old: Node | None = None,
                      parent: MappingNode | None = None) -> tuple[str, list[str] | None]:
        """(inline text, None) for scalars and empty collections, ("", block lines) otherwise."""
        if isinstance(value, dict) and value:
            return "", self._render_mapping(value, key_col + self._step_for(key_col, old, parent))
        if isinstance(value, list) and value:
            offset = self._offset_for(key_col, old, parent)
            return "", self._render_sequence(value, key_col + offset)
        if isinstance(value, dict):
            return "{}", None
        if isinstance(value, list):
            return "[]", None
        return _render_scalar(value, **self._hint(old)), None

    def _step_for(self, key_col: int, old: Node | None, parent: MappingNode | None) -> int:
        candidates = [old] + ([v for _k, v in parent.value] if parent is not None else [])
        for node in candidates:
            if _is_block_mapping(node) and node is not None and node.value:
                step = node.value[0][0].start_mark.column - key_col
                if step > 0:
                    return step
        return self._step

    def _offset_for(self, key_col: int, old: Node | None, parent: MappingNode | None) -> int:
        candidates = [old] + ([v for _k, v in parent.value] if parent is not None else [])
        for node in candidates:
            if _is_block_sequence(node) and node is not None:
                offset = node.start_mark.column - key_col
                if offset >= 0:
                    return offset
        return self._offset

    def _render_mapping(self, mapping: dict[Any, Any], col: int) -> list[str]:
        out: list[str] = []
        pad = " " * col
        for key, value in mapping.items():
            inline, block = self._render_value(value, col)
            head = pad + _render_key(key) + ":"
            if block is None:
                out.append(head + (" " + inline if inline else ""))
            else:
                out.append(head)
                out.extend(block)
        return out

    def _render_sequence(self, items: list[Any], col: int) -> list[str]:
        out: list[str] = []
        pad = " " * col
        for item in items:
            if isinstance(item, dict) and item:
                sub = self._render_mapping(item, col + 2)
            elif isinstance(item, list) and item:
                sub = self._render_sequence(item, col + 2)
            else:
                inline, _ = self._render_value(item, col)
                out.append(pad + "-" + (" " + inline if inline else ""))
                continue
            sub[0] = pad + "- " + sub[0][col + 2:]
            out.extend(sub)
        return out

    def _replace_value(self, lines: list[str], key: Node, old: Node, value: Any,
                       parent: MappingNode, path: Path_) -> list[str]:
        kline = key.start_mark.line
        kcol = key.start_mark.column
        colon = self._colon_end(lines, key, path)
        inline, block = self._render_value(value, kcol, old, parent)
        s_line, s_col = old.start_mark.line, old.start_mark.column
        e_line, e_col = self._end(old, lines)
        nl = self._nl
        if s_line == kline:  # value starts on the key line: scalar, flow collection, |, or empty
            head = _content(lines[kline])[:s_col]
            end_text = _content(lines[e_line])
            tail = end_text[e_col:]
            end_eol = _eol(lines[e_line]) or (nl if e_line + 1 < len(lines) else "")
            if block is None:
                sep = "" if not inline or head.endswith((" ", "\t")) else " "
                if not inline:
                    head = head.rstrip(" \t") if not tail.strip() else head
                new = [head + sep + inline + tail + end_eol]
                after = e_line + 1
            else:
                comment = tail.rstrip() if tail.strip() else ""
                new = [head.rstrip(" \t") + comment + (_eol(lines[kline]) or nl)]
                after = e_line + 1
                if old.tag == _NULL_TAG and s_line == e_line and isinstance(old, ScalarNode) \
                        and old.value == "":
                    # `email:` followed by commented template lines: keep them as a header
                    last = e_line
                    j = e_line + 1
                    while j < len(lines):
                        text = _content(lines[j])
                        stripped = text.strip()
                        if stripped.startswith("#") and _indent(text) > kcol:
                            last = j
                        elif stripped:
                            break
                        j += 1
                    new.extend(lines[e_line + 1:last + 1])
                    after = last + 1
                for i, text in enumerate(block):
                    last_eol = end_eol if i == len(block) - 1 and after >= len(lines) else nl
                    new.append(text + last_eol)
            return lines[:kline] + new + lines[after:]
        # value starts on a later line (block mapping/sequence, or a scalar below its key)
        key_text = _content(lines[kline])
        rest = key_text[colon:]
        end_eol = _eol(lines[e_line]) or (nl if e_line + 1 < len(lines) else "")
        if block is None:
            comment = rest if rest.strip().startswith("#") else ""
            key_line = key_text[:colon] + " " + inline + comment + (_eol(lines[kline]) or nl)
            return lines[:kline] + [key_line] + lines[kline + 1:s_line] + lines[e_line + 1:]
        new = [text + (end_eol if i == len(block) - 1 else nl) for i, text in enumerate(block)]
        return lines[:s_line] + new + lines[e_line + 1:]

    def _insert_key(self, lines: list[str], mapping: MappingNode, key: str,
                    value: Any) -> list[str]:
        """Add ``key`` after the last content line of a block mapping, at its keys' column."""
        col = mapping.value[0][0].start_mark.column
        e_line, _ = self._end(mapping, lines)
        inline, sub = self._render_value(value, col, None, mapping)  # siblings set the indent
        head = " " * col + _render_key(key) + ":"
        block = [head + (" " + inline if inline else "")] if sub is None else [head, *sub]
        head = list(lines[:e_line + 1])
        if not _eol(head[-1]):
            head[-1] += self._nl
        return head + [text + self._nl for text in block] + lines[e_line + 1:]

    def _not_shared(self, node: Node, path: Path_) -> None:
        if id(node) in self._shared:
            raise ConfigFileError(
                f"{self.source}: {'.'.join(path)} is shared through a YAML anchor (&) and alias "
                "(*), so changing it here would change it everywhere it is used. Edit it by hand.")

    def _edit_set(self, lines: list[str], root: MappingNode, path: Path_,
                  value: Any) -> list[str]:
        node = root
        for i, key in enumerate(path):
            pair = _find(node, key)
            if pair is None:
                rest = _nested(path[i + 1:], value)
                if node is root:
                    return self._append_top(lines, key, rest)
                return self._insert_key(lines, node, key, rest)
            k, v = pair
            self._not_shared(v, path[:i + 1])
            if i == len(path) - 1:
                return self._replace_value(lines, k, v, value, node, path)
            if _is_block_mapping(v) and v.value:
                assert isinstance(v, MappingNode)
                node = v
                continue
            # None, a scalar or a flow mapping in the way: replace it by a block mapping
            old = _lookup(self.data, path[:i + 1])
            new_value = _with_set(old if isinstance(old, dict) else {}, path[i + 1:], value)
            return self._replace_value(lines, k, v, new_value, node, path)
        raise AssertionError("unreachable")

    def _edit_delete(self, lines: list[str], root: MappingNode, path: Path_) -> list[str]:
        node = root
        grand: tuple[Node, Node, MappingNode] | None = None
        for i, key in enumerate(path):
            if not _is_block_mapping(node):
                # a flow mapping on the way: re-render it without the key
                assert grand is not None
                gk, gv, gparent = grand
                old = _lookup(self.data, path[:i])
                new_value = _with_delete(old, path[i:])
                return self._replace_value(lines, gk, gv, new_value, gparent, path)
            pair = _find(node, key)
            if pair is None:
                raise ConfigFileError(
                    f"{self.source}: {'.'.join(path)} comes from a YAML merge ('<<:') or alias, "
                    "not from a line of its own; remove it by hand.")
            k, v = pair
            self._not_shared(v, path[:i + 1])
            if i < len(path) - 1:
                grand = (k, v, node)
                node = v  # type: ignore[assignment]
                continue
            if len(node.value) == 1 and grand is not None:
                gk, gv, gparent = grand  # the section becomes empty: `key: {}`
                return self._replace_value(lines, gk, gv, {}, gparent, path)
            kline = k.start_mark.line
            if _content(lines[kline])[:k.start_mark.column].strip():
                raise ConfigFileError(
                    f"{self.source}, line {kline + 1}: {'.'.join(path)} shares its line with "
                    "other YAML; remove it by hand.")
            self._colon_end(lines, k, path)
            e_line, _ = self._end(v, lines)
            return lines[:kline] + lines[e_line + 1:]
        return lines


# --------------------------------------------------------------------------------------------
# writing


_BACKUP_RE = re.compile(r"\.sso-wizard-(\d{8}T\d{6})(?:\.(\d{6}))?Z(?:-(\d+))?\.bak$")


def _backup_key(path: Path) -> tuple[str, str, int]:
    m = _BACKUP_RE.search(path.name)
    assert m is not None
    return m.group(1), m.group(2) or "", int(m.group(3) or 0)


def list_backups(path: Path) -> list[Path]:
    """Backups made by :func:`atomic_write` for ``path``, newest first."""
    path = Path(os.path.realpath(path))
    prefix = path.name + ".sso-wizard-"
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    found = [path.parent / n for n in names
             if n.startswith(prefix) and _BACKUP_RE.fullmatch(n[len(path.name):])]
    return sorted(found, key=_backup_key, reverse=True)


def _owner_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def _not_writable(target: Path, directory: Path, exc: OSError,
                  st: os.stat_result | None) -> ConfigFileError:
    owner = f" (owner: {_owner_name(st.st_uid)})" if st is not None else ""
    reason = exc.strerror or str(exc)
    return ConfigFileError(
        f"cannot write {target}{owner}: {reason} in {directory}. Nothing was changed. Run "
        "sso-wizard as the file's owner (e.g. with sudo -u), or give that user write permission "
        "on the file and its directory, then run again.")


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_backup(target: Path, st: os.stat_result) -> Path:
    original = target.read_bytes()
    now = _dt.datetime.now(_dt.UTC)
    stamp = now.strftime("%Y%m%dT%H%M%S") + f".{now.microsecond:06d}Z"
    counter = 0
    while True:
        suffix = f"-{counter}" if counter else ""
        backup = target.with_name(f"{target.name}.sso-wizard-{stamp}{suffix}.bak")
        try:
            fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:
            counter += 1
    try:
        os.fchmod(fd, 0o600)
        if os.geteuid() == 0 and st.st_uid != 0:
            try:
                os.fchown(fd, st.st_uid, st.st_gid)
            except PermissionError:
                pass
        view = memoryview(original)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        backup.unlink(missing_ok=True)
        raise
    os.close(fd)
    return backup


def atomic_write(path: Path, text: str, *, backup: bool = True, keep: int = 10) -> Path | None:
    """Replace ``path`` with ``text`` atomically; return the backup made (or None).

    Symlinks are followed (the link's target is replaced, the link stays).  The new file gets the
    old file's mode and owner; a brand-new file gets the usual ``0666 & ~umask``.
    """
    target = Path(os.path.realpath(path))
    directory = target.parent
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise _not_writable(target, directory, exc, None) from exc
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise ConfigFileError(f"cannot write {target}: it is not a regular file. Point sso-wizard "
                              "at the config file itself.")
    if st is not None and os.geteuid() != 0 and not os.access(target, os.W_OK):
        raise _not_writable(target, directory, PermissionError(13, "file is read-only"), st)
    data = text.encode("utf-8")
    # Creating the temp file is the real writability test (os.access lies for root).
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".sso-wizard.tmp",
                                        dir=directory)
    except OSError as exc:
        raise _not_writable(target, directory, exc, st) from exc
    tmp = Path(tmp_name)
    made: Path | None = None
    try:
        try:
            if backup and st is not None:
                made = _write_backup(target, st)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
            if st is not None:
                mine = os.fstat(fd)
                if (mine.st_uid, mine.st_gid) != (st.st_uid, st.st_gid):
                    try:  # root can always; an owner can still hand the file to its group
                        os.fchown(fd, st.st_uid, st.st_gid)
                    except PermissionError:
                        try:
                            os.fchown(fd, -1, st.st_gid)
                        except PermissionError:
                            pass
                os.fchmod(fd, stat.S_IMODE(st.st_mode))  # after chown, which may clear setgid
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.fchmod(fd, 0o666 & ~umask)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if made is not None:
            made.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ConfigFileError(
                f"cannot write {target}: {exc.strerror or exc}. The original file is unchanged. "
                "Check free disk space and permissions, then run again.") from exc
        raise
    _fsync_dir(directory)
    if made is not None:
        for old in list_backups(target)[max(keep, 1):]:
            try:
                old.unlink()
            except OSError:
                pass
    return made
