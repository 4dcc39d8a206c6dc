"Hostile and unlucky runs (issue 8): odd values, full disks, concurrent runs, kills. Each test is one item of the issue."
import json, os, re, shutil, signal, subprocess, sys, time
from contextlib import contextmanager
from pathlib import Path
import pytest
from conftest import run
from test_cli import one_line_error
from msasl_prep.loopback import VideoServer

SPLITS = ('train', 'val', 'test')
LOCK = '.msasl-prep.lock'

def sources(d): return [str(Path(d)/f'MSASL_{s}.json') for s in SPLITS]

def extract(ann, videos, out, *extra): return run('msasl-extract-frames', '-s', *sources(ann), '-v', str(videos), '-o', str(out), '-q', *extra)

def download(ann, out, template, *extra):
    return run('msasl-download-videos', '-s', *sources(ann), '-o', str(out), '--url-template', template, '-q',
               '--backoff', '0.05', '--timeout', '2', *extra)

def rows(path): return [json.loads(l) for l in Path(path).read_text().splitlines()]

def long_video(sample): return next(v['video_id'] for v in json.loads((sample/'sample.json').read_text())['videos'] if v['kind'] == 'long')

def copy_annotation(sample, dest, edit=None):
    "The sample's annotation files in `dest` (no videos); `edit(split, records)` may change them"
    dest.mkdir(parents=True, exist_ok=True)
    for f in sample.glob('MSASL_*.json'): shutil.copy(f, dest/f.name)
    if edit:
        for s in SPLITS:
            recs = json.loads((dest/f'MSASL_{s}.json').read_text()); edit(s, recs)
            (dest/f'MSASL_{s}.json').write_text(json.dumps(recs))
    return dest

@contextmanager
def tmpfs(path, size):
    "A small RAM disk at `path` (root only), to fill up for real"
    path.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', str(path)], capture_output=True, text=True)
    if res.returncode: pytest.skip(f'cannot mount a tmpfs here: {res.stderr.strip()}')
    try: yield path
    finally: subprocess.run(['umount', '-l', str(path)], capture_output=True)

def no_tmp_left(root): assert not [p for p in Path(root).rglob('*') if p.name.endswith('.tmp')], list(Path(root).rglob('*.tmp'))

# 1 -----------------------------------------------------------------------------------------------------------------
def test_1_url_template_without_id_is_refused_everywhere(sample, tmp_path):
    from msasl_prep.wants import DownloadOptions
    from msasl_prep.options import OptionError
    with pytest.raises(OptionError, match=r'\{id\}'): DownloadOptions(url_template='http://127.0.0.1:9/-2waQgZyTel.mp4')
    with VideoServer(sample/'videos') as srv:
        t0 = time.monotonic()
        res = run('msasl-pipeline', str(tmp_path/'d'), '-p', 'annotation_dir', str(sample), '-p', 'url_template',
                  srv.url_template.replace('{id}', long_video(sample)), '-p', 'limit', '4', '-q')
        one_line_error(res, 'url_template', '{id}')
        assert not srv.requests and time.monotonic() - t0 < 30

# 2 -----------------------------------------------------------------------------------------------------------------
def test_2_full_disk_while_downloading_stops_and_loses_nothing(sample, tmp_path):
    with tmpfs(tmp_path/'disk', '8m') as disk, VideoServer(sample/'videos') as srv:
        res = download(sample, disk/'videos', srv.url_template, '-n', '1')
        line = one_line_error(res, 'msasl-download-videos: error:')
        assert re.search(r'[Nn]o space left', line), line
        man = disk/'videos'/'manifest.jsonl'
        text = man.read_text()
        assert text.endswith('\n')
        got = [json.loads(l) for l in text.splitlines()]                      # every line whole
        assert all(r['status'] in ('ok', 'bad_id') for r in got), got          # no row blames a video
        assert not (disk/'videos'/'.manifest.jsonl.tmp').exists()
        subprocess.run(['mount', '-o', 'remount,size=64m', str(disk)], check=True)
        res = download(sample, disk/'videos', srv.url_template)                 # no --retry-failed needed
        assert res.returncode == 0, res.stderr
        assert '12 videos: ok 12' in res.stdout
        for v in (sample/'videos').glob('*.mp4'): assert (disk/'videos'/v.name).read_bytes() == v.read_bytes()

