"""Downloads and extraction on a real Dask cluster on loopback: a scheduler and two worker processes started here
(`dask scheduler`, `dask worker --no-nanny`), driven through the console commands with `--dask tcp://127.0.0.1:PORT`."""
import json, os, shutil, signal, subprocess, sys, time
from pathlib import Path
import pytest
from conftest import run

distributed = pytest.importorskip('distributed')
from msasl_prep.loopback import VideoServer

SPLITS = ('train', 'val', 'test')

def sources(sample): return [str(sample/f'MSASL_{s}.json') for s in SPLITS]

class Cluster:
    "A scheduler and worker processes on 127.0.0.1, each its own process group, stopped at the end"
    def __init__(self, folder:Path):
        self.folder, self.procs = folder, []
        f = folder/'scheduler.json'
        self.scheduler = self._start(['dask', 'scheduler', '--host', '127.0.0.1', '--port', '0', '--dashboard-address', ':0',
                                      '--scheduler-file', str(f)], 'scheduler')
        deadline = time.time() + 60
        while not f.exists() and time.time() < deadline: time.sleep(0.1)
        self.address = json.loads(f.read_text())['address']
    def _start(self, cmd, name, prefix=()):
        log = open(self.folder/f'{name}.log', 'w')
        env = {**os.environ, 'DASK_TEMPORARY_DIRECTORY': str(self.folder)}        # Dask's scratch space here, not in /tmp
        p = subprocess.Popen([*prefix, *cmd], stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.folder, env=env)
        self.procs.append(p); return p
    def worker(self, name, prefix=()):
        return self._start(['dask', 'worker', self.address, '--no-nanny', '--nthreads', '1', '--name', name,
                            '--local-directory', str(self.folder/name)], name, prefix)
    def wait_for(self, n):
        with distributed.Client(self.address, timeout='30s') as c: c.wait_for_workers(n, timeout=90)
    def workers(self):
        with distributed.Client(self.address, timeout='30s') as c: return c.scheduler_info()['workers']
    def stop(self):
        for p in self.procs[::-1]:
            try: os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError: pass
            p.wait()

@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp('cluster'))
    try:
        c.worker('w1'); c.worker('w2'); c.wait_for(2)
        yield c
    finally: c.stop()

def files(root, pattern='**/*'):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.glob(pattern)) if p.is_file()}

def statuses(videos):
    return {r['video_id']: r['status'] for r in map(json.loads, (videos/'manifest.jsonl').read_text().splitlines()) if r.get('video_id')}

@pytest.fixture(scope='module')
def threaded(sample, tmp_path_factory):
    "The same work on threads here: the reference"
    d = tmp_path_factory.mktemp('threaded')
    with VideoServer(sample/'videos') as srv:
        res = run('msasl-download-videos', '-s', *sources(sample), '-o', str(d/'videos'), '--url-template', srv.url_template, '-j', '2', '-q')
    assert res.returncode == 0, res.stderr
    res = run('msasl-extract-frames', '-s', *sources(sample), '-v', str(d/'videos'), '-o', str(d/'out'), '-j', '2', '-q')
    assert res.returncode == 0, res.stderr
    return d

def test_the_cluster_run_is_byte_identical_to_the_threaded_run(sample, cluster, threaded, tmp_path):
    with VideoServer(sample/'videos') as srv:
        res = run('msasl-download-videos', '-s', *sources(sample), '-o', str(tmp_path/'videos'), '--url-template', srv.url_template,
                  '--dask', cluster.address, '-q')
    assert res.returncode == 0, res.stderr
    assert 'dashboard: http' in res.stderr                                     # the Dask dashboard link, printed at the start
    res = run('msasl-extract-frames', '-s', *sources(sample), '-v', str(tmp_path/'videos'), '-o', str(tmp_path/'out'),
              '--dask', cluster.address, '-q')
    assert res.returncode == 0, res.stderr
    assert files(tmp_path/'videos', '*.mp4') == files(threaded/'videos', '*.mp4') and len(files(tmp_path/'videos', '*.mp4')) == 12
    assert statuses(tmp_path/'videos') == statuses(threaded/'videos')
    assert files(tmp_path/'out', '*.txt') == files(threaded/'out', '*.txt')
    assert files(tmp_path/'out'/'global_crops') == files(threaded/'out'/'global_crops')   # every JPEG, and the notes
    strip = lambda out: sorted(json.dumps({k: v for k, v in json.loads(l).items() if k != 'video_seconds'})
                               for l in (out/'extract_report.jsonl').read_text().splitlines())
    assert strip(tmp_path/'out') == strip(threaded/'out')
    assert not list(tmp_path.glob('**/.msasl-prep-shared-*'))                 # the storage probes are gone

