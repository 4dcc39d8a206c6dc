"""Execute the documentation notebooks in place, or check that they were committed executed.

    python .ci/execute_nbs.py                 # execute every documentation notebook in nbs/ (cells flagged `slow` are skipped)
    python .ci/execute_nbs.py 08_frames ...   # only these
    python .ci/execute_nbs.py --check         # fail if a documentation notebook lacks its outputs, or shows this machine's paths,
                                              # ports, access logs or free disk (CI runs this)

The documentation notebooks are the module notebooks `nbs/NN_*.ipynb` (and `NNa_*.ipynb`) and `index.ipynb`, the README's text with
its example. `pipeline.ipynb` is the template papermill runs (its executed copies go to DATA_DIR/reports/), so it is not executed here.
A notebook is executed in `nbs/` with the Python running this script, then cleaned with `nbdev_clean` as CI expects.
"""
import argparse, os, re, subprocess, sys, time
from pathlib import Path

NBS = Path(__file__).resolve().parent.parent/'nbs'
SHOWN = re.compile(r'print|display|plot_\w+')   # a cell that calls one of these must show something
MACHINE = re.compile(r'(/tmp/|/var/folders/|/home/|/root\b|/Users/|site-packages|/\.pyenv/|/venv/|\b[\d.]+ [GMT]B free|'
                     r'(127\.0\.0\.1|localhost|0\.0\.0\.0):\d{2,5}|"(GET|HEAD|POST) /\S* HTTP/1\.[01]")')   # this machine's, not the reader's

def _shows(source:str)->bool:
    "Whether the cell's code (not its strings or comments) calls print, display or a plot function"
    import ast
    try: tree = ast.parse('\n'.join(l for l in source.splitlines() if not l.lstrip().startswith(('%', '!'))))
    except SyntaxError: return False
    names = (getattr(n.func, 'id', None) or getattr(n.func, 'attr', None) for n in ast.walk(tree) if isinstance(n, ast.Call))
    return any(n and SHOWN.fullmatch(n) for n in names)

def documentation_notebooks(names=()):
    nbs = sorted(p for p in NBS.glob('[0-9][0-9]*_*.ipynb')) + [NBS/'index.ipynb']
    if names: nbs = [p for p in nbs if p.stem in names or p.name in names]
    return nbs

def _flags(cell)->set: return {l.strip()[3:].strip() for l in cell.source.splitlines() if l.strip().startswith('#|')}

def _slow(cell)->bool: return 'slow' in _flags(cell)

def problems(path:Path)->list:
    "Why `path` does not carry the outputs a reader should see ([] if it does)"
    import nbformat
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == 'code']
    out = []
    if code and not any(c.outputs for c in code): out.append(f"{path.name}: no outputs at all (run python .ci/execute_nbs.py {path.stem})")
    for i,c in enumerate(nb.cells):
        if c.cell_type != 'code' or _slow(c) or 'export' in _flags(c) or c.outputs: continue
        if _shows(c.source): out.append(f"{path.name}: cell {i} prints or draws but has no output: {c.source.splitlines()[0][:70]!r}")
    for i,c in enumerate(nb.cells):
        for o in c.get('outputs', []):
            text = o.get('text') or o.get('data', {}).get('text/plain') or o.get('data', {}).get('text/markdown') or ''
            if m := MACHINE.search(''.join(text) if isinstance(text, list) else text):
                out.append(f"{path.name}: cell {i} shows what is only this machine's: {m[0]!r} (print relative paths, no ports, logs or disk figures)")
        errors = [o for o in c.get('outputs', []) if o.get('output_type') == 'error']
        if errors: out.append(f"{path.name}: cell {i} was committed with an error: {errors[0].get('ename')}")
    return out

def execute(path:Path, timeout:int=900):
    import nbformat
    from nbclient import NotebookClient
    sys.path.insert(0, str(NBS.parent))
    from msasl_prep.run import this_python_kernel
    nb = nbformat.read(path, as_version=4)
    os.environ['MPLBACKEND'] = 'module://matplotlib_inline.backend_inline'    # figures shown inline, whatever the shell says
    with this_python_kernel() as kernel:
        client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, resources={'metadata': {'path': str(NBS)}})
        with client.setup_kernel():
            for i,cell in enumerate(nb.cells):
                if cell.cell_type != 'code': continue
                if _slow(cell): cell.outputs,cell.execution_count = [],None; continue    # longer examples: run with nbdev_test --flags slow
                client.execute_cell(cell, i)
    nbformat.write(nb, path)
    subprocess.run(['nbdev_clean', '--fname', str(path)], check=True)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('names', nargs='*', help='notebooks to execute (default: all documentation notebooks)')
    ap.add_argument('--check', action='store_true', help='only check that every documentation notebook carries its outputs')
    a = ap.parse_args()
    nbs = documentation_notebooks(a.names)
    if a.check:
        found = [p for nb in nbs for p in problems(nb)]
        for p in found: print(p, file=sys.stderr)
        sizes = {nb.name: nb.stat().st_size for nb in nbs}
        print(f"{len(nbs)} documentation notebooks, {sum(sizes.values()) / 1e6:.2f} MB together; problems: {len(found)}")
        if sum(sizes.values()) > 5e6: print('the notebooks are over 5 MB together: make the pictures smaller', file=sys.stderr); sys.exit(1)
        sys.exit(1 if found else 0)
    for nb in nbs:
        t0 = time.perf_counter(); execute(nb)
        print(f"{nb.name}: executed in {time.perf_counter() - t0:.0f} s, {nb.stat().st_size / 1e3:.0f} kB")

if __name__ == '__main__': main()
