"The end: top-K splits, ImageNet list, crop checks and the papermill pipeline, as a user runs them."
import json, shutil
from pathlib import Path
import nbformat, pytest
from conftest import run
from msasl_prep.loopback import VideoServer

SPLITS = ('train', 'val', 'test')

def test_demo_builds_the_training_layout(demo):
    d, res = demo
    data = d/'data'
    assert 'layout: as the training configs expect' in res.stdout
    assert sorted(p.name for p in (data/'msasl_data').glob('MSASL_*.json')) == [f'MSASL_{s}.json' for s in ('classes', 'synonym', 'test', 'train', 'val')]
    assert len(list((data/'msasl_data'/'videos').glob('*.mp4'))) == 8 and (data/'msasl_data'/'videos'/'manifest.jsonl').is_file()
    for s in SPLITS:
        lines = (data/'msasl'/f'{s}.txt').read_text().splitlines()
        assert lines
        for k in (100, 200, 500, 1000):                            # top-K lists: the lines with label < K, in order, none empty
            subset = (data/'msasl'/f'{s}{k}.txt').read_text().splitlines()
            assert subset and subset == [l for l in lines if int(l.split()[1]) < k]
    clips = [c for c in (data/'msasl'/'global_crops').glob('*/clip_*')]   # clip folders hold images only
    assert clips and all(all(f.name.startswith('img_') and f.suffix == '.jpg' for f in c.iterdir()) for c in clips)
    assert len((data/'imagenet_train_list.txt').read_text().split()) == 12
    pngs = sorted((data/'msasl'/'checks').glob('*.png'))
    assert len(pngs) == 6 and all(p.stat().st_size > 10_000 for p in pngs)
    assert 'crop-check pictures (6)' in res.stdout and 'MS-ASL100' in res.stdout

def test_executed_notebook_is_the_record(demo):
    d, _ = demo
    nbs = sorted((d/'data'/'reports').glob('pipeline-*.ipynb'))
    assert len(nbs) == 1
    nb = nbformat.read(nbs[0], as_version=4)
    text = '\n'.join(o.get('text', '') for c in nb.cells if c.cell_type == 'code' for o in c.get('outputs', []))
    images = [o for c in nb.cells if c.cell_type == 'code' for o in c.get('outputs', []) if 'image/png' in o.get('data', {})]
    assert len(images) >= 7                                        # the annotation plots and the crop checks
    for needle in ('"msasl_prep": "0.', '"yt_dlp":', 'ffmpeg version', '"url_template": "http://127.0.0.1:',
                   'clips per split and K:', 'PASSED', 'ok 8', 'MS-ASL1000', 'layout: as the training configs expect'):
        assert needle in text, needle
    assert 'Traceback' not in text and 'Error' not in text.replace('HTTP Error', '')

def test_split_annotation_command(demo, tmp_path):
    d, _ = demo
    out = tmp_path/'o'; shutil.copytree(d/'data'/'msasl', out, ignore=shutil.ignore_patterns('global_crops', 'videos', 'checks'))
    for f in out.glob('*[0-9].txt'): f.unlink()
    res = run('msasl-split-annotation', '-a', *[str(out/f'{s}.txt') for s in SPLITS], '-k', '100', '500')
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in out.glob('*[0-9].txt')) == sorted(f'{s}{k}.txt' for s in SPLITS for k in (100, 500))
    n100 = sum(int(l.split()[1]) < 100 for l in (out/'train.txt').read_text().splitlines())
    assert f'MS-ASL100' in res.stdout and f'{n100} / 3789' in res.stdout
    res = run('msasl-split-annotation', '-a', str(out/'nope.txt'), '-k', '100')
    assert res.returncode == 2 and 'nope.txt: no such list file' in res.stderr and res.stderr.count('\n') == 1

def test_imagenet_paths_command(tmp_path):
    root = tmp_path/'imagenet'/'train'
    for c, names in {'n01443537': ['b.JPEG', 'a.jpeg', 'notes.txt', '.DS_Store'], 'n01440764': ['x.png', 'y.JPG'],
                     '.git': ['c.jpg'], 'n09999999': []}.items():
        (root/c).mkdir(parents=True)
        for n in names: (root/c/n).write_bytes(b'\x89PNG\r\n\x1a\n' if n.endswith('png') else b'\xff\xd8\xff\xe0')
    (root/'n01440764'/'junk'/'deeper').mkdir(parents=True); (root/'n01440764'/'junk'/'deeper'/'z.jpg').write_bytes(b'\xff\xd8\xff')
    (root/'stray.jpg').write_bytes(b'\xff\xd8\xff')
    res = run('msasl-imagenet-paths', str(root), str(tmp_path/'imagenet_train_list.txt'))
    assert res.returncode == 0, res.stderr
    assert (tmp_path/'imagenet_train_list.txt').read_text().splitlines() == [
        'n01440764/x.png', 'n01440764/y.JPG', 'n01443537/a.jpeg', 'n01443537/b.JPEG']
    assert '4 images of 2 classes' in res.stdout
    res = run('msasl-imagenet-paths', str(tmp_path/'missing'), str(tmp_path/'l.txt'))
    assert res.returncode == 2 and 'no such image folder' in res.stderr and res.stderr.count('\n') == 1
    res = run('msasl-imagenet-paths', str(root/'n09999999'), str(tmp_path/'l.txt'))
    assert res.returncode == 2 and 'no images' in res.stderr

