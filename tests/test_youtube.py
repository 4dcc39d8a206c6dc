"""YouTube as it behaves today (issue 9), offline: yt-dlp's own JS-runtime detection, YouTube's real messages through a yt-dlp
extractor plugin on loopback, pacing, the circuit breaker, msasl-doctor and msasl-get-annotation."""
import functools, hashlib, http.server, io, json, os, shutil, subprocess, sys, threading, time, zipfile
from pathlib import Path
import pytest
from conftest import run
from test_download import FaultyServer, manifest, kinds, SPLITS

def sources(d): return [str(Path(d)/f'MSASL_{s}.json') for s in SPLITS]

def download(sample, out, template, *extra, env=None):
    return subprocess.run(['msasl-download-videos', '-s', *sources(sample), '-o', str(out), '--url-template', template, '-q',
                           '--backoff', '0.05', '--timeout', '2', *extra], capture_output=True, text=True, timeout=300, env=env)

# YouTube's words, as yt-dlp 2026.10 passes them on, and the status each must end in
MESSAGES = [
    ("This content isn't available, try again later. The current session has been rate-limited by YouTube for up to an hour.", 'rate_limited'),
    ("Sign in to confirm you're not a bot. Use --cookies-from-browser or --cookies for the authentication.", 'bot_check'),
    ("Private video. Sign in if you've been granted access to this video", 'private'),
    ("Video unavailable. This video has been removed by the uploader", 'removed'),
    ("Video unavailable. This video is no longer available because the YouTube account associated with this video has been terminated.", 'removed'),
    ("Video unavailable. This video is no longer available due to a copyright claim by Someone", 'removed'),
    ("Video unavailable", 'unavailable'),
    ("The uploader has not made this video available in your country", 'geo_blocked'),
    ("Sign in to confirm your age. This video may be inappropriate for some users.", 'age_restricted'),
    ("Requested format is not available. Use --list-formats for a list of available formats", 'no_format')]

PLUGIN = r'''
"A YouTube stand-in on loopback: answers each video id with the messages of $MSASL_FAKE_PLAN in turn (the last repeats)"
import json, os
from yt_dlp.extractor.common import InfoExtractor
from yt_dlp.utils import ExtractorError
_SEEN = {}
class MsaslFakeYoutubeIE(InfoExtractor):
    IE_NAME = 'msasl_fake_youtube'
    _VALID_URL = r'http://127\.0\.0\.1:(?P<port>\d+)/watch/(?P<id>[A-Za-z0-9_-]{11})$'
    def _real_extract(self, url):
        video_id, port = self._match_valid_url(url).group('id', 'port')
        with open(os.environ['MSASL_FAKE_LOG'], 'a') as f: f.write(video_id + '\n')
        plan = json.load(open(os.environ['MSASL_FAKE_PLAN'])).get(video_id) or ['ok']
        n = _SEEN[video_id] = _SEEN.get(video_id, 0) + 1
        action = plan[min(n, len(plan)) - 1]
        if action.startswith('warn:'): self.report_warning(action[5:]); action = 'ok'
        if action != 'ok': raise ExtractorError(action, expected=True, video_id=video_id)
        return {'id': video_id, 'title': video_id, 'url': f'http://127.0.0.1:{port}/{video_id}.mp4', 'ext': 'mp4'}
'''

@pytest.fixture
def fake_youtube(tmp_path):
    "PYTHONPATH with a yt-dlp extractor plugin, and the files that steer and record it"
    plugins = tmp_path/'plugins'/'yt_dlp_plugins'/'extractor'; plugins.mkdir(parents=True)
    (plugins/'msasl_fake.py').write_text(PLUGIN)
    plan, log = tmp_path/'plan.json', tmp_path/'asked.log'
    env = {**os.environ, 'PYTHONPATH': str(tmp_path/'plugins'), 'MSASL_FAKE_PLAN': str(plan), 'MSASL_FAKE_LOG': str(log)}
    return env, plan, log

