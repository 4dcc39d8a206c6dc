"Which data: msasl-fingerprint and msasl-compare on two demos, on changed copies, on fingerprints alone, and on Kinetics."
import json, shutil
import nbformat, pytest
from conftest import run, run_demo

SPLITS = ('train', 'val', 'test')

def fingerprint_of(data): return json.loads((data/'fingerprint.json').read_text())

def one_line(res, code, needle):
    assert res.returncode == code and res.stderr.count('\n') == 1 and needle in res.stderr and 'Traceback' not in res.stderr, res.stderr

@pytest.fixture(scope='module')
def second(tmp_path_factory):
    "The same demo again, in another folder, minutes later"
    return run_demo(tmp_path_factory.mktemp('demo2'))

@pytest.fixture
def copy(demo, tmp_path):
    "(the demo's DATA_DIR, a copy of it to change)"
    d, _ = demo
    shutil.copytree(d/'data', tmp_path/'data', ignore=shutil.ignore_patterns('reports', 'checks'), symlinks=True)
    return d/'data', tmp_path/'data'

def test_two_demos_in_two_folders_are_the_same_data(demo, second):
    (a, ra), (b, rb) = demo, second
    fa, fb = fingerprint_of(a/'data'), fingerprint_of(b/'data')
    assert fa['hash'] == fb['hash'] and f"fingerprint: {fa['hash']}" in ra.stdout and f"fingerprint: {fb['hash']}" in rb.stdout
    m = fa['datasets']['msasl']
    assert len(m['clips']) == sum(len((a/'data'/'msasl'/f'{s}.txt').read_text().splitlines()) for s in SPLITS)
    assert all(c['sha256'] and c['frames'] > 0 for c in m['clips'].values()) and not m['problems']
    assert all(m['annotation'].values()) and m['options']['run']['jpeg_quality'] == 2
    assert m['fetched']['first'] and m['fetched']['sources'] == 8 and m['fetched']['undated'] == 0   # dated, and not hashed
    card = (a/'data'/'DATASET_CARD.md').read_text()
    assert fa['hash'] in card and 'MS-ASL100' in card and 'We used MS-ASL as prepared by msasl-prep' in card
    nb = nbformat.read(next((a/'data'/'reports').glob('pipeline-*.ipynb')), as_version=4)   # the pipeline ends with the card
    last = json.dumps([o for c in nb.cells[-2:] for o in c.get('outputs', [])])
    assert '# Dataset card' in last and f"fingerprint: {fa['hash']}" in last
    res = run('msasl-compare', str(a/'data'), str(b/'data'/'fingerprint.json'))
    assert res.returncode == 0 and fa['hash'] in res.stdout, res.stdout + res.stderr

def test_a_clip_removed_is_named(copy):
    a, c = copy
    clip = (c/'msasl'/'train.txt').read_text().split()[0]
    for f in (c/'msasl').glob('*.txt'):
        f.write_text(''.join(l + '\n' for l in f.read_text().splitlines() if l.split()[0] != clip))
    shutil.rmtree(c/'msasl'/'global_crops'/clip)
    res = run('msasl-fingerprint', str(c))
    assert res.returncode == 0 and fingerprint_of(c)['hash'] in res.stdout, res.stderr
    assert fingerprint_of(c)['hash'] != fingerprint_of(a)['hash']
    res = run('msasl-compare', str(a/'fingerprint.json'), str(c/'fingerprint.json'))
    assert res.returncode == 1 and f"msasl: clips only in A: 1: {clip}" in res.stdout and 'msasl: lists that differ' in res.stdout, res.stdout
    assert 'train.txt' in res.stdout and 'other frames' not in res.stdout

def test_one_jpeg_byte_changed_is_named(copy):
    a, c = copy
    clip = sorted((c/'msasl'/'global_crops').glob('*/clip_*'))[3]
    jpg = clip/'img_00005.jpg'; data = bytearray(jpg.read_bytes()); data[len(data) // 2] ^= 1; jpg.write_bytes(bytes(data))
    res = run('msasl-compare', str(a), str(c))
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"msasl: clips with other frames: 1: {clip.parent.name}/{clip.name}" in res.stdout and 'lists that differ' not in res.stdout

def test_another_jpeg_quality_is_named(copy):
    a, c = copy
    res = run('msasl-extract-frames', '-s', *[str(c/'msasl_data'/f'MSASL_{s}.json') for s in SPLITS], '-v', str(c/'msasl_data'/'videos'),
              '-o', str(c/'msasl'), '--jpeg-quality', '5', '-j', '2')
    assert res.returncode == 0, res.stderr[-2000:]
    res = run('msasl-compare', str(a/'fingerprint.json'), str(c))
    n = len(fingerprint_of(a)['datasets']['msasl']['clips'])
    assert res.returncode == 1 and f"msasl: clips with other frames: {n}:" in res.stdout, res.stdout
    assert 'msasl: options differ' in res.stdout and '"jpeg_quality": 5' in res.stdout and 'lists that differ' not in res.stdout

def test_kinetics_and_fingerprints_alone(demo, wheel, tmp_path):
    (d, _), (*_, k_demo, res) = demo, wheel                  # the Kinetics demo as the installed wheel ran it
    shutil.copytree(k_demo, tmp_path/'k', symlinks=True)
    fp = fingerprint_of(tmp_path/'k'/'data')
    assert f"fingerprint: {fp['hash']}" in res.stdout and list(fp['datasets']) == ['kinetics700']
    k = fp['datasets']['kinetics700']
    assert all(k['annotation'].values()) and k['missing'].get('unavailable') == 4 and k['options']['frames']['short_side'] == 256
    assert len(k['clips']) == 12 and not k['problems'] and 'Kinetics-700' in (tmp_path/'k'/'data'/'DATASET_CARD.md').read_text()
    alone = tmp_path/'alone'; alone.mkdir()                    # a reader with the published fingerprints and none of the data
    shutil.copy(tmp_path/'k'/'data'/'fingerprint.json', alone/'kinetics.json')
    shutil.copy(d/'data'/'fingerprint.json', alone/'msasl.json')
    res = run('msasl-compare', str(alone/'kinetics.json'), str(alone/'msasl.json'))
    assert res.returncode == 1 and 'kinetics700: only in A' in res.stdout and 'msasl: only in B' in res.stdout, res.stdout
    assert run('msasl-compare', str(alone/'kinetics.json'), str(tmp_path/'k'/'data')).returncode == 0

def test_user_errors_are_one_line_and_make_nothing(tmp_path):
    one_line(run('msasl-fingerprint', str(tmp_path/'none')), 2, 'no such folder')
    assert not (tmp_path/'none').exists()
    (tmp_path/'e').mkdir()
    one_line(run('msasl-fingerprint', str(tmp_path/'e')), 2, 'nothing prepared here')
    assert list((tmp_path/'e').iterdir()) == []
    (tmp_path/'x.json').write_text('[1, 2]')
    one_line(run('msasl-compare', str(tmp_path/'x.json'), str(tmp_path/'e')), 2, 'not a msasl-prep fingerprint')
    one_line(run('msasl-compare', str(tmp_path/'gone.json'), str(tmp_path/'x.json')), 2, 'gone.json: no such file')
