"""Reliability, round three (issue 17): the shared budget file, sticky failure rows, Dask's edges, the annotation fetch,
manifest lines that are not rows, the pipeline's parameters, and the smaller ones. Each test is one item of the issue."""
import glob, hashlib, http.server, io, json, os, shutil, signal, socket, subprocess, sys, threading, time, zipfile
from pathlib import Path
import pytest
from conftest import run
from test_cli import one_line_error
from test_download import FaultyServer, FaultyHandler, manifest, kinds, ctrl_c_works, SPLITS

def sources(d): return [str(Path(d)/f'MSASL_{s}.json') for s in SPLITS]

def download(sample, out, template, *extra, env=None):
    return subprocess.run(['msasl-download-videos', '-s', *sources(sample), '-o', str(out), '--url-template', template, '-q',
                           '--backoff', '0.05', '--timeout', '5', *extra], capture_output=True, text=True, timeout=600, env=env)

def closed_port()->int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def budget_files(state): return sorted(Path(state).glob('budget-*.json'))

# 1 -----------------------------------------------------------------------------------------------------------------
def test_1_the_budget_file_is_private_follows_no_link_and_trusts_nothing(sample, tmp_path):
    state = tmp_path/'state'; env = {**os.environ, 'MSASL_PREP_STATE': str(state)}
    ids = list(kinds(sample))[:2]
    with FaultyServer(sample/'videos') as srv:
        res = download(sample, tmp_path/'v0', srv.url_template, f'--ids={ids[0]}', '--max-per-hour', '3600', env=env)
        assert res.returncode == 0, res.stderr
        assert oct(state.stat().st_mode & 0o777) == '0o700'
        [path] = budget_files(state)                                          # this address's budget for this server
        victim = tmp_path/'victim'; victim.write_text('precious')
        path.unlink(); path.symlink_to(victim)                                 # a link planted where the file goes
        res = download(sample, tmp_path/'v1', srv.url_template, f'--ids={ids[1]}', '--max-per-hour', '3600', env=env)
        one_line_error(res, 'budget file', str(path))
        assert victim.read_text() == 'precious'
        for junk in ('[1,2,3]', '{"next": "soon"}', '{"next": 1e12, "until": 1e12}', 'not json'):
            path.unlink(); path.write_text(junk)
            t0 = time.monotonic()
            res = download(sample, tmp_path/f'v-{hashlib.md5(junk.encode()).hexdigest()[:6]}', srv.url_template, f'--ids={ids[1]}',
                           '--max-per-hour', '3600', env=env)
            assert res.returncode == 0 and 'Traceback' not in res.stderr, (junk, res.stderr)
            assert time.monotonic() - t0 < 120, junk                            # reset, not waited for
        path.write_text(json.dumps({'next': time.time() + 3000, 'starts': [time.time() + 3000]}))   # left by --max-per-hour 1
        res = download(sample, tmp_path/'v9', srv.url_template, f'--ids={ids[1]}', '--max-per-hour', '0', env=env)
        assert res.returncode == 0, res.stderr
        out = tmp_path/'out'; out.mkdir(); lock = out/'.msasl-prep.lock'; lock.symlink_to(victim)   # the output lock too
        res = download(sample, out, srv.url_template, f'--ids={ids[1]}', env=env)
        assert res.returncode == 0 and victim.read_text() == 'precious', res.stderr

