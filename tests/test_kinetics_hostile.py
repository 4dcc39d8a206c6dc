"""Kinetics against a hostile mirror (issue 26) and on the one stage driver (issue 25): planted links, dripping and lying
servers, gzip bombs, clips twice, bad CSV rows and shard lists, kills and Ctrl-C, a worker that always dies; as a user runs
`msasl-kinetics`, against shards, lists and CSVs served on 127.0.0.1."""
import io, json, os, re, shutil, signal, subprocess, sys, tarfile, time
from pathlib import Path
import pytest
from conftest import run
from msasl_prep.loopback import VideoRequestHandler, VideoServer
from msasl_prep.video import run_ffmpeg

CLIPS = {'aaaaaaaaaaa_000000_000001': ('abseiling', 'train'), 'bbbbbbbbbbb_000005_000006': ('zumba', 'train'),
         'ccccccccccc_000010_000011': ('zumba', 'val'), 'ddddddddddd_000002_000003': ('abseiling', 'train')}

def clip(path:Path, fps:int=25, size=(160, 120))->bytes:
    "One second of a test pattern, H.264"
    run_ffmpeg(['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', f"testsrc2=size={size[0]}x{size[1]}:rate={fps}:duration=1",
                '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10', '-pix_fmt', 'yuv420p', path], check=True)
    return path.read_bytes()

def tar_gz(members:dict)->bytes:
    "A .tar.gz of `members`: name -> bytes, or name -> ('link', target)"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:gz') as tar:
        for name,data in members.items():
            info = tarfile.TarInfo(name)
            if isinstance(data, tuple): info.type,info.linkname = tarfile.SYMTYPE,data[1]; tar.addfile(info)
            else: info.size = len(data); tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()

def csvs(folder:Path, clips:dict, extra:dict|None=None)->Path:
    "train.csv and val.csv of `clips` (name -> (label, split)); `extra` adds lines by split"
    folder.mkdir(parents=True, exist_ok=True)
    for split in ('train', 'val'):
        lines = ['label,youtube_id,time_start,time_end,split']
        lines += [f"{l},{n[:11]},{int(n[12:18])},{int(n[19:])},{s}" for n,(l,s) in clips.items() if s == split]
        (folder/f"{split}.csv").write_text('\n'.join(lines + (extra or {}).get(split, [])) + '\n')
    return folder

