#!/usr/bin/env python3
"""Lists every non-test Rust function longer than a limit (default 80 lines) and exits 1 if any.

Test code is skipped: files named tests.rs or under a tests/, benches/ or fuzz/ folder, and
`#[cfg(test)]` items. A function's length runs from its `fn` line to its closing brace.
"""
import os
import re
import sys

LIMIT = int(os.environ.get("FN_LINE_LIMIT", "80"))
SKIP_DIRS = {"target", ".tools", ".git", "tests", "benches", "fuzz", "node_modules"}
FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")


def code_only(text):
    """Blanks comments, strings and char literals so that braces in them are not counted."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + len(hashes) + 2)
            end = n if end < 0 else end + 1 + len(hashes)
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(re.sub(r"[^\n]", " ", text[i:j + 1]))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.[^']*|[^\\'])'", text[i:i + 12]):
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:i + 12])
            out.append(" " * len(m.group(0)))
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def block_end(lines, start):
    """Index of the line that closes the first brace block opened at or after `start`."""
    depth, opened = 0, False
    for k in range(start, len(lines)):
        for ch in lines[k]:
            if ch == "{":
                depth, opened = depth + 1, True
            elif ch == "}":
                depth -= 1
                if opened and depth == 0:
                    return k
            elif ch == ";" and not opened and depth == 0:
                return None  # a declaration without a body
    return None


def long_functions(path):
    with open(path, encoding="utf-8") as f:
        lines = code_only(f.read()).split("\n")
    found, k = [], 0
    while k < len(lines):
        line = lines[k]
        if line.strip().startswith("#[cfg(test)]"):
            end = block_end(lines, k + 1)
            k = (end if end is not None else k) + 1
            continue
        m = FN.match(line)
        if m:
            end = block_end(lines, k)
            if end is not None:
                length = end - k + 1
                if length > LIMIT:
                    found.append((path, k + 1, m.group(6), length))
        k += 1
    return found


def main(root):
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            if name.endswith(".rs") and name != "tests.rs":
                found += long_functions(os.path.join(dirpath, name))
    for path, line, name, length in found:
        print(f"{os.path.relpath(path, root)}:{line}: fn {name} is {length} lines (limit {LIMIT})")
    if found:
        print(f"{len(found)} non-test functions over {LIMIT} lines", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
