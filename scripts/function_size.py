#!/usr/bin/env python3
"""Fails when a function in service/, cli/ or metrics/ is over 60 lines.

Issue #16's rule: long functions are split along their seams. This counts
the lines between a function body's braces (blank and comment lines
included) in every .cc file under those directories. It reads C++ only as
far as it needs to: comments and string literals are blanked out, namespace
and extern blocks are looked through, and a top-level brace block whose head
has a parameter list and is not a class, struct, enum or union is a
function. Usage: scripts/function_size.py [LIMIT] (default 60); prints the
functions over the limit and the mean, exits 1 if there are any.
"""
import re
import subprocess
import sys

DIRECTORIES = ("service", "cli", "metrics")


def blank(text):
    """Comments and literals replaced, keeping line breaks."""
    keep_lines = lambda m: "\n" * m.group(0).count("\n")
    text = re.sub(r'R"\((.*?)\)"', lambda m: '""' + keep_lines(m), text,
                  flags=re.S)
    text = re.sub(r"/\*.*?\*/", keep_lines, text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(\\.|[^"\\\n])*"', '""', text)
    return re.sub(r"'(\\.|[^'\\\n])'", "''", text)


def functions(path):
    """(body lines, first line, name) of each function defined in `path`."""
    text = blank(open(path, encoding="utf-8").read())
    found, depth, line, head_start, opened = [], 0, 1, 0, None
    for i, c in enumerate(text):
        if c == "\n":
            line += 1
        elif c == ";" and depth == 0:
            head_start = i + 1
        elif c == "{":
            if depth == 0:
                head = text[head_start:i]
                if re.search(r"\bnamespace\b[^;]*$|extern\s*\"\"\s*$", head):
                    head_start = i + 1
                    continue
                opened = (line, head)
            depth += 1
        elif c == "}":
            depth = max(depth - 1, 0)
            if depth == 0:
                if opened is not None:
                    first, head = opened
                    signature = head.split("(")[0]
                    if ")" in head and not re.search(
                            r"\b(class|struct|enum|union)\b", signature):
                        names = re.findall(r"([A-Za-z_~][\w:~<>]*)\s*\(", head)
                        found.append((line - first - 1, first,
                                      names[0] if names else "?"))
                    opened = None
                head_start = i + 1
    return found


def main():
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    paths = subprocess.check_output(
        ["git", "ls-files", "--", *(d + "/*.cc" for d in DIRECTORIES)],
        text=True).split()
    sizes, over = [], []
    for path in paths:
        for length, first, name in functions(path):
            sizes.append(length)
            if length > limit:
                over.append(f"{path}:{first}: {name} has {length} lines")
    for message in over:
        print(message)
    mean = sum(sizes) / max(len(sizes), 1)
    print(f"{len(sizes)} functions in {', '.join(DIRECTORIES)}: mean "
          f"{mean:.1f} lines, longest {max(sizes, default=0)}, "
          f"{len(over)} over {limit}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
