"""A new user's first hour (issue 16), each test one item: the README's own commands, an offline run, videos already on disk,
papermill run directly, parameters as Python spells them, a partial annotation, an extraction with nothing to extract."""
import json, os, re, shutil, socket, subprocess, sys, time
from pathlib import Path
import nbformat, pytest
from conftest import run
from test_cli import one_line_error
from test_download import FaultyServer, manifest, kinds, SPLITS

ROOT = Path(__file__).resolve().parent.parent

def sources(d): return [str(Path(d)/f'MSASL_{s}.json') for s in SPLITS]

def closed_port()->int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

# 1 -----------------------------------------------------------------------------------------------------------------
def test_1_ci_runs_the_readme_commands_and_they_install_what_the_tests_use(monkeypatch):
    readme = (ROOT/'README.md').read_text()
    install = subprocess.run([sys.executable, str(ROOT/'.ci'/'commands.py'), 'install'], capture_output=True, text=True, check=True).stdout.strip()
    test = subprocess.run([sys.executable, str(ROOT/'.ci'/'commands.py'), 'test'], capture_output=True, text=True, check=True).stdout.strip()
    assert (install, test) == ('pip install -e ".[dev]" && msasl-demo', 'nbdev_test && pytest -q tests')
    assert f"```sh\n{install}\n```" in readme and f"```sh\n{test}\n```" in readme
    ci = (ROOT/'.ci'/'run').read_text()
    code = [l for l in ci.splitlines() if l.strip() and not l.lstrip().startswith('#')]
    assert not [l for l in code if re.search(r'pip\s+install', l)], 'CI installs only with the README command'
    assert 'bash -euo pipefail -c "$install"' in ci and 'bash -euo pipefail -c "$tests"' in ci
    from importlib.metadata import requires
    dev = [r for r in requires('msasl_prep') if 'extra == "dev"' in r]
    for needed in ('rapidocr', 'onnxruntime', 'dask', 'nbdev', 'pytest'): assert any(r.startswith(needed) for r in dev), (needed, dev)
    monkeypatch.setenv('ORT_DISABLE_TELEMETRY', '1')            # as msasl_prep.captions imports it: no telemetry, no .ses file
    for module in ('rapidocr', 'onnxruntime', 'distributed', 'nbdev', 'execnb'): __import__(module)   # here: the README's install

# 3 -----------------------------------------------------------------------------------------------------------------
def test_3_offline_stops_at_once_with_advice_and_records_nothing(sample, tmp_path):
    t0 = time.monotonic()
    res = run('msasl-download-videos', '-s', *sources(sample), '-o', str(tmp_path), '--url-template',
              f'http://127.0.0.1:{closed_port()}/{{id}}.mp4', '--limit', '5', '--retries', '4')
    line = one_line_error(res, 'msasl-download-videos: error:', 'msasl-doctor', 'nothing was sent', 'the same command starts over')
    assert time.monotonic() - t0 < 60, 'minutes to say nothing'
    rows = manifest(tmp_path) if (tmp_path/'manifest.jsonl').exists() else {}
    assert all(r['status'] == 'bad_id' for r in rows.values()), rows               # no failure row for a video
    for cmd in ('msasl-get-annotation', 'msasl-get-kinetics-annotation'):          # the annotations offline: the doctor named
        one_line_error(run(cmd, str(tmp_path/'ann'), '--url', f'http://127.0.0.1:{closed_port()}/x'), 'msasl-doctor', '--url')
        assert not (tmp_path/'ann').exists(), cmd
    with FaultyServer(sample/'videos') as srv:                                     # online: the summary says what was fetched
        res = run('msasl-download-videos', '-s', *sources(sample), '-o', str(tmp_path), '--url-template', srv.url_template,
                  '--limit', '2', '-q', '--timeout', '5')
    assert res.returncode == 0 and 'this run: 2 videos to do: 2 fetched, 0 adopted from the folder, 0 failed' in res.stdout, res.stdout

# 4 -----------------------------------------------------------------------------------------------------------------
def test_4_no_colour_codes_in_reasons_or_the_log_even_on_a_terminal(sample, tmp_path):
    vid = next(iter(kinds(sample)))
    with FaultyServer(sample/'videos', {vid: ['always:404']}) as srv:
        cmd = ['msasl-download-videos', '-s', *sources(sample), '-o', str(tmp_path), '--url-template', srv.url_template,
               f'--ids={vid}', '--retries', '0', '--timeout', '5']
        res = subprocess.run(['script', '-qec', ' '.join(f"'{c}'" for c in cmd), '/dev/null'], capture_output=True, text=True,
                             timeout=300, env={**os.environ, 'TERM': 'xterm-256color'})      # yt-dlp sees a terminal
    assert res.returncode == 0, res.stdout[-2000:]
    row = manifest(tmp_path)[vid]
    assert row['status'] == 'unavailable' and '\x1b' not in row['reason'] and row['reason'].startswith('[generic]'), row
    log = (tmp_path/'download.log').read_text()
    assert 'HTTP Error 404' in log and '\x1b' not in log

