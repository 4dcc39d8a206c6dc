"Shared fixtures: one synthetic sample per test session, made with the real `msasl-make-sample` command."
import getpass, json, os, shutil, subprocess, sys, sysconfig, tempfile
from pathlib import Path
import pytest

def run(*args, check=False):
    "Run a console command as a user would; return the CompletedProcess (text output)."
    res = subprocess.run(list(args), capture_output=True, text=True, timeout=600)
    if check and res.returncode: raise AssertionError(f"{args} exited {res.returncode}: {res.stderr}")
    return res

def pytest_configure(config):
    "The download budgets of this test run live in a folder of its own (every command the tests start inherits it)"
    config._msasl_state = tempfile.mkdtemp(prefix='msasl-prep-state-')
    os.environ['MSASL_PREP_STATE'] = config._msasl_state

def pytest_unconfigure(config):
    "Leave the temporary folder as it was found: the state folder goes, and pytest's own folder if it kept nothing"
    shutil.rmtree(getattr(config, '_msasl_state', ''), ignore_errors=True)
    mine = Path(tempfile.gettempdir())/f"pytest-of-{getpass.getuser()}"
    try:
        for p in mine.iterdir():
            if p.is_symlink() and not p.exists(): p.unlink()       # pytest's 'current' link to a folder it removed
        mine.rmdir()
    except OSError: pass                                           # a failed test's folder is kept, to look at

@pytest.fixture(scope='session')
def sample(tmp_path_factory):
    "A 12-video synthetic MS-ASL folder (annotation files + videos/)"
    out = tmp_path_factory.mktemp('sample')
    run('msasl-make-sample', str(out), '--n-videos', '12', '--seed', '7', check=True)
    return out

@pytest.fixture(scope='session')
def clean(sample, tmp_path_factory):
    "The sample's clips cut with the default options (`msasl-extract-frames -q`), once: tests read it or work on a copy"
    out = tmp_path_factory.mktemp('clean')
    res = run('msasl-extract-frames', '-s', *[str(sample/f'MSASL_{s}.json') for s in ('train', 'val', 'test')],
              '-v', str(sample/'videos'), '-o', str(out), '-q')
    assert res.returncode == 0, res.stderr
    return out

def run_demo(d):
    "`msasl-demo` with 8 videos into `d`: (d, the finished process)"
    res = run('msasl-demo', str(d), '--n-videos', '8')
    assert res.returncode == 0, res.stderr[-2000:]
    return d, res

@pytest.fixture(scope='session')
def demo(tmp_path_factory):
    "`msasl-demo` with 8 videos, run once: (its folder, the finished process); tests that change it work on a copy"
    return run_demo(tmp_path_factory.mktemp('demo'))

ROOT = Path(__file__).resolve().parent.parent

def pip(py, *args):
    "This environment's pip acting on the environment of Python `py` (which has no pip of its own)"
    res = subprocess.run([sys.executable, '-m', 'pip', '--python', str(py), '--disable-pip-version-check', *args],
                         capture_output=True, text=True)
    assert res.returncode == 0, (args, res.stderr[-2000:])
    return res

@pytest.fixture(scope='session')
def wheel(tmp_path_factory):
    """This checkout as a user installs it: its wheel in a new virtual environment, and `msasl-demo --kinetics` run from
    an empty folder there: (the wheel, the environment's Python, its environment variables, the folder, the process)"""
    tmp = tmp_path_factory.mktemp('wheel')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', str(ROOT), '--no-deps', '-q', '-w', str(tmp/'wheels')], check=True)
    whl = next((tmp/'wheels').glob('msasl_prep-*.whl'))
    venv = tmp/'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True)
    py = venv/'bin'/'python'
    # The dependencies are this environment's, which the README's first command installed from the registry: a plain
    # path line in a .pth file shows them to the new one after its own (not as a site folder: the checkout's editable
    # install, which .pth files there load, stays out). The wheel goes in without them; `pip check` then holds its
    # requirements to what is there.
    site = subprocess.run([str(py), '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))'], capture_output=True,
                          text=True, check=True).stdout.strip()
    Path(site, 'dependencies.pth').write_text(sysconfig.get_path('purelib') + '\n')
    pip(py, 'install', '-q', '--no-compile', '--no-deps', str(whl))
    home = tmp/'home'                              # a user whose own `python3` kernel would run something else entirely
    (home/'.local/share/jupyter/kernels/python3').mkdir(parents=True)
    (home/'.local/share/jupyter/kernels/python3'/'kernel.json').write_text(json.dumps(
        dict(argv=['/bin/false', '{connection_file}'], display_name='not this Python', language='python')))
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'JUPYTER_PATH', 'VIRTUAL_ENV', 'PYTHONHOME')}
    env.update(PATH=f"{venv/'bin'}:/usr/bin:/bin", HOME=str(home), MPLBACKEND='Agg')
    empty = tmp/'empty'; empty.mkdir()
    res = subprocess.run([str(venv/'bin'/'msasl-demo'), '--kinetics'], cwd=empty, env=env, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]                  # the Kinetics notebook ships in the wheel too
    return whl, py, env, empty/'msasl-demo', res