# 3 -----------------------------------------------------------------------------------------------------------------
def test_3_one_record_past_the_end_costs_one_clip_not_the_video(sample, clean, tmp_path):
    vid = long_video(sample)
    last = {}
    def edit(split, recs):
        for i, r in enumerate(recs):
            if vid in r.get('url', '') and r['end'] > last.get('end', -1): last.update(split=split, index=i, end=r['end'])
    copy_annotation(sample, tmp_path/'probe', edit)
    def push(split, recs):
        if split == last['split']: recs[last['index']]['end'] = 905
    ann = copy_annotation(sample, tmp_path/'ann', push)
    with VideoServer(sample/'videos') as srv:
        res = download(ann, tmp_path/'videos', srv.url_template, f'--ids={vid}')
    assert res.returncode == 0, res.stderr
    row = next(r for r in rows(tmp_path/'videos'/'manifest.jsonl') if r['video_id'] == vid)
    assert row['status'] == 'ok' and row['clips_past_end'] == 1, row
    assert (tmp_path/'videos'/f'{vid}.mp4').is_file() and not (tmp_path/'videos'/'invalid'/f'{vid}.mp4').exists()
    res = extract(ann, tmp_path/'videos', tmp_path/'out')
    assert res.returncode == 0, res.stderr
    rep = rows(tmp_path/'out'/'extract_report.jsonl')
    past = [r for r in rep if r.get('reason') == 'past_end']
    assert [(r['split'], r['record']) for r in past] == [(last['split'], last['index'])]
    before = sum(r['status'] == 'ok' and r['video_id'] == vid for r in rows(clean/'extract_report.jsonl'))
    assert sum(r['status'] == 'ok' and r['video_id'] == vid for r in rep) == before - 1 > 10

# 4 -----------------------------------------------------------------------------------------------------------------
def test_4_full_disk_while_extracting_stops_with_exit_2(sample, tmp_path):
    with tmpfs(tmp_path/'disk', '3m') as disk:
        res = extract(sample, sample/'videos', disk/'out', '-j', '1')
        line = one_line_error(res, 'msasl-extract-frames: error:')
        assert re.search(r'[Nn]o space left', line), line
        assert not list((disk/'out').glob('*.txt'))                              # no lists that pretend to be complete
        for notes in (disk/'out'/'global_crops').glob('*/.clips.json'):         # what is noted as made is whole
            for name, note in json.loads(notes.read_text()).items():
                first, stop = note['window']
                assert sorted(p.name for p in (notes.parent/name).iterdir()) == [f'img_{k:05d}.jpg' for k in range(1, stop - first + 1)]
        assert not list((disk/'out'/'global_crops').glob('*/.clip_*.tmp'))      # and nothing half-made
    res = extract(sample, sample/'videos', tmp_path/'o2', '--box-scale', '-1')
    one_line_error(res, 'box-scale')
    assert not (tmp_path/'o2'/'global_crops').exists()

# 5 -----------------------------------------------------------------------------------------------------------------
def wait_for(cond, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cond(): return True
        time.sleep(0.02)
    return False

def test_5_a_second_run_on_the_same_output_is_refused(sample, clean, tmp_path):
    out = tmp_path/'out'
    cmd = ['msasl-extract-frames', '-s', *sources(sample), '-v', str(sample/'videos'), '-o', str(out), '-q', '-j', '1']
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: (out/LOCK).exists() and any((out/'global_crops').glob('*/clip_*')))
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    line = one_line_error(second, 'another run (pid', f'is using {out}')
    assert str(first.pid) in line
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    for s in SPLITS: assert (out/f'{s}.txt').read_text() == (clean/f'{s}.txt').read_text()
    with VideoServer(sample/'videos') as srv:
        cmd = ['msasl-download-videos', '-s', *sources(sample), '-o', str(tmp_path/'v'), '--url-template', srv.url_template, '-q', '-n', '1']
        first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert wait_for(lambda: (tmp_path/'v'/LOCK).exists())
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        _, err = first.communicate(timeout=300)
        assert first.returncode == 0, err
    one_line_error(second, 'another run (pid', f'is using {tmp_path/"v"}')