class Mirror(VideoRequestHandler):
    "Serves <folder>/<name>: whole, with Range; `drip*` drips after half, `liar*` sends the whole file to a Range request"
    def do_GET(self):
        name = self.path.strip('/')
        self.server.requests.append((name, self.headers.get('Range')))
        path = Path(self.server.folder)/name
        if name.startswith('loop'):
            self.send_response(308); self.send_header('Location', self.path); self.send_header('Content-Length', '0')
            return self.end_headers()
        if not path.is_file(): return self.send_error(404)
        data = path.read_bytes()
        have = int(m[1]) if (m := re.fullmatch(r'bytes=(\d+)-', self.headers.get('Range', ''))) else 0
        if name.startswith('drip'):
            self.send_response(206 if have else 200)
            if have: self.send_header('Content-Range', f"bytes {have}-{len(data) - 1}/{len(data)}")
            self.send_header('Content-Length', str(len(data) - have)); self.end_headers()
            try:
                half = max(len(data) // 2 - have, 0)
                self.wfile.write(data[have:have + half]); self.wfile.flush()
                for b in data[have + half:]: self.wfile.write(bytes([b])); self.wfile.flush(); time.sleep(0.4)
            except OSError: pass
            return
        if name.startswith('liar') and have:
            self.send_response(206); self.send_header('Content-Range', f"bytes {have}-{len(data) - 1}/{len(data)}")
            self.send_header('Content-Length', str(len(data))); self.end_headers()
            try: self.wfile.write(data)
            except OSError: pass
            return
        self.send_file(path)

def kinetics(out, annotation, lists, *extra, timeout=120):
    return run('msasl-kinetics', str(out), '--annotation', str(annotation), '--shard-lists', *map(str, lists), '-q', *extra)

def report(out)->dict:
    rows = [json.loads(l) for l in (Path(out)/'kinetics700'/'kinetics_report.jsonl').read_text().splitlines()]
    return {r.get('clip') or f"{r['file']}:{r['line']}": r for r in rows}

def one_line(res, code:int, *words):
    assert res.returncode == code and res.stderr.count('\n') == 1 and 'Traceback' not in res.stderr, (res.returncode, res.stderr)
    for w in words: assert w in res.stderr, (w, res.stderr)

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "Clip files, a few shards made of them, and a loopback mirror serving a folder the tests add shards to"
    d = tmp_path_factory.mktemp('hostile')
    (d/'www').mkdir()
    mp4 = {n: clip(d/f"{n}.mp4", fps=25 + 5 * (i % 2)) for i,n in enumerate(CLIPS)}
    other = clip(d/'other.mp4', fps=24, size=(120, 160))
    names = list(CLIPS)
    (d/'www'/'good_0.tar.gz').write_bytes(tar_gz({f"train/x/{n}.mp4": mp4[n] for n in names[:2]}))
    (d/'www'/'good_1.tar.gz').write_bytes(tar_gz({f"val/x/{n}.mp4": mp4[n] for n in names[2:]}))
    with VideoServer(d/'www', Mirror) as srv:
        srv.base = f"http://127.0.0.1:{srv.server_address[1]}"
        yield d, mp4, other, srv

def shard_list(site, path:Path, *names)->Path:
    d, mp4, other, srv = site
    path.write_text(''.join(f"{srv.base}/{n}\n" for n in names))
    return path

def tree(root:Path)->dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*')) if p.is_file()}

@pytest.fixture(scope='module')
def clean(site, tmp_path_factory):
    "A clean run of the two good shards: the reference"
    d = tmp_path_factory.mktemp('clean')
    ann = csvs(d/'ann', CLIPS)
    res = kinetics(d/'out', ann, [shard_list(site, d/'l.txt', 'good_0.tar.gz', 'good_1.tar.gz')], '-j', '2')
    assert res.returncode == 0 and '4 of 4 clips' in res.stdout, res.stdout + res.stderr
    return d/'out', ann

# -- planted links -----------------------------------------------------------------------------------------------------
def test_links_planted_at_every_path_a_run_writes_are_never_followed(site, clean, tmp_path):
    good, ann = clean
    victim = tmp_path/'victim'; victim.write_bytes(b'precious')
    elsewhere = tmp_path/'elsewhere'; (elsewhere/'with').mkdir(parents=True); (elsewhere/'empty').mkdir()
    (elsewhere/'with'/'img_00001.jpg').write_bytes(b'foreign')
    k = tmp_path/'out'/'kinetics700'; (k/'shards').mkdir(parents=True); (k/'rawframes').mkdir()
    names = list(CLIPS)
    for p in (k/'shards'/'.good_0.tar.gz.member', k/'.kinetics_report.jsonl.tmp', k/'shards'/'good_0.tar.gz.part',
              k/'shards'/'good_1.tar.gz', k/'shards.jsonl', k/'kinetics_report.jsonl', k/'train2.txt', k/'.wanted.txt',
              k/'.report-inputs.json'):
        p.symlink_to(victim)
    (k/'rawframes'/names[0]).symlink_to(elsewhere/'with')          # a folder that holds images: not to be listed as the clip
    (k/'rawframes'/names[2]).symlink_to(elsewhere/'empty')         # one without: not to break the run
    res = kinetics(tmp_path/'out', ann, [shard_list(site, tmp_path/'l.txt', 'good_0.tar.gz', 'good_1.tar.gz')], '-j', '2')
    assert res.returncode == 0 and '4 of 4 clips' in res.stdout, res.stdout + res.stderr
    assert victim.read_bytes() == b'precious'
    assert tree(elsewhere) == {'with/img_00001.jpg': b'foreign'}
    for n in names: assert not (k/'rawframes'/n).is_symlink()
    assert tree(k/'rawframes') == tree(good/'kinetics700'/'rawframes')
    for f in ('train2.txt', 'val2.txt'): assert (k/f).read_bytes() == (good/'kinetics700'/f).read_bytes()
    assert not [p for p in k.rglob('*') if p.name.startswith('.trash-') or p.name.endswith('.tmp')]

def test_the_annotation_fetch_writes_through_no_planted_link(sample, tmp_path):
    victim = tmp_path/'victim'; victim.write_bytes(b'precious')
    zip_dir = tmp_path/'www'; zip_dir.mkdir()
    import zipfile, hashlib
    with zipfile.ZipFile(zip_dir/'MS-ASL.zip', 'w') as z:
        for f in sample.glob('MSASL_*.json'): z.write(f, f"MS-ASL/{f.name}")
    digest = hashlib.sha256((zip_dir/'MS-ASL.zip').read_bytes()).hexdigest()
    (tmp_path/'d'/'msasl_data').mkdir(parents=True)
    for name in ('.MSASL_train.json.tmp', 'MSASL_val.json'): (tmp_path/'d'/'msasl_data'/name).symlink_to(victim)
    res = run('msasl-get-annotation', str(tmp_path/'d'), '--url', (zip_dir/'MS-ASL.zip').as_uri(), '--sha256', digest)
    assert res.returncode == 0, res.stderr
    assert victim.read_bytes() == b'precious' and not (tmp_path/'d'/'msasl_data'/'MSASL_val.json').is_symlink()

# -- hangs and unbounded work ---------------------------------------------------------------------------------------------
def test_a_dripping_shard_server_is_given_up_in_time_and_the_rerun_resumes(site, clean, tmp_path):
    d, mp4, other, srv = site
    good, ann = clean
    shutil.copy(d/'www'/'good_0.tar.gz', d/'www'/'drip_0.tar.gz')
    lst = shard_list(site, tmp_path/'l.txt', 'drip_0.tar.gz', 'good_1.tar.gz')
    t0 = time.monotonic()
    res = kinetics(tmp_path/'out', ann, [lst], '--timeout', '2')
    assert res.returncode == 0 and time.monotonic() - t0 < 60, (res.stdout, res.stderr)
    assert 'drip_0.tar.gz: network' in res.stdout and 'slower than 10 KB/s' in res.stdout, res.stdout
    part = tmp_path/'out'/'kinetics700'/'shards'/'drip_0.tar.gz.part'
    assert part.stat().st_size >= (d/'www'/'drip_0.tar.gz').stat().st_size // 2      # what arrived is kept
    shutil.copy(d/'www'/'good_0.tar.gz', d/'www'/'drip_0.tar.gz')
    os.rename(d/'www'/'drip_0.tar.gz', d/'www'/'steady_0.tar.gz')                     # the mirror is well again
    before = len(srv.requests)
    lst.write_text(lst.read_text().replace('drip_0', 'steady_0'))
    (part).rename(part.with_name('steady_0.tar.gz.part'))
    res = kinetics(tmp_path/'out', ann, [lst])
    assert res.returncode == 0 and '4 of 4 clips' in res.stdout, res.stdout
    asked = [r for n,r in srv.requests[before:] if n == 'steady_0.tar.gz']
    assert asked and asked[0] and asked[0].startswith('bytes='), srv.requests[before:]   # resumed, not fetched again

def test_a_dripping_section_server_is_given_up_in_time(site, tmp_path):
    d, mp4, other, srv = site
    (tmp_path/'yt').mkdir(); shutil.copy(d/'other.mp4', tmp_path/'yt'/'eeeeeeeeeee.mp4')
    class Drip(VideoRequestHandler):
        def respond(self, video_id):
            data = (Path(self.server.folder)/f"{video_id}.mp4").read_bytes()
            self.send_response(200); self.send_header('Content-Type', 'video/mp4')
            self.send_header('Content-Length', str(len(data))); self.end_headers()
            try:
                self.wfile.write(data[:2000]); self.wfile.flush()
                for b in data[2000:]: self.wfile.write(bytes([b])); self.wfile.flush(); time.sleep(0.3)
            except OSError: pass
    ann = csvs(tmp_path/'ann', {'eeeeeeeeeee_000000_000001': ('zumba', 'train')})
    with VideoServer(tmp_path/'yt', Drip) as yt:
        t0 = time.monotonic()
        res = run('msasl-kinetics', str(tmp_path/'out'), '--annotation', str(ann), '--source', 'youtube', '-q',
                  '--url-template', yt.url_template, '--timeout', '2', '--retries', '0')
    assert time.monotonic() - t0 < 90, 'the section download was not bounded'
    assert res.returncode == 0 and '0 of 1 clips' in res.stdout and 'network 1' in res.stdout, (res.stdout, res.stderr)

class Zeros(io.RawIOBase):
    "`n` zero bytes, read as a file"
    def __init__(self, n): self.left = n
    def readable(self): return True
    def readinto(self, b):
        k = min(len(b), self.left); b[:k] = bytes(k); self.left -= k
        return k

def bomb(path:Path, members:dict, size:int):
    "A .tar.gz whose last member is `size` zero bytes: a few hundred KB that inflate a thousandfold"
    with tarfile.open(path, 'w:gz', compresslevel=1) as tar:
        for name,data in members.items():
            info = tarfile.TarInfo(name); info.size = len(data); tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo('train/x/' + 'z' * 11 + '_000000_000001.mp4'); info.size = size
        tar.addfile(info, io.BufferedReader(Zeros(size)))

def test_gzip_bombs_are_refused_at_once_and_named(site, tmp_path):
    d, mp4, other, srv = site
    names = list(CLIPS)
    bomb(d/'www'/'bomb_0.tar.gz', {f"train/x/{names[0]}.mp4": mp4[names[0]]}, 256 * 2**20)   # after a good clip
    bomb(d/'www'/'bomb_1.tar.gz', {}, 256 * 2**20)                                          # alone
    ann = csvs(tmp_path/'ann', {names[0]: CLIPS[names[0]], 'z' * 11 + '_000000_000001': ('zumba', 'train')})
    t0 = time.monotonic()
    res = kinetics(tmp_path/'out', ann, [shard_list(site, tmp_path/'l.txt', 'bomb_0.tar.gz', 'bomb_1.tar.gz')])
    assert res.returncode == 0 and time.monotonic() - t0 < 60, (res.stdout, res.stderr)
    assert '1 of 2 clips' in res.stdout and res.stdout.count('gzip bomb') == 2, res.stdout
    assert 'bomb_0.tar.gz: broken' in res.stdout and 'train/x/zzzzzzzzzzz_000000_000001.mp4' in res.stdout
    assert max((p.stat().st_size for p in (tmp_path/'out').rglob('*') if p.is_file()), default=0) < 50 * 2**20

# -- wrong or lost data -----------------------------------------------------------------------------------------------------
def test_labels_and_list_names_do_not_shift_with_the_splits_prepared(site, clean, tmp_path):
    good, ann = clean
    lst = shard_list(site, tmp_path/'l.txt', 'good_0.tar.gz', 'good_1.tar.gz')
    res = kinetics(tmp_path/'out', ann, [lst], '--splits', 'val')
    assert res.returncode == 0, res.stderr
    k = tmp_path/'out'/'kinetics700'
    assert (k/'val2.txt').read_bytes() == (good/'kinetics700'/'val2.txt').read_bytes()       # zumba is label 1 of the whole set
    assert not (k/'val1.txt').exists()
    assert {l.split()[1] for l in (k/'val2.txt').read_text().splitlines()} == {'1'}

def test_one_member_decides_a_clip_held_twice(site, tmp_path):
    d, mp4, other, srv = site
    name = list(CLIPS)[0]
    (d/'www'/'twice_0.tar.gz').write_bytes(tar_gz({f"train/a/{name}.mp4": mp4[name], f"train/b/{name}.mp4": other}))
    ann = csvs(tmp_path/'ann', {name: CLIPS[name]})
    res = kinetics(tmp_path/'out', ann, [shard_list(site, tmp_path/'l.txt', 'twice_0.tar.gz')])
    assert res.returncode == 0, res.stderr
    line = (tmp_path/'out'/'kinetics700'/'train1.txt').read_text().split()
    assert (line[3], line[6]) == ('25', '25')                              # 25 frames at 25 fps: the first member's, both
    assert len(list((tmp_path/'out'/'kinetics700'/'rawframes'/name).iterdir())) == 25
    rows = [json.loads(l) for l in (tmp_path/'out'/'kinetics700'/'shards.jsonl').read_text().splitlines()]
    assert rows[-1]['duplicates'] == [name]

def test_the_same_clip_in_two_shards_is_made_once_whichever_comes_first(site, tmp_path):
    d, mp4, other, srv = site
    names = list(CLIPS)
    for k in (0, 1): (d/'www'/f"both_{k}.tar.gz").write_bytes(tar_gz({f"train/x/{n}.mp4": mp4[n] for n in names[:2]}))
    ann = csvs(tmp_path/'ann', {n: CLIPS[n] for n in names[:2]})
    lst = shard_list(site, tmp_path/'l.txt', 'both_0.tar.gz', 'both_1.tar.gz')
    for i in range(5):
        res = kinetics(tmp_path/f'o{i}', ann, [lst], '-j', '2')
        assert res.returncode == 0 and '2 of 2 clips' in res.stdout, (i, res.stdout, res.stderr)
        raw = tmp_path/f'o{i}'/'kinetics700'/'rawframes'
        assert sorted(p.name for p in raw.iterdir()) == sorted(names[:2])   # no temporary folder, no trash
        assert all(len(list((raw/n).iterdir())) == 25 + 5 * (j % 2) for j,n in enumerate(names[:2]))

def test_bad_csv_rows_are_named_in_the_report_and_counted(site, clean, tmp_path):
    good, ann = clean
    bad = ['zumba,-0KMb4OsbXI,-1,9,train', 'zumba,-0KMb4OsbXI,nan,10,train', 'zumba,-0KMb4OsbXI,inf,11,train',
           'zumba,-0KMb4OsbXI,1e20,1e21,train', 'zumba,-0KMb4OsbXI,1.5,10,train', 'zumba,-0KMb4OsbXI,10,1,train',
           'zumba,,0,10,train', 'zumba,-0KMb4OsbXI,0,10,tr\x00ain']
    a2 = csvs(tmp_path/'ann', CLIPS, {'train': bad})
    res = kinetics(tmp_path/'out', a2, [shard_list(site, tmp_path/'l.txt', 'good_0.tar.gz', 'good_1.tar.gz')])
    assert res.returncode == 0 and '4 of 4 clips' in res.stdout, res.stderr
    assert 'CSV rows kept out: 8 (bad_time 5, bad_span 1, bad_id 1, bad_split 1' in res.stdout, res.stdout
    rep = report(tmp_path/'out')
    invalid = {k: r for k,r in rep.items() if r['status'] == 'invalid'}
    assert [(r['file'], r['line'], r['reason']) for r in invalid.values()][:2] == [('train.csv', 5, 'bad_time'), ('train.csv', 6, 'bad_time')]
    assert len(invalid) == 8 and all(r['detail'] for r in invalid.values())

def test_csvs_without_a_valid_row_and_a_second_label_column_are_one_line(site, tmp_path):
    (tmp_path/'a').mkdir(); (tmp_path/'a'/'train.csv').write_text('label,youtube_id,time_start,time_end,split\nzumba,bad,0,10,train\n')
    lst = shard_list(site, tmp_path/'l.txt', 'good_0.tar.gz')
    one_line(kinetics(tmp_path/'o', tmp_path/'a', [lst]), 1, 'no valid clip in train.csv', 'bad_id 1')
    assert not (tmp_path/'o').exists()
    (tmp_path/'a'/'train.csv').write_text('label,youtube_id,time_start,time_end,label\nzumba,-0KMb4OsbXI,0,10,x\n')
    one_line(kinetics(tmp_path/'o', tmp_path/'a', [lst]), 2, 'train.csv', 'two label columns')

# -- tracebacks instead of one line ------------------------------------------------------------------------------------------
@pytest.mark.parametrize('line', ['http://127.0.0.1:abc/y.tar.gz', 'file:///etc/passwd%00.tar.gz', 'http://[::1/x.tar.gz'])
def test_bad_shard_list_lines_are_one_line_naming_file_and_line(clean, tmp_path, line):
    good, ann = clean
    (tmp_path/'l.txt').write_text(f"# a list\n{line}\n")
    one_line(kinetics(tmp_path/'o', ann, [tmp_path/'l.txt']), 2, 'l.txt line 2')
    assert not (tmp_path/'o').exists()

def test_ctrl_c_while_the_command_starts_is_one_line(tmp_path):
    cmd = ['msasl-kinetics', str(tmp_path/'o'), '--annotation', str(tmp_path), '--source', 'youtube']
    t0 = time.monotonic(); subprocess.run(cmd, capture_output=True); took = time.monotonic() - t0
    ends = [took + 0.01*k for k in range(-4, 3)]                  # around its end too, as Python shuts down
    for delay in (0.1, 0.2, 0.3, 0.45, *ends, *ends):
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        time.sleep(delay); p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        if p.returncode != 130:                                   # it had finished already: its own code, never the signal
            assert p.returncode == 2 and 'Traceback' not in err and err.count('\n') == 1, (delay, p.returncode, err)
        else: assert err == 'msasl-kinetics: interrupted\n', (delay, err)

# -- minor ------------------------------------------------------------------------------------------------------------------
def test_a_bom_a_link_member_a_lying_206_and_a_redirect_loop(site, clean, tmp_path):
    d, mp4, other, srv = site
    good, ann = clean
    names = list(CLIPS)
    (d/'www'/'link_0.tar.gz').write_bytes(tar_gz({f"train/x/{names[0]}.mp4": ('link', '/etc/passwd'),
                                                  f"train/x/{names[1]}.mp4": mp4[names[1]]}))
    lst = tmp_path/'l.txt'
    lst.write_text('\ufeff' + f"{srv.base}/link_0.tar.gz\n{srv.base}/loop_0.tar.gz\n")
    res = kinetics(tmp_path/'out', ann, [lst])
    assert res.returncode == 0, res.stderr
    rep = report(tmp_path/'out')
    assert rep[names[0]]['reason'] == 'link_member' and 'a link, not a file' in rep[names[0]]['detail']
    loop = [l for l in res.stdout.splitlines() if 'loop_0' in l]                   # the redirect loop: one line
    assert len(loop) == 1 and 'loop_0.tar.gz: network' in loop[0] and 'HTTP 308' in loop[0], res.stdout
    shutil.copy(d/'www'/'good_0.tar.gz', d/'www'/'liar_0.tar.gz')                  # a 206 that sends the whole file
    k = tmp_path/'o2'/'kinetics700'/'shards'; k.mkdir(parents=True)
    (k/'liar_0.tar.gz.part').write_bytes((d/'www'/'liar_0.tar.gz').read_bytes()[:1000])
    l2 = shard_list(site, tmp_path/'l2.txt', 'liar_0.tar.gz', 'good_1.tar.gz')
    res = kinetics(tmp_path/'o2', ann, [l2])
    assert 'liar_0.tar.gz: network' in res.stdout and (k/'liar_0.tar.gz.part').stat().st_size == 1000, res.stdout
    os.rename(d/'www'/'liar_0.tar.gz', d/'www'/'honest_0.tar.gz'); (k/'liar_0.tar.gz.part').rename(k/'honest_0.tar.gz.part')
    l2.write_text(l2.read_text().replace('liar_0', 'honest_0'))
    res = kinetics(tmp_path/'o2', ann, [l2])                                     # the second run, not the third
    assert res.returncode == 0 and '4 of 4 clips' in res.stdout, res.stdout

def test_a_full_disk_during_a_shard_says_what_was_written(site, clean, tmp_path):
    from test_hostile import tmpfs
    d, mp4, other, srv = site
    good, ann = clean
    (d/'www'/'big_0.tar.gz').write_bytes(tar_gz({'README': os.urandom(3 * 2**20)}))       # a sound shard, larger than the disk
    with tmpfs(tmp_path/'disk', '2m') as disk:
        res = kinetics(disk/'out', ann, [shard_list(site, tmp_path/'l.txt', 'big_0.tar.gz')])
    one_line(res, 2, 'No space left on device while writing the shard big_0.tar.gz')

# -- the one driver (issue 25) ----------------------------------------------------------------------------------------------
KILLER = '''
import os, sys
def _hook(event, args):                  # a process that opens this shard's part (a Dask worker: the driver never does) dies
    if event == 'open' and 'good_1.tar.gz.part' in str(args[0]): os.kill(os.getpid(), 9)
sys.addaudithook(_hook)
'''

def test_a_shard_that_kills_its_dask_worker_every_time_is_a_named_row(site, clean, tmp_path):
    pytest.importorskip('distributed')
    good, ann = clean
    (tmp_path/'site').mkdir(); (tmp_path/'site'/'sitecustomize.py').write_text(KILLER)
    env = {**os.environ, 'PYTHONPATH': str(tmp_path/'site'), 'DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES': '1'}
    res = subprocess.run(['msasl-kinetics', str(tmp_path/'out'), '--annotation', str(ann), '-q', '--dask', 'local:2', '--shard-lists',
                          str(shard_list(site, tmp_path/'l.txt', 'good_0.tar.gz', 'good_1.tar.gz'))],
                         capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'good_1.tar.gz: error: the worker reading it died each time it was tried' in res.stdout, res.stdout
    assert '2 of 4 clips' in res.stdout and 'shard_unread 2' in res.stdout, res.stdout
    made = (tmp_path/'out'/'kinetics700'/'train2.txt').read_text().splitlines()
    assert len(made) == 2 and set(made) <= set((good/'kinetics700'/'train2.txt').read_text().splitlines())

def test_ctrl_c_during_a_kinetics_run_keeps_the_rows_of_the_shards_that_finished_meanwhile(site, clean, tmp_path):
    d, mp4, other, srv = site
    good, ann = clean
    for k in (0, 1): shutil.copy(d/'www'/f'good_{k}.tar.gz', d/'www'/f'drip_{k + 5}.tar.gz')
    lst = shard_list(site, tmp_path/'l.txt', 'drip_5.tar.gz', 'drip_6.tar.gz')
    p = subprocess.Popen(['msasl-kinetics', str(tmp_path/'out'), '--annotation', str(ann), '-q', '-j', '2', '--shard-lists', str(lst)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    parts = tmp_path/'out'/'kinetics700'/'shards'
    deadline = time.time() + 60
    while time.time() < deadline and len([q for q in parts.glob('*.part') if q.stat().st_size > 1000]) < 2: time.sleep(0.05)
    p.send_signal(signal.SIGINT)                                         # both shards are being read
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130 and err.strip().endswith('msasl-kinetics: interrupted'), (p.returncode, err)
    rows = [json.loads(l) for l in (tmp_path/'out'/'kinetics700'/'shards.jsonl').read_text().splitlines()]
    assert sorted(r['shard'] for r in rows) == ['drip_5.tar.gz', 'drip_6.tar.gz'] and {r['status'] for r in rows} == {'stopped'}
    for k in (0, 1): shutil.copy(d/'www'/f'good_{k}.tar.gz', d/'www'/f'steady_{k + 5}.tar.gz')
    lst.write_text(lst.read_text().replace('drip_', 'steady_'))
    for q in parts.glob('drip_*.part'): q.rename(q.with_name(q.name.replace('drip_', 'steady_')))
    res = kinetics(tmp_path/'out', ann, [lst])
    assert res.returncode == 0 and '4 of 4 clips' in res.stdout, res.stdout + res.stderr
    assert tree(tmp_path/'out'/'kinetics700'/'rawframes') == tree(good/'kinetics700'/'rawframes')

def test_a_line_in_shards_jsonl_that_is_no_row_is_named_not_a_traceback(site, clean, tmp_path):
    good, ann = clean
    shutil.copytree(good, tmp_path/'out')
    with open(tmp_path/'out'/'kinetics700'/'shards.jsonl', 'a') as f: f.write('null\n{"shard": 3}\n[1, 2]\n')
    res = kinetics(tmp_path/'out', ann, [shard_list(site, tmp_path/'l.txt', 'good_0.tar.gz', 'good_1.tar.gz')])
    assert res.returncode == 0 and 'Traceback' not in res.stderr, res.stderr
    assert res.stderr.count('not a shard row') == 3 and 'shards.jsonl:3: not a shard row' in res.stderr, res.stderr