def test_check_crops_passes_then_catches_a_shifted_crop(sample, clean, tmp_path):
    srcs = [str(sample/f'MSASL_{s}.json') for s in SPLITS]
    good = tmp_path/'good'; shutil.copytree(clean, good)           # the session's clips, cut with the default options
    res = run('msasl-check-crops', str(good), '--videos', str(sample/'videos'), '--n-checks', '6', '--strict')
    assert res.returncode == 0 and 'PASSED' in res.stdout, res.stdout + res.stderr
    assert len(list((good/'checks').glob('*.png'))) == 6
    shifted = tmp_path/'shifted'; shifted.mkdir()                  # the same annotation with every box moved right
    for s in srcs + [str(sample/'MSASL_classes.json')]:
        recs = json.loads(Path(s).read_text())
        if s.endswith('classes.json'): (shifted/Path(s).name).write_text(json.dumps(recs)); continue
        for r in recs:
            if max(r['box']) <= 1 and r['box'][3] + 0.02 <= 1: r['box'][1] += 0.02; r['box'][3] += 0.02
        (shifted/Path(s).name).write_text(json.dumps(recs))
    res = run('msasl-extract-frames', '-s', *[str(shifted/f'MSASL_{s}.json') for s in SPLITS], '-v', str(sample/'videos'),
              '-o', str(shifted/'out'), '-q')
    assert res.returncode == 0, res.stderr
    shutil.rmtree(good/'global_crops'); shutil.copytree(shifted/'out'/'global_crops', good/'global_crops')
    res = run('msasl-check-crops', str(good), '--videos', str(sample/'videos'), '--n-checks', '6', '--strict')
    assert res.returncode == 1 and 'FAILED' in res.stdout and 'PSNR' in res.stdout, res.stdout
    assert run('msasl-check-crops', str(good), '--videos', str(sample/'videos'), '--n-checks', '6').returncode == 0   # report only
    res = run('msasl-check-crops', str(tmp_path/'none'))
    assert res.returncode == 2 and 'no such folder' in res.stderr

def test_pipeline_command_refuses_an_unknown_parameter(tmp_path):   # a whole run with splits and topk: test_first_hour's test_7
    res = run('msasl-pipeline', str(tmp_path/'data'), '-p', 'colour', 'blue')
    assert res.returncode == 2 and 'unknown parameter(s) colour' in res.stderr and res.stderr.count('\n') == 1

def test_pipeline_fails_when_its_checks_fail(demo, tmp_path):
    d, _ = demo
    data = tmp_path/'data'; shutil.copytree(d/'data', data, ignore=shutil.ignore_patterns('reports'))
    clip = sorted((data/'msasl'/'global_crops').glob('*/clip_*'))[0]
    jpg = clip/'img_00002.jpg'; jpg.write_bytes(jpg.read_bytes()[:500])   # a JPEG cut short, in a clip that counts as complete
    res = run('msasl-pipeline', str(data), '-q', '-p', 'download', 'false', '-p', 'n_checks', '1')
    assert res.returncode == 1 and res.stderr.count('\n') == 1, res.stderr[-2000:]
    assert 'crop checks failed' in res.stderr and 'truncated JPEG' in res.stderr and 'pipeline-' in res.stderr
    nb = nbformat.read(next((data/'reports').glob('pipeline-*.ipynb')), as_version=4)
    errors = [o for c in nb.cells for o in c.get('outputs', []) if o.get('output_type') == 'error']
    assert [e['ename'] for e in errors] == ['ChecksFailed']                 # the executed notebook shows the failure
    empty = tmp_path/'empty'; (empty/'msasl_data').mkdir(parents=True)     # the annotation, but no video: no clip at all
    for f in (d/'data'/'msasl_data').glob('MSASL_*.json'): shutil.copy(f, empty/'msasl_data')
    res = run('msasl-pipeline', str(empty), '-q', '-p', 'download', 'false')
    assert res.returncode == 1 and 'no clip was made' in res.stderr, res.stderr[-2000:]