# 2 -----------------------------------------------------------------------------------------------------------------
def test_2_two_runs_from_one_address_share_one_budget(sample, tmp_path):
    state = tmp_path/'state'; env = {**os.environ, 'MSASL_PREP_STATE': str(state)}
    ids = list(kinds(sample))
    with FaultyServer(sample/'videos') as srv:
        runs = [subprocess.Popen(['msasl-download-videos', '-s', *sources(sample), '-o', str(tmp_path/f'v{i}'), '--url-template',
                                  srv.url_template, '-q', '--max-per-hour', '1200', '--sleep-interval', '0', '--ids', *ids[2*i:2*i + 2]],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for i in range(2)]
        for p in runs: assert p.wait(timeout=300) == 0, p.stderr.read()
    [path] = budget_files(state)
    starts = sorted(json.loads(path.read_text())['starts'])
    assert len(starts) == 4, starts                                            # four requests, booked in one budget ...
    assert all(b - a >= 3 - 1e-6 for a, b in zip(starts, starts[1:])), starts  # ... 3 s apart (1200/h), not two budgets of 2

# 3 -----------------------------------------------------------------------------------------------------------------
class PortalHandler(FaultyHandler):
    "A captive portal: a web page where the video should be, until it is switched off"
    def respond(self, vid):
        if self.server.portal:
            body = b'<html><body>Please sign in to the hotel network</body></html>'
            self.send_response(200); self.send_header('Content-Type', 'text/html'); self.send_header('Content-Length', str(len(body)))
            self.end_headers(); self.wfile.write(body); return
        super().respond(vid)

def test_3_a_failure_row_does_not_outlive_its_cause(sample, tmp_path):
    ids = list(kinds(sample))[:3]
    with FaultyServer(sample/'videos') as srv:
        res = download(sample, tmp_path/'a', srv.url_template.replace('{id}', 'old/{id}'), '--ids', *ids)   # a wrong template
        assert {manifest(tmp_path/'a')[v]['status'] for v in ids} == {'unavailable'}, res.stderr
        res = download(sample, tmp_path/'a', srv.url_template, '--ids', *ids)                               # the right one
        assert res.returncode == 0 and {manifest(tmp_path/'a')[v]['status'] for v in ids} == {'ok'}, res.stderr
        (tmp_path/'b').mkdir(); (tmp_path/'b'/f'{ids[0]}.mp4').mkdir()                                      # a folder in the way
        download(sample, tmp_path/'b', srv.url_template, f'--ids={ids[0]}')
        assert 'move it and run again' in manifest(tmp_path/'b')[ids[0]]['reason']
        (tmp_path/'b'/f'{ids[0]}.mp4').rmdir()
        res = download(sample, tmp_path/'b', srv.url_template, f'--ids={ids[0]}')                           # moved: a plain rerun
        assert manifest(tmp_path/'b')[ids[0]]['status'] == 'ok', res.stderr
    srv = FaultyServer(sample/'videos'); srv.RequestHandlerClass = PortalHandler; srv.portal = True
    with srv:
        download(sample, tmp_path/'c', srv.url_template, f'--ids={ids[1]}', '--retries', '0')
        row = manifest(tmp_path/'c')[ids[1]]
        assert row['status'] == 'error', row
        srv.portal = False                                                                                  # signed in
        res = download(sample, tmp_path/'c', srv.url_template, f'--ids={ids[1]}')
        assert manifest(tmp_path/'c')[ids[1]]['status'] == 'ok', res.stderr

# 4 -----------------------------------------------------------------------------------------------------------------
def test_4_dask_addresses_that_cannot_work_are_one_line_at_once(sample, tmp_path):
    web = http.server.ThreadingHTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)   # a dashboard-like web server
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        for address, says in ((f'tcp://127.0.0.1:{web.server_address[1]}', 'does not answer as a Dask scheduler'),
                              ('tcp://127.0.0.1:99999', 'a port is a number from 1 to 65535'),
                              (f'tcp://127.0.0.1:{closed_port()}', 'cannot reach the Dask scheduler'), ('', '--dask must be local')):
            t0 = time.monotonic()
            res = run('msasl-download-videos', '-s', *sources(sample), '-o', str(tmp_path/'v'), '--dask', address, '-q')
            one_line_error(res, says)
            assert time.monotonic() - t0 < 19, (address, time.monotonic() - t0)   # not Dask's own 20 s timeout, nor a hang
    finally: web.shutdown(); web.server_close()

