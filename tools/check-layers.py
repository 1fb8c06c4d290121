#!/usr/bin/env python3
"""check-layers.py -- the layer rule of core/, checked over the #include lines.

  tools/check-layers.py [CORE_DIR]      check (default: core/ beside tools/)
  tools/check-layers.py --self-test     plant each kind of violation in a
                                        temporary tree and expect a failure

Rules:
  1. core/<layer>/ holds the files of one layer; the layers, lowest first, are
     LAYERS below. A file may include headers of its own layer and of the
     layers below it, never above.
  2. Project headers are included by path from core/ ("net/http_server.h");
     a bare "http_server.h" is an error. <...> includes and the SDK header
     "mcpd/plugin.h" are not checked.
  3. No include cycle between modules (a module is a .c/.h pair, with
     X_internal.h counted as part of X), within a layer or across layers.
Exits 0 when the tree follows the rules, 1 with one line per violation.
"""
import os
import re
import shutil
import sys
import tempfile

LAYERS = ["lib", "net", "mcp", "transport", "plugin", "daemon"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
EXTERNAL = {"mcpd/plugin.h"}


def module_of(path):
    """A module is a .c/.h pair; X_internal.h is X's private header."""
    mod = path.rsplit(".", 1)[0]
    return mod[:-len("_internal")] if mod.endswith("_internal") else mod


def modules(core):
    """Yields (layer, module, path) for every .c/.h file under core/."""
    for layer in sorted(os.listdir(core)):
        d = os.path.join(core, layer)
        if not os.path.isdir(d) or layer == "views":
            continue
        for f in sorted(os.listdir(d)):
            if f.endswith((".c", ".h")):
                yield layer, module_of(layer + "/" + f), os.path.join(d, f)


def check(core):
    errors = []
    known = {}
    files = list(modules(core))
    for layer, mod, path in files:
        known[mod] = layer
    graph = {}
    for layer, mod, path in files:
        rel = os.path.relpath(path, core)
        if layer not in LAYERS:
            errors.append("%s: folder %s is not a layer (%s)" % (rel, layer, " ".join(LAYERS)))
            continue
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        for inc in INCLUDE.findall(text):
            if inc in EXTERNAL:
                continue
            if "/" not in inc:
                errors.append('%s: "%s" must be included by path from core/' % (rel, inc))
                continue
            to_layer = inc.split("/", 1)[0]
            if to_layer not in LAYERS:
                errors.append('%s: "%s" is not in a layer' % (rel, inc))
                continue
            if LAYERS.index(to_layer) > LAYERS.index(layer):
                errors.append('%s: includes "%s": %s may not use %s, a higher layer'
                              % (rel, inc, layer, to_layer))
            target = module_of(inc)
            if target not in known or not os.path.exists(os.path.join(core, inc)):
                errors.append('%s: "%s" does not exist' % (rel, inc))
                continue
            if target != mod:
                graph.setdefault(mod, set()).add(target)
    errors.extend(cycles(graph))
    return errors


def cycles(graph):
    """One error per cycle found by a depth-first search."""
    errors, state, stack = [], {}, []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                loop = stack[stack.index(nxt):] + [nxt]
                errors.append("include cycle: " + " -> ".join(loop))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return errors


def self_test(core):
    """Each planted violation must be reported; the clean copy must pass."""
    plants = [
        ("lib/zz_up.c", '#include "daemon/server.h"\n', "higher layer"),
        ("net/zz_bare.c", '#include "buf.h"\n', "by path"),
        ("mcp/zz_a.h", '#include "mcp/zz_b.h"\n', "include cycle"),
        ("mcp/zz_b.h", '#include "mcp/zz_a.h"\n', "include cycle"),
        ("daemon/zz_missing.c", '#include "lib/nope.h"\n', "does not exist"),
    ]
    tmp = tempfile.mkdtemp(prefix="check-layers-")
    try:
        copy = os.path.join(tmp, "core")
        shutil.copytree(core, copy, ignore=shutil.ignore_patterns("views", "CMakeLists.txt"))
        base = check(copy)
        if base:
            print("self-test: the tree itself fails:\n  " + "\n  ".join(base))
            return 1
        for path, text, want in plants:
            with open(os.path.join(copy, path), "w", encoding="utf-8") as fh:
                fh.write(text)
        found = check(copy)
        ok = True
        for path, _, want in plants:
            if not any(e.startswith(path) or (want == "include cycle" and "zz_" in e and want in e)
                       for e in found if want in e):
                print("self-test: planted %s (%s) was not reported" % (path, want))
                ok = False
        print("self-test: %s (%d violations reported for %d planted)"
              % ("ok" if ok else "FAILED", len(found), len(plants)))
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    args = sys.argv[1:]
    if args and args[0] == "--self-test":
        core = args[1] if len(args) > 1 else os.path.join(here, "..", "core")
        return self_test(core)
    core = args[0] if args else os.path.join(here, "..", "core")
    errors = check(core)
    for e in errors:
        print("check-layers: " + e)
    if errors:
        return 1
    print("check-layers: ok (%s; no include cycle)" % " -> ".join(LAYERS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
