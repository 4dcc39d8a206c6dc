"Kinetics as a user runs it: `msasl-kinetics` against the synthetic mirror and its YouTube, both served on 127.0.0.1 (issue 20)."
import hashlib, json, shutil, signal, subprocess, time
from pathlib import Path
import pytest
from conftest import run
from msasl_prep.kinetics.sample import make_kinetics_sample, MirrorServer, shard_lists
from msasl_prep.loopback import VideoServer
from msasl_prep.marks import decode_mark

@pytest.fixture(scope='module')
def mirror(tmp_path_factory):
    "The synthetic mirror and its description, served for the tests of this module"
    folder = tmp_path_factory.mktemp('kinetics')
    desc = make_kinetics_sample(folder)
    with MirrorServer(folder) as srv:
        yield folder, desc, shard_lists(folder, srv.base), srv

def command(folder, lists, out, *extra):
    return ['msasl-kinetics', str(out), '--annotation', str(folder/'annotations'), '--shard-lists', *map(str, lists), '-q', *extra]

def tree(root:Path)->dict:
    "relative path -> sha256 of every file under root, the lock file aside"
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob('*')) if p.is_file() and p.name != '.msasl-prep.lock'}

def assert_same_output(got:Path, want:Path):
    "The same frame folders, byte for byte, and the same three lists under `got` as under `want` (both DATA_DIRs)"
    assert tree(got/'kinetics700'/'rawframes') == tree(want/'kinetics700'/'rawframes')   # no hidden temporary folder either
    for s in ('train', 'val', 'test'):
        assert (got/'kinetics700'/f'{s}3.txt').read_bytes() == (want/'kinetics700'/f'{s}3.txt').read_bytes()

def report(out:Path)->dict:
    return {r['clip']: r for r in map(json.loads, (out/'kinetics700'/'kinetics_report.jsonl').read_text().splitlines()) if 'clip' in r}

@pytest.fixture(scope='module')
def clean(mirror, tmp_path_factory):
    "One complete run, the reference of the others"
    folder, desc, lists, _ = mirror
    out = tmp_path_factory.mktemp('clean')
    res = run(*command(folder, lists, out, '-j', '2'))
    assert res.returncode == 0, res.stderr
    return out, res

def test_every_fault_ends_as_named(mirror, clean):
    folder, desc, lists, _ = mirror
    out, res = clean
    rep, f = report(out), desc['faults']
    assert rep[f['corrupt_member'][0]]['reason'] == 'unreadable_video'
    for n in desc['shards'][f['truncated'][0]] + desc['shards'][f['missing_shard'][0]] + f['not_in_mirror']:
        assert rep[n]['reason'] == 'shard_unread', rep[n]
    assert 'k700_2020_train_2.tar.gz: broken' in res.stdout and 'k700_2020_val_1.tar.gz: not_found' in res.stdout, res.stdout
    assert '10 of 16 clips have their frames' in res.stdout
    ok = [r for r in rep.values() if r['status'] == 'ok']
    assert len(ok) == 10 and all(r['clip'] in desc['clips'] for r in ok)
    for r in ok:                                                       # every frame of the clip file, in order, at short side 256
        imgs = sorted((out/'kinetics700'/'rawframes'/r['clip']).iterdir())
        assert len(imgs) == r['frames'] == desc['clips'][r['clip']]['fps']         # one second of video
        assert [decode_mark(p) for p in imgs[::7]] == list(range(r['frames']))[::7]
        from PIL import Image
        with Image.open(imgs[0]) as im: assert min(im.size) == 256
    lists = {s: (out/'kinetics700'/f'{s}3.txt').read_text().splitlines() for s in ('train', 'val', 'test')}
    assert sorted(len(v) for v in lists.values()) == [2, 3, 5]
    for line in lists['train']:
        name, label, a, n, b, n2, fps = line.split()
        assert (a, b, n) == ('0', '0', n2) and rep[name]['status'] == 'ok' and float(fps) == desc['clips'][name]['fps']
    assert int(lists['test'][0].split()[1]) == -1                     # unlabelled
    assert not any((out/'kinetics700'/'shards').iterdir())             # shards deleted after reading