def test_4_extraction_on_dask_reads_a_read_only_videos_folder(sample, tmp_path):
    pytest.importorskip('distributed')
    videos = tmp_path/'videos'; shutil.copytree(sample/'videos', videos)
    for p in [videos, *videos.iterdir()]: p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        res = run('msasl-extract-frames', '-s', *sources(sample), '-v', str(videos), '-o', str(tmp_path/'out'), '--dask', 'local:1', '-q')
        assert res.returncode == 0 and 'clips per split' in res.stdout, res.stderr[-2000:]
    finally:
        for p in [videos, *videos.iterdir()]: p.chmod(0o755 if p.is_dir() else 0o644)

def test_4_a_lost_scheduler_is_one_line_and_the_rerun_resumes(sample, tmp_path):
    pytest.importorskip('distributed')
    from test_cluster import Cluster
    c = Cluster(tmp_path)
    try:
        c.worker('w1'); c.wait_for(1)
        with FaultyServer(sample/'videos', delay=0.5) as srv:
            p = subprocess.Popen(['msasl-download-videos', '-s', *sources(sample), '-o', str(tmp_path/'v'), '--url-template', srv.url_template,
                                  '-q', '--dask', c.address], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            deadline = time.time() + 120
            while len({v for _, v in srv.log}) < 2 and time.time() < deadline: time.sleep(0.2)
            os.killpg(c.scheduler.pid, signal.SIGKILL)                           # the scheduler goes, mid-run
            out, err = p.communicate(timeout=300)
            lines = [l for l in err.splitlines() if not l.startswith('Dask: ')]          # the dashboard link, printed at the start
            assert p.returncode == 2 and len(lines) == 1 and 'Traceback' not in err, err[-3000:]
            assert 'lost the Dask scheduler' in err and 'run the same command again to resume' in err
            res = download(sample, tmp_path/'v', srv.url_template)               # here, without the cluster
            assert res.returncode == 0 and '12 videos: ok 12' in res.stdout, res.stdout + res.stderr
    finally: c.stop()

# 5 -----------------------------------------------------------------------------------------------------------------
def serve(folder):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
        def __init__(self, *a, **kw): super().__init__(*a, directory=str(folder), **kw)
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Quiet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv

def test_5_get_annotation_in_odd_folders_and_odd_archives(sample, tmp_path):
    www = tmp_path/'www'; www.mkdir()
    def zipped(name, extra=None):
        with zipfile.ZipFile(www/name, 'w') as z:
            for f in sample.glob('MSASL_*.json'): z.write(f, f'MS-ASL/{f.name}')
            z.writestr('MS-ASL/C-UDA-1.0.pdf', b'%PDF licence')
            for n, c in (extra or {}).items(): z.writestr(n, c)
        return hashlib.sha256((www/name).read_bytes()).hexdigest()
    good, twice = zipped('MS-ASL.zip'), zipped('twice.zip', {'old/MSASL_train.json': '[]'})
    long = zipped('long.zip', {'MS-ASL/' + 'licence-' * 36 + '.txt': 'x'})
    srv = serve(www); url = f'http://127.0.0.1:{srv.server_address[1]}'
    try:
        (tmp_path/'afile').write_text('x')
        one_line_error(run('msasl-get-annotation', str(tmp_path/'afile'), '--url', f'{url}/MS-ASL.zip', '--sha256', good), 'is a file, not a folder')
        one_line_error(run('msasl-get-annotation', str(tmp_path/'d'), '--url', f'{url}/twice.zip', '--sha256', twice), 'more than once')
        assert not (tmp_path/'d').exists()
        res = run('msasl-get-annotation', str(tmp_path/'l'), '--url', f'{url}/long.zip', '--sha256', long)
        assert res.returncode == 0 and len(list((tmp_path/'l'/'msasl_data').glob('MSASL_*.json'))) == 5, res.stderr
        res = run('msasl-get-annotation', str(tmp_path/'m'), '--url', f'{url}/MS-ASL.zip', '--sha256', good, '--max-member-mb', '1')
        assert res.returncode == 0, res.stderr                                    # the sample's files fit a 1 MB cap
        edited = tmp_path/'m'/'msasl_data'/'MSASL_val.json'; edited.write_text('[]')
        res = run('msasl-get-annotation', str(tmp_path/'m'), '--url', f'{url}/MS-ASL.zip', '--sha256', good)
        assert res.returncode == 0 and 'kept the earlier copy' in res.stdout, res.stdout
        kept = list(edited.parent.glob('MSASL_val.json.before-*'))
        assert len(kept) == 1 and kept[0].read_text() == '[]' and edited.read_bytes() == (sample/'MSASL_val.json').read_bytes()
    finally: srv.shutdown(); srv.server_close()

# 6 -----------------------------------------------------------------------------------------------------------------
def test_6_manifest_lines_that_are_not_rows_are_named_and_refetched(sample, tmp_path):
    ids = list(kinds(sample))[:2]
    with FaultyServer(sample/'videos') as srv:
        assert download(sample, tmp_path, srv.url_template, '--ids', *ids).returncode == 0
        rows = (tmp_path/'manifest.jsonl').read_text().splitlines()
        keep = [l for l in rows if ids[1] in l]
        (tmp_path/'manifest.jsonl').write_text('\n'.join(['null', '[1,2]', '"text"', json.dumps({'video_id': ids[0]}), *keep]) + '\n')
        srv.log.clear()
        res = download(sample, tmp_path, srv.url_template, '--ids', *ids)
    assert res.returncode == 0 and 'Traceback' not in res.stderr, res.stderr
    assert 'manifest.jsonl:1: not a manifest row' in res.stderr and 'manifest.jsonl:4: not a manifest row' in res.stderr
    assert {v for _, v in srv.log} == set() and manifest(tmp_path)[ids[0]]['adopted']      # its file was there: adopted, no request

# 7 -----------------------------------------------------------------------------------------------------------------
def test_7_pipeline_parameters_are_checked_before_any_work(sample, tmp_path):
    empty = tmp_path/'empty'; empty.mkdir()
    for f in sample.glob('MSASL_*.json'): (empty/f.name).write_text('[]' if f.name != 'MSASL_classes.json' else f.read_text())
    res = run('msasl-pipeline', str(tmp_path/'d0'), '-q', '-p', 'annotation_dir', str(empty), '-p', 'download', 'false')
    one_line_error(res, 'no valid record in the split(s) train, val, test')
    t0 = time.monotonic()
    res = run('msasl-pipeline', str(tmp_path/'d1'), '-p', 'annotation_dir', str(sample), '-p', 'imagenet_root', '/no/such')
    one_line_error(res, 'parameter imagenet_root must be null or an existing folder')
    assert not (tmp_path/'d1'/'reports').exists()                                # refused before any work
    res = run('msasl-pipeline', str(tmp_path/'no_such_dir'), '-q')                   # a mistyped DATA_DIR
    one_line_error(res, 'no_such_dir', 'so DATA_DIR must exist')
    assert not (tmp_path/'no_such_dir').exists()                                 # nothing made
    shadow = tmp_path/'shadow'; shadow.mkdir()                                   # as if the captions extra were not installed
    (shadow/'sitecustomize.py').write_text("import sys\nsys.modules['rapidocr'] = None\n")
    res = subprocess.run(['msasl-pipeline', str(tmp_path/'d2'), '-p', 'hide_captions', 'true'], capture_output=True, text=True,
                         env={**os.environ, 'PYTHONPATH': str(shadow)}, timeout=120)
    one_line_error(res, 'parameter hide_captions', "pip install 'msasl-prep[captions]'")
    (tmp_path/'cwd'/'ann').mkdir(parents=True)                                # relative folders, read from where the user is
    for f in sample.glob('MSASL_*.json'): shutil.copy(f, tmp_path/'cwd'/'ann')
    with FaultyServer(sample/'videos') as srv:
        res = subprocess.run(['msasl-pipeline', str(tmp_path/'d3'), '-q', '-p', 'data_dir', 'rel', '-p', 'annotation_dir', 'ann',
                              '-p', 'url_template', srv.url_template, '-p', 'splits', "['val']", '-p', 'limit', '1', '-p', 'n_checks', '1'],
                             cwd=tmp_path/'cwd', capture_output=True, text=True, timeout=900)
    assert res.returncode == 0 and (tmp_path/'cwd'/'rel'/'msasl'/'val.txt').exists(), res.stderr[-2000:]
    assert not (tmp_path/'d3').exists()

def test_7_ctrl_c_ends_the_pipeline_with_one_line(sample, tmp_path):
    with FaultyServer(sample/'videos', delay=1.0) as srv:
        p = subprocess.Popen(['msasl-pipeline', str(tmp_path/'d'), '-q', '-p', 'annotation_dir', str(sample), '-p', 'url_template',
                              srv.url_template], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                             preexec_fn=ctrl_c_works)
        deadline = time.time() + 300
        while not srv.log and p.poll() is None and time.time() < deadline: time.sleep(0.2)   # the downloads have begun
        os.killpg(p.pid, signal.SIGINT)                                          # Ctrl-C reaches the whole terminal's group
        out, err = p.communicate(timeout=60)
    assert p.returncode == 130 and 'msasl-pipeline: interrupted' in err, (p.returncode, err[-3000:])
    assert 'Traceback' not in err and 'ZMQError' not in err, err[-3000:]

# 8 -----------------------------------------------------------------------------------------------------------------
def test_8_the_smaller_ones(sample, tmp_path):
    ids = list(kinds(sample))
    dash = next(v for v in ids if v.startswith('-'))                               # the sample's -2waQgZyTel kind of id
    with FaultyServer(sample/'videos') as srv:
        one_line_error(download(sample, tmp_path/'a', srv.url_template, '--source-address', '192.0.2.77'), 'cannot send from 192.0.2.77')
        assert srv.log == []
        one_line_error(download(sample, tmp_path/'b', srv.url_template, '--ids', 'zzzzzzzzzzz'), 'no video of the annotation', 'zzzzzzzzzzz')
        res = download(sample, tmp_path/'c', srv.url_template, '--ids', dash, ids[1], 'zzzzzzzzzzz')
        assert res.returncode == 0 and set(manifest(tmp_path/'c')) >= {dash, ids[1]}, res.stderr
        assert 'not in the annotation, skipped: zzzzzzzzzzz' in res.stderr
        (tmp_path/'ids.txt').write_text(f"{ids[2]}\n")
        res = download(sample, tmp_path/'d', srv.url_template, '--ids-file', str(tmp_path/'ids.txt'))
        assert res.returncode == 0 and ids[2] in manifest(tmp_path/'d'), res.stderr
        res = run('msasl-doctor', '--url-template', srv.url_template, '--json')     # the mirror answers: ready, whatever YouTube does
        assert json.loads(res.stdout)['network']['reachable'] is True and res.returncode == 0, res.stdout
    one_line_error(run('msasl-extract-frames', '-s', *sources(sample), '-v', str(sample/'videos'), '-o', str(tmp_path/'e'), '--caption-fill', 'black'),
                   '--caption-fill only works with --hide-captions')
    (tmp_path/'empty.txt').write_text('# Netscape HTTP Cookie File\n')
    res = run('msasl-doctor', '--no-network', '--cookies', str(tmp_path/'empty.txt'))
    assert res.returncode == 1 and 'no cookies in it' in res.stdout, res.stdout
    from msasl_prep.files import OutputLock
    with OutputLock(sample/'videos'):                                            # a download still writing into the videos folder
        res = run('msasl-extract-frames', '-s', *sources(sample), '-v', str(sample/'videos'), '-o', str(tmp_path/'f'), '-q')
    assert res.returncode == 0 and f'note: a download (pid {os.getpid()}) was writing into' in res.stdout, res.stdout
