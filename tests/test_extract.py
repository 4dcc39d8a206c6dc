"msasl-extract-frames end to end on the synthetic sample: exact frames, crop placement, lists, kills, bad videos."
import json, os, shutil, signal, subprocess, time
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from conftest import run
from msasl_prep.annotations import load_annotations
from msasl_prep.clips import plan_video
from msasl_prep.video import index_video
from msasl_prep.marks import decode_mark, _rect_px

SPLITS = ('train', 'val', 'test')

def extract(sample, out, *extra, videos=None):
    return run('msasl-extract-frames', '-s', *[str(sample/f'MSASL_{s}.json') for s in SPLITS],
               '-v', str(videos or sample/'videos'), '-o', str(out), '-q', *extra)

def report(out):
    return [json.loads(l) for l in (out/'extract_report.jsonl').read_text().splitlines()]

def tree(root):
    "Every file under root (but the report, which holds timings) with its bytes"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*'))
            if p.is_file() and p.name != 'extract_report.jsonl'}

def test_every_image_is_the_planned_frame(sample, clean):
    kinds = {v['video_id']: v['kind'] for v in json.loads((sample/'sample.json').read_text())['videos']}
    ok = [r for r in report(clean) if r['status'] == 'ok']
    assert {kinds[r['video_id']] for r in ok} == {'long', 'bframes', 'vfr', 'short'}
    checked = 0
    for r in ok:
        imgs = sorted((clean/'global_crops'/r['clip']).glob('img_*.jpg'))
        assert [i.name for i in imgs] == [f'img_{n:05d}.jpg' for n in range(1, r['frames'] + 1)]
        assert [decode_mark(i) for i in imgs] == list(range(*r['window'])), r['clip']
        checked += len(imgs)
    assert checked > 1000

def test_lists_match_the_plan_and_the_folders(sample, clean):
    ann = load_annotations(sample)
    expected = {s: set() for s in SPLITS}
    for vid, recs in ann.by_video().items():
        idx = index_video(sample/'videos'/f'{vid}.mp4')
        plans, drops = plan_video(recs, idx.n_frames, idx.width, idx.height)
        for p in plans: expected[p.split].add(str(p.list_line))
    for s in SPLITS:
        lines = (clean/f'{s}.txt').read_text().splitlines()
        assert set(lines) == expected[s] and len(lines) == len(expected[s])
        for line in lines:
            folder, label, start, end, zero, n, fps = line.split()
            assert zero == '0' and 0 <= int(start) <= int(end) <= int(n)
            assert len(list((clean/'global_crops'/folder).glob('img_*.jpg'))) == int(n)
    val = (clean/'val.txt').read_text().splitlines()
    assert val == sorted(val)                     # val/test in video, clip order; train shuffled with the seed
    train = (clean/'train.txt').read_text().splitlines()
    assert train != sorted(train)

def test_seed_changes_only_the_train_order(sample, clean, tmp_path):
    assert extract(sample, tmp_path, '--seed', '1', '-j', '1').returncode == 0
    a, b = (clean/'train.txt').read_text().splitlines(), (tmp_path/'train.txt').read_text().splitlines()
    assert a != b and sorted(a) == sorted(b)
    assert (clean/'val.txt').read_bytes() == (tmp_path/'val.txt').read_bytes()
    assert tree(clean/'global_crops') == tree(tmp_path/'global_crops')    # images byte-identical across runs

GREEN = lambda px: px[1] > 150 and px[0] < 110 and px[2] < 110

def _signer_in_crop(sample, r):
    "The signer rectangle's green body in crop pixel coordinates (u0, v0, u1, v1) and the scale factors"
    v = next(v for v in json.loads((sample/'sample.json').read_text())['videos'] if v['video_id'] == r['video_id'])
    x0, y0, x1, y1 = _rect_px(v['box'], v['width'], v['height'])
    y0 += (y1 - y0)//4                                             # below the mark strip
    cx0, cy0, cx1, cy1 = r['crop']
    sx, sy = 256/(cx1 - cx0), 300/(cy1 - cy0)
    return ((x0 - cx0)*sx, (y0 - cy0)*sy, (x1 - cx0)*sx, (y1 - cy0)*sy), (sx, sy)