# 5 -----------------------------------------------------------------------------------------------------------------
def test_5_videos_already_in_the_folder_are_adopted_without_a_request(sample, tmp_path):
    videos = tmp_path/'data'/'msasl_data'/'videos'; videos.mkdir(parents=True)
    ids = list(kinds(sample))
    for vid in ids: shutil.copy(sample/'videos'/f'{vid}.mp4', videos)
    (videos/f'{ids[0]}.mp4').write_bytes(os.urandom(20_000))                       # one broken copy
    with FaultyServer(sample/'videos') as srv:
        res = run('msasl-download-videos', '-s', *sources(sample), '-o', str(videos), '--url-template', srv.url_template, '-q')
        assert res.returncode == 0, res.stderr
        assert srv.log == []                                                       # not one request
    rows = manifest(videos)
    assert rows[ids[0]]['status'] == 'corrupt' and (videos/'invalid'/f'{ids[0]}.mp4').exists()
    assert all(rows[v]['status'] == 'ok' and rows[v]['adopted'] and rows[v]['attempts'] == 0 for v in ids[1:])
    assert f'this run: {len(ids)} videos to do: 0 fetched, {len(ids)} adopted from the folder' in res.stdout, res.stdout

# 6 -----------------------------------------------------------------------------------------------------------------
def test_6_papermill_run_directly_reads_the_data_dir_it_is_given(sample, tmp_path):
    data = tmp_path/'mydata'; (data/'msasl_data').mkdir(parents=True)
    for f in sample.glob('MSASL_*.json'): shutil.copy(f, data/'msasl_data')
    (tmp_path/'data'/'msasl_data').mkdir(parents=True)                              # a decoy where the old default looked
    with FaultyServer(sample/'videos') as srv:
        res = subprocess.run(['papermill', str(ROOT/'nbs'/'pipeline.ipynb'), 'out.ipynb', '-p', 'data_dir', 'mydata',
                              '-p', 'url_template', srv.url_template, '-y', 'splits: [val]\ntopk: [100]',
                              '-p', 'n_checks', '1', '-p', 'limit', '2', '--no-progress-bar'],
                             cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (data/'msasl'/'val.txt').is_file() and (data/'msasl'/'val100.txt').is_file() and not (tmp_path/'data'/'msasl').exists()
    text = '\n'.join(o.get('text', '') for c in nbformat.read(tmp_path/'out.ipynb', as_version=4).cells for o in c.get('outputs', []))
    assert 'layout: as the training configs expect' in text, text[-2000:]

# 7 -----------------------------------------------------------------------------------------------------------------
def test_7_parameters_spelled_as_python_and_one_layout_check(sample, tmp_path):
    with FaultyServer(sample/'videos') as srv:       # (-p download False and -p download false: parse_value's test, 10_run)
        res = run('msasl-pipeline', str(tmp_path/'d'), '-q', '-p', 'annotation_dir', str(sample), '-p', 'url_template', srv.url_template,
                  '-p', 'splits', "['val']", '-p', 'topk', '[100, 200]', '-p', 'n_checks', '1', '-p', 'download', 'True')
    assert res.returncode == 0, res.stderr[-2000:]
    layout = res.stdout.split('msasl/val.txt')[1].split('executed notebook:')[0]      # (the notebook's name holds the time)
    assert 'layout: as the training configs expect' in layout and '500' not in layout, res.stdout
    assert (tmp_path/'d'/'msasl'/'val100.txt').exists() and not (tmp_path/'d'/'msasl'/'train.txt').exists()   # the splits asked
    assert 'executed notebook:' in res.stdout

# 8 -----------------------------------------------------------------------------------------------------------------
def test_8_a_missing_split_file_is_named_and_left_out_of_the_comparison(sample, tmp_path):
    for f in sample.glob('MSASL_*.json'):
        if f.name != 'MSASL_train.json': shutil.copy(f, tmp_path)
    res = run('msasl-stats', str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert 'missing: MSASL_train.json' in res.stdout
    # MS-ASL100's total is val 1190 + test 757, not all three splits' 5736 (read off its row: a path may hold digits)
    row = [l for l in res.stdout.splitlines() if l.startswith('MS-ASL100 ')]
    assert len(row) == 1 and row[0].split()[-2:] == ['/', '1947'], res.stdout

# 9 -----------------------------------------------------------------------------------------------------------------
def test_9_extraction_with_no_video_fails_with_a_hint(sample, tmp_path):
    (tmp_path/'videos').mkdir()
    res = run('msasl-extract-frames', '-s', *sources(sample), '-v', str(tmp_path/'videos'), '-o', str(tmp_path/'out'), '-q')
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    assert 'no clip could be made: 12 of 12 videos are not in the videos folder' in res.stdout and 'msasl-download-videos' in res.stdout
    assert not list((tmp_path/'out').glob('*.txt'))                       # no list at all, not an empty train.txt
    res = run('msasl-check-crops', str(tmp_path/'out'), '--videos', str(tmp_path/'videos'))
    assert 'lowest PSNR: - (no clip compared)' in res.stdout and 'None' not in res.stdout, res.stdout

# 10 ----------------------------------------------------------------------------------------------------------------
def test_10_built_wheels_are_ignored_and_installs_leave_no_build_files():
    assert subprocess.run(['git', 'check-ignore', '-q', 'msasl_prep-0.1.0-py3-none-any.whl'], cwd=ROOT).returncode == 0
    assert (ROOT/'pyproject.toml').is_file()                                   # pip builds through PEP 517/660: no `setup.py develop`
    assert not (ROOT/'msasl_prep.egg-info').exists() and not (ROOT/'build').exists() and not list(ROOT.glob('*.whl'))
    # CI (.ci/run) checks the rest: the test run leaves the temporary folder and the checkout as it found them
