#!/usr/bin/env python3
"""Report include cycles in src/: tools/include_cycles.py [ROOT]

A module is a source file with its header of the same name (runtime/program.c
with nothing, gemm/blas.c with gemm/blas.h); module A depends on module B when a
file of A includes a header of B (a public agecl/x.h counts as the module of
src/*/x.c only when such a file exists, which it never does). Rooms are the
folders of src/: room A depends on room B when a module of A depends on one of
B. Prints every cycle of modules and of rooms, and exits 1 if there is one."""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def strongly_connected(nodes, edges):
    """Tarjan's algorithm: the components of more than one node, or with a self-loop."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..')
    src = os.path.join(root, 'src')
    files = []
    for d, _, names in os.walk(src):
        files += [os.path.relpath(os.path.join(d, n), src) for n in names if n.endswith(('.c', '.h'))]
    module = {f: os.path.splitext(f)[0] for f in files}
    room = lambda m: m.split('/')[0] if '/' in m else '.'
    mod_edges, room_edges = {}, {}
    for f in files:
        with open(os.path.join(src, f), encoding='utf-8') as fh:
            text = fh.read()
        for inc in INCLUDE.findall(text):
            target = inc if inc in module else None
            if target is None:
                continue
            a, b = module[f], module[target]
            if a != b:
                mod_edges.setdefault(a, set()).add(b)
                if room(a) != room(b):
                    room_edges.setdefault(room(a), set()).add(room(b))
    bad = 0
    for comp in strongly_connected(set(module.values()), mod_edges):
        print('module cycle: ' + ' -> '.join(comp))
        bad = 1
    for comp in strongly_connected({room(m) for m in module.values()}, room_edges):
        print('room cycle: ' + ' -> '.join(comp))
        bad = 1
    print('rooms: ' + '; '.join(f'{r} -> {", ".join(sorted(room_edges.get(r, ())))}'
                                for r in sorted({room(m) for m in module.values()})))
    return bad


if __name__ == '__main__':
    sys.exit(main())
