"""Command-line parsing shared by the tools: options, then positionals.

`parse(argv, doc, prog, values=..., flags=...)` returns `(options,
positionals)`, where options maps each option given to its value (True for
a flag), or an exit status when there is nothing more to do: 0 after
printing `doc` for -h/--help, 2 after a usage error on stderr.
"""

import sys


def parse(argv, doc, prog, values=(), flags=(), positionals=True):
    options, rest = {}, []
    args = list(argv)
    while args:
        a = args.pop(0)
        if a in ("-h", "--help"):
            print(doc.strip())
            return 0
        if a in flags:
            options[a] = True
        elif a in values:
            if not args:
                return _usage(prog, f"{a} needs a value")
            options[a] = args.pop(0)
        elif a.startswith("-") or not positionals:
            return _usage(prog, f"unknown argument {a} (see --help)")
        else:
            rest.append(a)
    return options, rest


def _usage(prog, message):
    print(f"{prog}: {message}", file=sys.stderr)
    return 2