def test_a_rerun_reads_only_the_shards_not_done(mirror, clean, tmp_path):
    folder, desc, lists, srv = mirror
    out, _ = clean
    shutil.copytree(out, tmp_path/'o')
    before = len(srv.requests)
    res = run(*command(folder, lists, tmp_path/'o'))
    assert res.returncode == 0, res.stderr
    asked = sorted({p.split('/')[-1] for p, _ in srv.requests[before:]})
    assert asked == ['k700_2020_train_2.tar.gz', 'k700_2020_val_1.tar.gz']      # the broken and the missing shard only
    assert_same_output(tmp_path/'o', out)

def kill_when(cmd:list, ready, timeout:float=120):
    "Start `cmd`, and SIGKILL it as soon as `ready()` is true (or after `timeout` seconds)"
    p, deadline = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), time.time() + timeout
    while time.time() < deadline and not ready(): time.sleep(0.005)
    p.send_signal(signal.SIGKILL); p.wait()

def test_kill_and_rerun_gives_the_same_output(mirror, clean, tmp_path):
    folder, desc, lists, _ = mirror
    out, _ = clean
    manifest = tmp_path/'kinetics700'/'shards.jsonl'
    kill_when(command(folder, lists, tmp_path, '-j', '1'), lambda: manifest.exists() and manifest.stat().st_size > 0)
    frames = tmp_path/'kinetics700'/'rawframes'
    for clip in frames.iterdir() if frames.is_dir() else []:          # a folder under a clip's name is complete
        assert clip.name.startswith('.') or len(list(clip.iterdir())) == report(out)[clip.name]['frames']
    res = run(*command(folder, lists, tmp_path))
    assert res.returncode == 0, res.stderr
    assert_same_output(tmp_path, out)

def test_strict_and_user_errors(mirror, clean, tmp_path):
    folder, desc, lists, _ = mirror
    out, _ = clean
    shutil.copytree(out, tmp_path/'o')
    res = run(*command(folder, lists, tmp_path/'o', '--strict'))
    assert res.returncode == 1 and '10 of 16 clips' in res.stdout, (res.returncode, res.stdout, res.stderr)
    bad = tmp_path/'bad.txt'
    bad.write_text('https://example.org/not-a-shard.zip\n')
    res = run(*command(folder, [bad], tmp_path/'x'))
    assert res.returncode == 2 and res.stderr.count('\n') == 1 and 'bad.txt line 1' in res.stderr, res.stderr
    res = run('msasl-kinetics', str(tmp_path/'x'), '--annotation', str(tmp_path/'nothing'), '--shard-lists', str(lists[0]), '-q')
    assert res.returncode == 2 and 'no such folder' in res.stderr and res.stderr.count('\n') == 1, res.stderr
    res = run(*command(folder, lists, tmp_path/'x', '--short-side', '-5'))
    assert res.returncode == 2 and '--short-side' in res.stderr, res.stderr
    assert not (tmp_path/'x').exists()                                 # nothing written for a user error

@pytest.fixture(scope='module')
def youtube(mirror):
    "The sample's YouTube: whole videos of two of the clips the mirror lacks"
    with VideoServer(mirror[0]/'youtube') as srv: yield srv

@pytest.fixture(scope='module')
def both(mirror, youtube, tmp_path_factory):
    "One complete run with --source both"
    folder, desc, lists, _ = mirror
    out = tmp_path_factory.mktemp('both')
    res = run(*command(folder, lists, out, '-j', '2', '--source', 'both', '--url-template', youtube.url_template))
    assert res.returncode == 0, res.stderr
    return out, res