def test_5_a_lock_left_by_a_killed_run_does_not_block(sample, tmp_path):
    out = tmp_path/'out'
    cmd = ['msasl-extract-frames', '-s', *sources(sample), '-v', str(sample/'videos'), '-o', str(out), '-q', '-j', '1']
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: (out/LOCK).exists())
    p.kill(); p.wait()
    assert (out/LOCK).exists()
    res = run(*cmd)
    assert res.returncode == 0, res.stderr

# 6 -----------------------------------------------------------------------------------------------------------------
def test_6_implausible_values_are_kept_out_by_name(sample, clean, tmp_path):
    bad = {0: dict(fps=1e308), 1: dict(fps=1e-308), 2: dict(fps=0.001), 3: dict(end=1e308), 4: dict(width=1e5), 5: dict(height=4)}
    def edit(split, recs):
        if split == 'train':
            for i, change in bad.items(): recs[i].update(change)
    ann = copy_annotation(sample, tmp_path/'ann', edit)
    res = extract(ann, sample/'videos', tmp_path/'out')
    assert res.returncode == 0, res.stderr
    rep = rows(tmp_path/'out'/'extract_report.jsonl')
    invalid = {r['record']: r for r in rep if r['status'] == 'invalid' and r['file'] == 'MSASL_train.json'}
    assert set(bad) <= set(invalid)
    assert [invalid[i]['reason'] for i in range(6)] == ['bad_fps', 'bad_fps', 'bad_fps', 'bad_frame', 'bad_size', 'bad_size']
    assert all(len(r['detail']) < 120 for r in invalid.values()), [r['detail'] for r in invalid.values()]
    assert (tmp_path/'out'/'val.txt').read_text() == (clean/'val.txt').read_text()    # the other records are untouched
    assert (tmp_path/'out'/'train.txt').read_text().strip()

# 7 -----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('content', ['42', 'null', '{"a": "b"}', '["a", 3]'])
def test_7_classes_file_must_be_a_list_of_strings(sample, tmp_path, content):
    ann = copy_annotation(sample, tmp_path/'ann')
    (ann/'MSASL_classes.json').write_text(content)
    one_line_error(extract(ann, sample/'videos', tmp_path/'out'), 'MSASL_classes.json', 'list of gloss strings')
    one_line_error(run('msasl-download-videos', '-s', *sources(ann), '-o', str(tmp_path/'v'), '-q'), 'MSASL_classes.json')
    assert not (tmp_path/'out').exists() and not (tmp_path/'v').exists()

# 8 -----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('args', [('--target-fps', '0'), ('--box-scale', '0'), ('--target-frames', '0'), ('-j', '0'),
                                  ('--crop-size', '8x8'), ('--target-fps', 'nan'), ('--box-scale', 'inf')])
def test_8_extract_options_are_checked_at_parse_time(sample, tmp_path, args):
    one_line_error(extract(sample, sample/'videos', tmp_path/'out', *args), args[0])
    assert not (tmp_path/'out').exists()

@pytest.mark.parametrize('args', [('-n', '0'), ('--retries', '-1'), ('--timeout', '0'), ('--pause', '-1'), ('--backoff', 'nan'),
                                  ('--limit', '-1'), ('--topk', '0'), ('--sleep-interval', '-2')])
def test_8_download_options_are_checked_at_parse_time(sample, tmp_path, args):
    one_line_error(run('msasl-download-videos', '-s', *sources(sample), '-o', str(tmp_path/'v'), '-q', *args), args[0])
    assert not (tmp_path/'v').exists()

