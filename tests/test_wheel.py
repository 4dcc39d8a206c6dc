"""The package as a user installs it: a wheel built from this checkout, installed into a fresh virtual environment
(dependencies from the package registry), carries both notebooks and runs the offline Kinetics demo from an empty
folder, through this venv's Python even where the user's own `python3` kernel is something else. (The MS-ASL demo's
output is tested in test_pipeline; both demos run the same `run_pipeline`, so the wheel runs one of them.)"""
import json, os, subprocess, sys, zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def test_the_wheel_runs_the_demo_from_an_empty_folder(tmp_path):
    wheels = tmp_path/'wheels'
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', str(ROOT), '--no-deps', '-q', '-w', str(wheels)], check=True)
    wheel = next(wheels.glob('msasl_prep-*.whl'))
    shipped = set(zipfile.ZipFile(wheel).namelist())
    assert {'msasl_prep/pipeline.ipynb', 'msasl_prep/kinetics.ipynb'} <= shipped, sorted(shipped)
    assert 'msasl_prep/kinetics/prepare.py' in shipped                 # the client subpackage ships too
    venv = tmp_path/'venv'
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True)
    py, bin_ = venv/'bin'/'python', venv/'bin'
    pip = subprocess.run([str(py), '-m', 'pip', 'install', '-q', '--no-compile', '--disable-pip-version-check', str(wheel)], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr[-2000:]
    home = tmp_path/'home'                          # a user whose own `python3` kernel would run something else entirely
    (home/'.local/share/jupyter/kernels/python3').mkdir(parents=True)
    (home/'.local/share/jupyter/kernels/python3'/'kernel.json').write_text(json.dumps(
        dict(argv=['/bin/false', '{connection_file}'], display_name='not this Python', language='python')))
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'JUPYTER_PATH', 'VIRTUAL_ENV', 'PYTHONHOME')}
    env.update(PATH=f"{bin_}:/usr/bin:/bin", HOME=str(home), MPLBACKEND='Agg')
    where = subprocess.run([str(py), '-c', 'import msasl_prep; print(msasl_prep.__file__)'], cwd=tmp_path, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(venv)), where       # the wheel's package, not this checkout
    empty = tmp_path/'empty'; empty.mkdir()
    res = subprocess.run([str(bin_/'msasl-demo'), '--kinetics'], cwd=empty, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]                  # the Kinetics notebook ships in the wheel too
    assert 'kinetics_report.jsonl   12 ok; without frames: unavailable 4' in res.stdout and 'as the training configs expect' in res.stdout, res.stdout
    nb = json.loads(next((empty/'msasl-demo'/'data'/'reports').glob('kinetics-*.ipynb')).read_text())
    # run by this venv's Python, not the user's `python3` (a kernel that is /bin/false would have run no cell)
    assert not [o for c in nb['cells'] for o in c.get('outputs', []) if o.get('output_type') == 'error']
    assert (empty/'msasl-demo'/'data'/'kinetics700'/'checks'/'kinetics_grid.png').stat().st_size > 10_000
    for _ in range(2):                               # an editable install, twice, as a user repeats the README's first command
        pip = subprocess.run([str(py), '-m', 'pip', 'install', '-q', '--disable-pip-version-check', '--no-deps', '-e', str(ROOT)],
                             capture_output=True, text=True)
        assert pip.returncode == 0, pip.stderr[-2000:]
    assert not list(ROOT.glob('*.egg-info')) and not (ROOT/'build').exists()   # nothing built into the checkout