@pytest.mark.parametrize('mode', ['clamp', 'pad'])
def test_crops_hold_the_signer_where_the_plan_says(sample, clean, tmp_path, mode):
    out = clean if mode == 'clamp' else tmp_path                    # clamp is the default: the session's clips
    if mode != 'clamp': assert extract(sample, out, '--crop-mode', mode).returncode == 0
    rows = [r for r in report(out) if r['status'] == 'ok']
    assert any(r['clamped'] for r in rows)
    for r in rows:
        (u0, v0, u1, v1), (sx, sy) = _signer_in_crop(sample, r)
        img = np.asarray(Image.open(out/'global_crops'/r['clip']/'img_00001.jpg').convert('RGB'))
        assert img.shape == (300, 256, 3)
        for fu in (0.15, 0.5, 0.85):                               # inside the body: green
            for fv in (0.15, 0.5, 0.85):
                assert GREEN(img[int(v0 + fv*(v1 - v0)), int(u0 + fu*(u1 - u0))]), (r['clip'], fu, fv)
        for u, v in ((u0 - 8, (v0 + v1)/2), (u1 + 8, (v0 + v1)/2), ((u0 + u1)/2, v1 + 8)):   # just outside: not
            if 0 <= u < 256 and 0 <= v < 300: assert not GREEN(img[int(v), int(u)]), (r['clip'], u, v)
        if mode == 'pad':
            assert abs(sx/sy - 1) < 0.02                            # aspect kept
            if r['crop'][0] < 0: assert img[:, :max(1, int(-r['crop'][0]*sx) - 2)].max() < 40   # black outside the frame
    stretch = max(abs(sx/sy - 1) for (_, (sx, sy)) in (_signer_in_crop(sample, r) for r in rows))
    if mode == 'clamp': assert stretch > 0.1       # the box at the frame border: clamped, then stretched to 256x300
    else: assert stretch < 0.02

def test_kill_and_rerun_gives_the_clean_tree(sample, clean, tmp_path):
    cmd = ['msasl-extract-frames', '-s', *[str(sample/f'MSASL_{s}.json') for s in SPLITS],
           '-v', str(sample/'videos'), '-o', str(tmp_path), '-q', '-j', '1']
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, kept = time.time() + 60, tmp_path/'extract_report.jsonl'
    while time.time() < deadline and not (kept.exists() and kept.stat().st_size): time.sleep(0.005)   # a video has finished
    p.send_signal(signal.SIGKILL); p.wait()
    made = list(tmp_path.glob('global_crops/*/clip_*'))
    assert 3 <= len(made) < len(list(clean.glob('global_crops/*/clip_*'))), 'the kill came too late to test anything'
    for clip in made:                                               # what is under a final name is complete, and images only
        assert sorted(p.name for p in clip.iterdir()) == sorted(p.name for p in (clean/clip.relative_to(tmp_path)).iterdir())
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ('video_seconds', 'made')} for r in rows]
    rows = strip(json.loads(l) for l in kept.read_text().splitlines())   # the killed run kept the rows of the videos it finished
    assert rows and all(r in strip(report(clean)) for r in rows)
    for notes in tmp_path.glob('global_crops/*/.clips.json'):       # a note only for a complete clip
        assert all((notes.parent/name).is_dir() for name in json.loads(notes.read_text()))
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert f'({len(list(clean.glob("global_crops/*/clip_*"))) - len(made)} made now' in res.stdout
    assert tree(tmp_path) == tree(clean)
    assert strip(report(tmp_path)) == strip(report(clean))

def test_missing_truncated_and_garbage_videos_are_reported(sample, clean, tmp_path):
    videos = tmp_path/'videos'; shutil.copytree(sample/'videos', videos)
    desc = json.loads((sample/'sample.json').read_text())['videos']
    missing, truncated, garbage = [v['video_id'] for v in desc if v['kind'] == 'short'][:3]
    (videos/f'{missing}.mp4').unlink()
    data = (videos/f'{truncated}.mp4').read_bytes(); (videos/f'{truncated}.mp4').write_bytes(data[:len(data)//3])
    (videos/f'{garbage}.mp4').write_bytes(os.urandom(20000))
    res = extract(sample, tmp_path/'out', videos=videos)
    assert res.returncode == 0, res.stderr
    rows = report(tmp_path/'out')
    by = lambda vid: [r for r in rows if r.get('video_id') == vid]
    assert {(r['status'], r['reason']) for r in by(missing)} == {('skipped', 'missing_video')}
    assert {(r['status'], r['reason']) for r in by(garbage)} == {('skipped', 'unreadable_video')}
    assert all(r['status'] != 'ok' for r in by(truncated)) and by(truncated)
    assert 'unreadable' in by(garbage)[0]['detail'] and garbage in by(garbage)[0]['detail']
    bad = {missing, truncated, garbage}
    for s in SPLITS:                                                # every other clip is there, identical
        want = [l for l in (clean/f'{s}.txt').read_text().splitlines() if l.split('/')[0] not in bad]
        got = (tmp_path/'out'/f'{s}.txt').read_text().splitlines()
        assert sorted(got) == sorted(want)
    assert not list((tmp_path/'out').rglob('.clip_*.tmp'))
    assert extract(sample, tmp_path/'out', '--strict', videos=videos).returncode == 1
    assert 'skipped' in res.stdout

def test_user_errors_are_one_line(sample, tmp_path):
    for args, needle in ((['-s', str(tmp_path/'MSASL_x.json'), '-v', str(sample/'videos'), '-o', str(tmp_path)], 'no such file'),
                         (['-s', str(sample/'MSASL_val.json'), '-v', str(tmp_path/'none'), '-o', str(tmp_path)], 'no such videos folder')):
        res = run('msasl-extract-frames', *args)
        assert res.returncode == 2 and res.stderr.strip().count('\n') == 0 and needle in res.stderr, res.stderr
