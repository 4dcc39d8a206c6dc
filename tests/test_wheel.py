"""The package as a user installs it (the `wheel` fixture): a wheel built from this checkout, installed into a new virtual
environment, carries both notebooks, declares what it needs, and runs the offline Kinetics demo from an empty folder,
through that environment's Python even where the user's own `python3` kernel is something else. (The MS-ASL demo's
output is tested in test_pipeline; both demos run the same `run_pipeline`, so the wheel runs one of them.)"""
import json, subprocess, zipfile
from conftest import ROOT, pip

def test_the_wheel_runs_the_demo_from_an_empty_folder(wheel):
    whl, py, env, demo, res = wheel
    shipped = set(zipfile.ZipFile(whl).namelist())
    assert {'msasl_prep/pipeline.ipynb', 'msasl_prep/kinetics.ipynb'} <= shipped, sorted(shipped)
    assert 'msasl_prep/kinetics/prepare.py' in shipped                 # the client subpackage ships too
    where = subprocess.run([str(py), '-c', 'import msasl_prep; print(msasl_prep.__file__)'], cwd=demo.parent, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(py.parent.parent)), where          # the wheel's package, not this checkout
    checked = subprocess.run([str(py), '-m', 'pip', 'check'], capture_output=True, text=True)   # pip as a dependency
    assert checked.returncode in (0, 1) and 'msasl-prep' not in checked.stdout.lower(), checked.stdout
    assert 'kinetics_report.jsonl   12 ok; without frames: unavailable 4' in res.stdout and 'as the training configs expect' in res.stdout, res.stdout
    nb = json.loads(next((demo/'data'/'reports').glob('kinetics-*.ipynb')).read_text())
    # run by the environment's Python, not the user's `python3` (a kernel that is /bin/false would have run no cell)
    assert not [o for c in nb['cells'] for o in c.get('outputs', []) if o.get('output_type') == 'error']
    assert (demo/'data'/'kinetics700'/'checks'/'kinetics_grid.png').stat().st_size > 10_000

def test_editable_installs_build_nothing_into_the_checkout(wheel):
    py = wheel[1]
    for _ in range(2):                               # an editable install, twice, as a user repeats the README's first command
        pip(py, 'install', '-q', '--no-deps', '-e', str(ROOT))
    assert not list(ROOT.glob('*.egg-info')) and not (ROOT/'build').exists()   # nothing built into the checkout