def test_sections_from_youtube_are_the_frames_of_their_seconds(mirror, youtube, both, tmp_path):
    folder, desc, lists, _ = mirror
    out, res = both
    rep, f = report(out), desc['faults']
    assert '12 of 16 clips have their frames' in res.stdout and 'YouTube sections: 6 clips; ok 2, unavailable 4' in res.stdout, res.stdout
    for name in f['on_youtube']:                                   # frame k of the clip is the video's frame at start + k / fps
        r, fps, start, end = rep[name], desc['clips'][name]['fps'], int(name[-13:-7]), int(name[-6:])
        imgs = sorted((out/'kinetics700'/'rawframes'/name).iterdir())
        assert (r['status'], r['source'], r['frames'], r['fps']) == ('ok', 'youtube', (end - start) * fps, fps), r
        assert [decode_mark(p) for p in imgs] == list(range(start * fps, end * fps))
    nowhere = rep[(set(f['not_in_mirror']) - set(f['on_youtube'])).pop()]
    assert nowhere['reason'] == 'unavailable' and nowhere['detail'].endswith('mirror: shard_unread'), nowhere
    assert rep[f['corrupt_member'][0]]['reason'] == 'unavailable'      # asked of YouTube too, which lacks it
    lines = (out/'kinetics700'/'train3.txt').read_text().split('\n')
    assert any(l.startswith(f['on_youtube'][0] + ' ') for l in lines)
    assert not any((out/'kinetics700'/'youtube').glob('*.mp4'))     # sections cut, then deleted
    shutil.copytree(out, tmp_path/'o')
    before = len(youtube.requests)
    res = run(*command(folder, lists, tmp_path/'o', '--source', 'both', '--url-template', youtube.url_template))
    assert res.returncode == 0 and len(youtube.requests) == before, res.stderr   # nothing asked again: done, or gone for good
    assert_same_output(tmp_path/'o', out)

def test_kill_during_the_youtube_part_and_rerun(mirror, youtube, both, tmp_path):
    folder, desc, lists, _ = mirror
    out, _ = both
    cmd = command(folder, lists, tmp_path, '-j', '1', '--source', 'both', '--url-template', youtube.url_template)
    manifest = tmp_path/'kinetics700'/'youtube'/'manifest.jsonl'
    kill_when(cmd, lambda: '"ok"' in (manifest.read_text() if manifest.exists() else ''))
    assert manifest.exists(), 'the run was killed before its YouTube part'
    res = run(*cmd)
    assert res.returncode == 0, res.stderr
    assert_same_output(tmp_path, out)
    assert report(tmp_path) == report(out)

def test_youtube_alone_and_offline(mirror, youtube, tmp_path):
    folder, desc, lists, _ = mirror
    res = run('msasl-kinetics', str(tmp_path/'y'), '--annotation', str(folder/'annotations'), '--source', 'youtube',
              '--url-template', youtube.url_template, '-q', '--splits', 'train', 'test')
    assert res.returncode == 0 and '1 of 11 clips have their frames' in res.stdout, res.stdout + res.stderr
    assert 'shards:' not in res.stdout and (tmp_path/'y'/'kinetics700'/'train3.txt').read_text().startswith(desc['faults']['on_youtube'][0])
    res = run('msasl-kinetics', str(tmp_path/'z'), '--annotation', str(folder/'annotations'), '-q')
    assert res.returncode == 2 and res.stderr.count('\n') == 1 and '--shard-lists' in res.stderr, res.stderr
    res = run(*command(folder, lists, tmp_path/'o', '--source', 'both', '--url-template', 'http://127.0.0.1:9/{id}.mp4'))
    assert res.returncode == 2 and res.stderr.count('\n') == 1 and 'msasl-doctor' in res.stderr, res.stderr
    assert '10 of 16 clips have their frames' in res.stdout            # the mirror's work is kept, listed and reported
    assert len((tmp_path/'o'/'kinetics700'/'train3.txt').read_text().splitlines()) == 5

def test_threads_and_dask_give_the_same_output(mirror, youtube, both, tmp_path):
    pytest.importorskip('distributed')
    folder, desc, lists, _ = mirror
    out, _ = both
    res = run(*command(folder, lists, tmp_path, '--dask', 'local:2', '--source', 'both', '--url-template', youtube.url_template))
    assert res.returncode == 0, res.stderr
    assert_same_output(tmp_path, out)

def test_other_frame_options_are_refused_not_mixed(mirror, clean, tmp_path):
    folder, desc, lists, _ = mirror
    out, _ = clean
    shutil.copytree(out, tmp_path/'o')
    before = tree(tmp_path/'o'/'kinetics700'/'rawframes')
    res = run(*command(folder, lists, tmp_path/'o', '--short-side', '128'))
    assert res.returncode == 2 and res.stderr.count('\n') == 1 and 'short-side 256' in res.stderr, res.stderr
    assert tree(tmp_path/'o'/'kinetics700'/'rawframes') == before