# 9 -----------------------------------------------------------------------------------------------------------------
def test_9_a_folder_named_like_a_video_costs_that_video_only(sample, tmp_path):
    vids = sorted(p.stem for p in (sample/'videos').glob('*.mp4'))
    (tmp_path/'v'/f'{vids[3]}.mp4').mkdir(parents=True)
    with VideoServer(sample/'videos') as srv:
        for attempt in range(2):                                                # and again on the rerun
            res = download(sample, tmp_path/'v', srv.url_template, '--retry-failed')
            assert res.returncode == 0, res.stderr
            got = {r['video_id']: r for r in rows(tmp_path/'v'/'manifest.jsonl') if r['video_id']}
            assert got[vids[3]]['status'] == 'error' and 'directory' in got[vids[3]]['reason'], got[vids[3]]
            assert sum(r['status'] == 'ok' for r in got.values()) == 11
    shutil.copytree(sample/'videos', tmp_path/'v2'); os.remove(tmp_path/'v2'/f'{vids[3]}.mp4'); (tmp_path/'v2'/f'{vids[3]}.mp4').mkdir()
    res = extract(sample, tmp_path/'v2', tmp_path/'out')
    assert res.returncode == 0, res.stderr
    skipped = [r for r in rows(tmp_path/'out'/'extract_report.jsonl') if r.get('video_id') == vids[3]]
    assert skipped and all(r['status'] == 'skipped' and 'directory' in r['detail'] for r in skipped)

# 10 ----------------------------------------------------------------------------------------------------------------
def ffmpegs_writing_to(out):
    "pids of live ffmpeg processes whose command line names `out`"
    found = []
    for p in Path('/proc').iterdir():
        if not p.name.isdigit(): continue
        try: cmd = (p/'cmdline').read_bytes().split(b'\0'); stat = (p/'stat').read_text()
        except OSError: continue
        if stat.split(') ')[-1][0] != 'Z' and any(str(out).encode() in c for c in cmd) and b'ffmpeg' in cmd[0]: found.append(int(p.name))
    return found

def test_10_ffmpeg_dies_with_a_killed_extraction(sample, clean, tmp_path):
    out = tmp_path/'out'
    cmd = ['msasl-extract-frames', '-s', *sources(sample), '-v', str(sample/'videos'), '-o', str(out), '-q', '-j', '2']
    for kill_after in (0, 5):                                                # clips already complete before the kill
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_for(lambda: len(list(out.glob('global_crops/*/clip_*'))) >= kill_after and ffmpegs_writing_to(out), 120)
        p.send_signal(signal.SIGKILL); p.wait()
        assert wait_for(lambda: not ffmpegs_writing_to(out), 0.5), 'ffmpeg outlived its parent'
        res = run(*cmd)                                                      # at once
        assert res.returncode == 0, res.stderr
        for s in SPLITS: assert (out/f'{s}.txt').read_text() == (clean/f'{s}.txt').read_text()
        no_tmp_left(out)
        shutil.rmtree(out)

# 11 ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('name,value', [('workers', 'notanumber'), ('topk', '100'), ('splits', 'train'), ('limit', 'abc'),
                                        ('workers', '0'), ('crop_mode', 'zoom'), ('n_checks', '-1'), ('seed', '1.5')])
def test_11_pipeline_parameters_are_checked_before_anything_runs(sample, tmp_path, name, value):
    t0 = time.monotonic()
    res = run('msasl-pipeline', str(tmp_path/'d'), '-p', 'annotation_dir', str(sample), '-p', name, value, '-q')
    one_line_error(res, name)
    assert time.monotonic() - t0 < 20 and not (tmp_path/'d'/'reports').exists()

# a relative annotation_dir, read from the current folder: test_reliability's test_7, with a relative data_dir

# 12 ----------------------------------------------------------------------------------------------------------------
def test_12_split_annotation_checks_k_and_labels(clean, tmp_path):
    for k in ('0', '-5', str(10**30)):
        one_line_error(run('msasl-split-annotation', '-a', str(clean/'train.txt'), '-k', k), 'topk')
    f = tmp_path/'train.txt'; f.write_text('abcdefghijk/clip_0000 -3 1 5 0 9 25\n')
    one_line_error(run('msasl-split-annotation', '-a', str(f), '-k', '100'), f'{f}:1')
    assert not (tmp_path/'train100.txt').exists()
    f.write_bytes(b'abcdefghijk/clip_0000 3 1 5 0 9 25\n\xff\xfe\n')
    one_line_error(run('msasl-split-annotation', '-a', str(f), '-k', '100'), str(f))

