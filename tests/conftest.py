"Shared fixtures: one synthetic sample per test session, made with the real `msasl-make-sample` command."
import subprocess
import pytest

def run(*args, check=False):
    "Run a console command as a user would; return the CompletedProcess (text output)."
    res = subprocess.run(list(args), capture_output=True, text=True, timeout=600)
    if check and res.returncode: raise AssertionError(f"{args} exited {res.returncode}: {res.stderr}")
    return res

@pytest.fixture(scope='session')
def sample(tmp_path_factory):
    "A 12-video synthetic MS-ASL folder (annotation files + videos/)"
    out = tmp_path_factory.mktemp('sample')
    run('msasl-make-sample', str(out), '--n-videos', '12', '--seed', '7', check=True)
    return out
