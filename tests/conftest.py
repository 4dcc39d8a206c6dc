"Shared fixtures: one synthetic sample per test session, made with the real `msasl-make-sample` command."
import getpass, os, shutil, subprocess, tempfile
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

def run_demo(d):
    "`msasl-demo` with 8 videos into `d`: (d, the finished process)"
    res = run('msasl-demo', str(d), '--n-videos', '8')
    assert res.returncode == 0, res.stderr[-2000:]
    return d, res

@pytest.fixture(scope='session')
def demo(tmp_path_factory):
    "`msasl-demo` with 8 videos, run once: (its folder, the finished process); tests that change it work on a copy"
    return run_demo(tmp_path_factory.mktemp('demo'))