def test_12_check_crops_fails_on_nothing_and_on_a_truncated_jpeg(clean, sample, tmp_path):
    empty = tmp_path/'empty'; empty.mkdir()
    for s in SPLITS: (empty/f'{s}.txt').write_text('')
    (empty/'extract_report.jsonl').write_text('')
    res = run('msasl-check-crops', str(empty), '--strict')
    assert res.returncode == 1 and 'no clips' in res.stdout, res.stdout
    out = tmp_path/'out'; shutil.copytree(clean, out)
    victim = sorted(out.glob('global_crops/*/clip_*/img_*.jpg'))[7]
    victim.write_bytes(victim.read_bytes()[:len(victim.read_bytes()) // 2])
    res = run('msasl-check-crops', str(out), '--strict', '--n-checks', '1')
    assert res.returncode == 1 and victim.name in res.stdout and 'truncated' in res.stdout, res.stdout
    lines = (out/'extract_report.jsonl').read_text().splitlines()
    (out/'extract_report.jsonl').write_text('\n'.join(lines[:3]) + '\n' + lines[3][:40])
    res = run('msasl-check-crops', str(out), '--strict')                # a cut line is named, and the checks fail
    assert res.returncode == 1 and 'extract_report.jsonl:4: not a report row' in res.stdout and 'Traceback' not in res.stderr, res.stdout

def test_12_imagenet_paths_lists_only_real_images(tmp_path):
    from PIL import Image
    root = tmp_path/'root'; (root/'n01').mkdir(parents=True)
    Image.new('RGB', (8, 8)).save(root/'n01'/'a.jpg'); Image.new('RGB', (8, 8)).save(root/'n01'/'b.png')
    (root/'n01'/'fake.jpg').write_text('not an image'); (root/'n01'/'empty.JPEG').write_bytes(b'')
    res = run('msasl-imagenet-paths', str(root), str(tmp_path/'list.txt'))
    assert res.returncode == 0, res.stderr
    assert (tmp_path/'list.txt').read_text().split() == ['n01/a.jpg', 'n01/b.png'] and '2 other entries skipped' in res.stdout
    (tmp_path/'adir').mkdir()
    one_line_error(run('msasl-imagenet-paths', str(root), str(tmp_path/'adir')), 'adir')
    no_tmp_left(tmp_path)

def test_12_an_interrupted_write_leaves_no_temporary_file(sample, clean, tmp_path):
    out = tmp_path/'out'; shutil.copytree(clean, out)
    before = (out/'extract_report.jsonl').read_bytes()
    cmd = ' '.join(['msasl-extract-frames', '-s', *sources(sample), '-v', str(sample/'videos'), '-o', str(out), '-q'])
    res = subprocess.run(['bash', '-c', f'ulimit -f 4; exec {cmd}'], capture_output=True, text=True)   # files of 4 KiB at most
    one_line_error(res, 'msasl-extract-frames: error:')
    no_tmp_left(out)
    strip = lambda r: {k: v for k, v in r.items() if k not in ('video_seconds', 'made')}
    old = [strip(json.loads(l)) for l in before.decode().splitlines()]   # the report holds this run's rows, each whole
    assert all(strip(json.loads(l)) in old for l in (out/'extract_report.jsonl').read_text().splitlines())
    code = ("import resource, sys; from msasl_prep.files import write_atomic; resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))\n"
            "try: write_atomic(sys.argv[1], 'x' * 5000)\nexcept OSError as e: print(e.errno)")
    res = subprocess.run([sys.executable, '-c', code, str(tmp_path/'f.txt')], capture_output=True, text=True)
    assert res.stdout.strip() == '27' and not list(tmp_path.glob('.f.txt*')), (res.stdout, res.stderr)