def test_the_fetcher_names_the_deno_wheels_js_runtime_to_yt_dlp(tmp_path):
    from msasl_prep.fetcher import js_runtime
    assert js_runtime() and js_runtime()['name'] == 'deno', js_runtime()
    bare = {**os.environ, 'PATH': '/usr/bin:/bin'}                         # the venv's bin/ not on PATH
    res = subprocess.run([shutil.which('msasl-doctor'), '--json', '--no-network'], capture_output=True, text=True, env=bare)
    r = json.loads(res.stdout)
    assert r['js_runtime']['name'] == 'deno' and r['js_runtime']['version'] and r['yt_dlp_ejs'], r
    assert set(r) >= {'yt_dlp', 'yt_dlp_ejs', 'js_runtime', 'ffmpeg', 'cookies', 'disk', 'network'}
    assert r['network'] == {'host': 'www.youtube.com', 'reachable': None, 'detail': 'not checked'}
    assert res.returncode == 0 and r['ready'] and not r['problems'], res.stderr

def test_youtubes_messages_end_in_the_right_status(sample, tmp_path, fake_youtube):
    env, plan, asked = fake_youtube
    ids = list(kinds(sample))
    assert len(ids) >= len(MESSAGES) + 2
    plan.write_text(json.dumps({**{vid: [msg, 'ok'] for vid, (msg, _) in zip(ids, MESSAGES)},
                                **{vid: ['warn:No supported JavaScript runtime could be found. Only deno is enabled by default'] for vid in ids[-2:]}}))
    from msasl_prep.loopback import VideoServer
    with VideoServer(sample/'videos') as srv:
        template = srv.url_template.replace('{id}.mp4', 'watch/{id}')
        res = download(sample, tmp_path, template, '-n', '2', '--retries', '1', '--breaker', '0', '--pause', '0.1', env=env)
        assert res.returncode == 0, res.stderr
        rows = manifest(tmp_path)
        got = {vid: (rows[vid]['status'], rows[vid]['attempts']) for vid in ids}
        for vid, (msg, status) in zip(ids, MESSAGES):
            if status == 'rate_limited': assert got[vid] == ('ok', 2), (msg, got[vid])          # transient: retried, then fine
            else: assert got[vid] == (status, 1), (msg, got[vid])                               # bot check and permanent: not now
        for vid in ids[len(MESSAGES):]: assert got[vid][0] == 'ok'
        log = (tmp_path/'download.log').read_text().splitlines()
        assert sum(' WARNING ' in l and 'No supported JavaScript runtime' in l for l in log) == 2 and any(f' {ids[-1]} WARNING ' in l for l in log)
        assert any(f' {ids[1]} ERROR ' in l and 'not a bot' in l for l in log)
        assert res.stderr.count('found no JavaScript runtime') == 1                              # told once per run
        asked.write_text('')
        res = download(sample, tmp_path, template, '-n', '2', '--retries', '1', '--breaker', '0', env=env)
        assert res.returncode == 0, res.stderr
        assert asked.read_text().split() == [ids[1]]                          # the rerun asks again for the bot check only

def test_pacing_spreads_requests_over_all_workers(sample, tmp_path):
    "The schedule itself is checked against a fake clock in the notebook; here only what load cannot make faster"
    with FaultyServer(sample/'videos') as srv:
        t0 = time.monotonic()
        res = download(sample, tmp_path/'paced', srv.url_template, '-n', '3', '--limit', '6', '--max-per-hour', '1800', '--sleep-interval', '0')
        took = time.monotonic() - t0
        assert res.returncode == 0, res.stderr
        assert len({vid for _, vid in srv.log}) == 6 and took >= 10, took        # 5 gaps of 2 s: no faster, however idle the machine
        assert '(planned: 6 videos at <=1800/h: about' in res.stdout and '6 fetched' in res.stdout, res.stdout
        res = download(sample, tmp_path/'free', srv.url_template, '-n', '3', '--limit', '6', '--max-per-hour', '0')
        assert res.returncode == 0 and '(planned: 6 videos, no pacing)' in res.stdout, res.stdout