def test_a_worker_killed_mid_run_loses_nothing(sample, threaded, tmp_path):
    (tmp_path/'c').mkdir(); c = Cluster(tmp_path/'c')
    try:
        c.worker('k1'); c.worker('k2'); c.wait_for(2)
        out = tmp_path/'out'
        p = subprocess.Popen(['msasl-extract-frames', '-s', *sources(sample), '-v', str(threaded/'videos'), '-o', str(out),
                              '--dask', c.address, '-q'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while time.time() < deadline and len(list(out.glob('global_crops/*/clip_*'))) < 3: time.sleep(0.01)
        victim = c.procs[1]                                                   # worker k1, mid-run
        os.killpg(victim.pid, signal.SIGKILL); victim.wait()
        made_before = len(list(out.glob('global_crops/*/clip_*')))
        stdout, stderr = p.communicate(timeout=600)
        assert p.returncode == 0, stderr
        assert made_before < len(list((threaded/'out').glob('global_crops/*/clip_*'))), 'the kill came too late to test anything'
        assert files(out, '*.txt') == files(threaded/'out', '*.txt')
        assert files(out/'global_crops') == files(threaded/'out'/'global_crops')
        assert 'worker_lost' not in (out/'extract_report.jsonl').read_text()
    finally: c.stop()

def test_a_worker_that_cannot_see_the_folder_is_named(sample, cluster, tmp_path):
    if subprocess.run(['unshare', '-m', 'true'], capture_output=True).returncode: pytest.skip('no mount namespaces here')
    blind = tmp_path/'shared'; blind.mkdir()
    before = set(cluster.workers())
    w = cluster.worker('blind', prefix=['unshare', '-m', 'sh', '-c', f'mount -t tmpfs tmpfs {blind} && exec "$@"', 'sh'])
    try:
        cluster.wait_for(3)
        (new,) = set(cluster.workers()) - before
        res = run('msasl-extract-frames', '-s', *sources(sample), '-v', str(sample/'videos'), '-o', str(blind/'out'),
                  '--dask', cluster.address, '-q')
        lines = res.stderr.splitlines()
        assert res.returncode == 2 and lines[0].startswith('Dask: 3 workers; dashboard: http') and len(lines) == 2, res.stderr
        assert lines[1].startswith('msasl-extract-frames: error: ') and f'{new} on ' in lines[1] and 'is not shared with every worker' in res.stderr
        for other in before: assert other not in res.stderr
        assert not list((blind/'out').glob('global_crops/*'))                 # nothing was sent to any worker
    finally:
        os.killpg(w.pid, signal.SIGKILL); w.wait()

def test_dask_errors_are_one_line(sample, tmp_path):
    res = run('msasl-extract-frames', '-s', *sources(sample), '-v', str(sample/'videos'), '-o', str(tmp_path), '--dask', 'lokal')
    assert res.returncode == 2 and res.stderr.count('\n') == 1 and '--dask must be local, local:N or' in res.stderr
    res = run('msasl-extract-frames', '-s', *sources(sample), '-v', str(sample/'videos'), '-o', str(tmp_path), '--dask', 'tcp://127.0.0.1:9', '-q')
    assert res.returncode == 2 and res.stderr.count('\n') == 1 and 'cannot reach the Dask scheduler at tcp://127.0.0.1:9' in res.stderr

def test_the_pipeline_runs_on_a_local_cluster(sample, tmp_path):
    with VideoServer(sample/'videos') as srv:
        res = run('msasl-pipeline', str(tmp_path/'data'), '-q', '--dask', 'local:2', '-p', 'annotation_dir', str(sample),
                  '-p', 'url_template', srv.url_template, '-p', 'splits', '["val"]', '-p', 'topk', '[100]', '-p', 'n_checks', '2')
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path/'data'/'msasl'/'val100.txt').read_text() and 'executed notebook:' in res.stdout
    nb = json.loads(next((tmp_path/'data'/'reports').glob('pipeline-*.ipynb')).read_text())
    text = ''.join(t for c in nb['cells'] for o in c.get('outputs', []) for t in o.get('text', []))
    assert '"dask": "local:2"' in text and 'PASSED' in text

def test_the_circuit_breaker_stops_a_cluster_run_and_the_rerun_resumes(sample, cluster, tmp_path):
    from msasl_prep.loopback import VideoRequestHandler
    class Refusing(VideoRequestHandler):                            # every video: HTTP 429, as a session over its limit gets
        def respond(self, video_id): self.send_error(429)
    with VideoServer(sample/'videos', Refusing) as srv:
        res = run('msasl-download-videos', '-s', *sources(sample), '-o', str(tmp_path/'videos'), '--url-template', srv.url_template,
                  '--dask', cluster.address, '--breaker', '3', '--retries', '0', '--pause', '0', '-q')
        refused = len(srv.requests)
    assert res.returncode == 3 and 'on every worker' in res.stderr and 'Nothing is lost' in res.stderr, res.stderr
    rows = [json.loads(l) for l in (tmp_path/'videos'/'manifest.jsonl').read_text().splitlines()]
    assert {r['status'] for r in rows if r.get('video_id')} <= {'rate_limited'} and refused < 12   # stopped early, nothing filed as lost
    with VideoServer(sample/'videos') as srv:                       # the limit is gone: the same command finishes the job
        res = run('msasl-download-videos', '-s', *sources(sample), '-o', str(tmp_path/'videos'), '--url-template', srv.url_template,
                  '--dask', cluster.address, '-q')
    assert res.returncode == 0, res.stderr
    assert set(statuses(tmp_path/'videos').values()) == {'ok'} and len(list((tmp_path/'videos').glob('*.mp4'))) == 12