def test_the_circuit_breaker_stops_and_the_rerun_resumes(sample, tmp_path):
    ids = list(kinds(sample))
    with FaultyServer(sample/'videos', {vid: ['always:429'] for vid in ids}) as srv:
        t0 = time.monotonic()
        res = download(sample, tmp_path, srv.url_template, '--pause', '0.5', '--breaker', '4')
        assert res.returncode == 3 and time.monotonic() - t0 < 60, (res.returncode, res.stderr)
        assert 'stopped after 4 answers in a row' in res.stderr and '--max-per-hour' in res.stderr and 'Traceback' not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
        rows = manifest(tmp_path) if (tmp_path/'manifest.jsonl').exists() else {}
        assert all(r['status'] == 'bad_id' for r in rows.values()), rows      # no failure rows for videos
        srv.faults.clear()
        res = download(sample, tmp_path, srv.url_template, '--pause', '0.5', '--breaker', '4')
        assert res.returncode == 0, res.stderr
        assert sum(r['status'] == 'ok' for r in manifest(tmp_path).values()) == len(ids)

def test_doctor_checks_cookies_and_probes_one_video(sample, tmp_path):
    (tmp_path/'cookies.txt').write_text('{"not": "netscape"}\n')
    res = run('msasl-doctor', '--no-network', '--cookies', str(tmp_path/'cookies.txt'), '-s', *sources(sample), '-o', str(tmp_path))
    assert res.returncode == 1 and 'problem: cookies: not a Netscape cookies.txt' in res.stdout, res.stdout
    assert 'videos need about' in res.stdout
    vid = next(k for k, v in kinds(sample).items() if v['kind'] == 'long')
    from msasl_prep.loopback import VideoServer
    with VideoServer(sample/'videos') as srv:
        res = run('msasl-doctor', '--no-network', '--json', f'--probe={vid}', '--url-template', srv.url_template, '-s', *sources(sample))
        assert res.returncode == 0, res.stdout + res.stderr
        p = json.loads(res.stdout)['probe']
        assert p['status'] == 'ok' and p['chosen'] and p['formats'] and srv.requests and set(srv.requests) == {vid}

def serve(folder):
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder)))
    srv.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv

def test_get_annotation_verifies_and_unpacks_flat(sample, tmp_path):
    www = tmp_path/'www'; www.mkdir()
    def zipped(name, extra=None):
        with zipfile.ZipFile(www/name, 'w') as z:
            for f in sample.glob('MSASL_*.json'): z.write(f, f'MS-ASL/deep/{f.name}')
            z.writestr('MS-ASL/C-UDA-1.0.pdf', b'%PDF licence')
            for n, c in (extra or {}).items(): z.writestr(n, c)
        return hashlib.sha256((www/name).read_bytes()).hexdigest()
    good, evil = zipped('MS-ASL.zip'), zipped('evil.zip', {'../x.json': '[]'})
    srv = serve(www)
    try:
        url = f'http://127.0.0.1:{srv.server_address[1]}'
        res = run('msasl-get-annotation', str(tmp_path/'d'), '--url', f'{url}/MS-ASL.zip', '--sha256', '0' * 64)
        assert res.returncode == 2 and good in res.stderr and '0' * 64 in res.stderr and not (tmp_path/'d').exists(), res.stderr
        res = run('msasl-get-annotation', str(tmp_path/'d'), '--url', f'{url}/evil.zip', '--sha256', evil)
        assert res.returncode == 2 and "'../x.json'" in res.stderr and not (tmp_path/'d').exists(), res.stderr
        res = run('msasl-get-annotation', str(tmp_path/'d'), '--url', f'{url}/MS-ASL.zip', '--sha256', good)
        assert res.returncode == 0, res.stderr
        folder = tmp_path/'d'/'msasl_data'
        assert sorted(p.name for p in folder.iterdir() if not p.name.startswith('.')) == sorted(
            ['C-UDA-1.0.pdf', 'MSASL_classes.json', 'MSASL_synonym.json', 'MSASL_test.json', 'MSASL_train.json', 'MSASL_val.json'])
        for f in sample.glob('MSASL_*.json'): assert (folder/f.name).read_bytes() == f.read_bytes()
        assert 'invalid records: 3' in res.stdout and 'MS-ASL1000' in res.stdout
    finally: srv.shutdown(); srv.server_close()
    res = run('msasl-get-annotation', str(tmp_path/'d'), '--url', f'{url}/MS-ASL.zip', '--sha256', good)   # the server is gone
    assert res.returncode == 0 and 'already there, unchanged' in res.stdout, res.stderr
