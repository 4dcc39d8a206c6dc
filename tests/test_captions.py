"msasl-extract-frames --hide-captions on a sample with burned-in glosses (issue 11): no readable gloss, the signer kept, reruns stable."
import json, subprocess, sys
from pathlib import Path
import pytest
from conftest import run
from test_cli import one_line_error
from msasl_prep.checks import readable_gloss
from msasl_prep.marks import decode_mark

pytest.importorskip('rapidocr', reason="the [captions] extra is not installed")
SPLITS = ('train', 'val', 'test')

def extract(sample, out, *extra):
    return run('msasl-extract-frames', '-s', *[str(sample/f'MSASL_{s}.json') for s in SPLITS], '-v', str(sample/'videos'),
               '-o', str(out), '-q', '-j', '2', *extra)

def rows(out): return [json.loads(l) for l in (out/'extract_report.jsonl').read_text().splitlines()]

def tree(root): return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*')) if p.is_file() and p.name != 'extract_report.jsonl'}

@pytest.fixture(scope='module')
def captioned(tmp_path_factory):
    d = tmp_path_factory.mktemp('captioned')
    run('msasl-make-sample', str(d/'s'), '--n-videos', '12', '--seed', '7', '--captions', check=True)
    plain, hidden = d/'plain', d/'hidden'
    assert extract(d/'s', plain).returncode == 0
    res = extract(d/'s', hidden, '--hide-captions')
    assert res.returncode == 0, res.stderr
    return d/'s', plain, hidden, res

def test_no_gloss_is_readable_after_hiding(captioned):
    sample, plain, hidden, res = captioned
    assert 'captions: text found in' in res.stdout
    by_clip = {r['clip']: r for r in rows(hidden) if r['status'] == 'ok'}
    assert sum(bool(r['captions']['hidden']) for r in by_clip.values()) >= 10
    before = {c: readable_gloss(r, plain) for c, r in by_clip.items()}      # the same clips and words, without hiding
    after = {c: readable_gloss(r, hidden) for c, r in by_clip.items()}
    assert sum(bool(v) for v in before.values()) >= 5, before          # without hiding, glosses can be read in the crops
    assert {c: v for c, v in after.items() if v} == {}                  # with it, none

def test_the_signer_is_kept_and_other_text_is_left_alone(captioned):
    from msasl_prep.captions import is_gloss
    sample, plain, hidden, _ = captioned
    other = 0
    for r in rows(hidden):
        if r['status'] != 'ok': continue
        imgs = sorted((hidden/'global_crops'/r['clip']).glob('img_*.jpg'))
        assert [decode_mark(i) for i in imgs[::7]] == list(range(*r['window']))[::7], r['clip']   # the frame mark reads
        words = set(r['captions']['words'])
        assert all(is_gloss(h['text'], words) for h in r['captions']['hidden'])                   # gloss mode hides the gloss only
        other += sum(not any(is_gloss(t, words) for t in f['texts']) for f in r['captions']['found'])
    assert other >= 3                        # other words were seen in the crops (a neighbour's caption, clock digits), and left

def test_a_rerun_changes_nothing(captioned, tmp_path):
    sample, plain, hidden, _ = captioned
    before = tree(hidden)
    res = extract(sample, hidden, '--hide-captions')
    assert res.returncode == 0 and '(0 made now' in res.stdout, res.stdout
    assert tree(hidden) == before
    res = extract(sample, hidden, '--hide-captions', '--caption-fill', 'black')      # other options: every clip is planned and made again
    made = int(res.stdout.split('(')[1].split(' made now')[0])
    assert res.returncode == 0 and made == sum(r['status'] == 'ok' for r in rows(hidden)), res.stdout
    assert all(r['captions']['options']['fill'] == 'black' for r in rows(hidden) if r['status'] == 'ok')

def test_check_crops_reads_the_crops_again(captioned):
    sample, plain, hidden, _ = captioned
    res = run('msasl-check-crops', str(hidden), '--videos', str(sample/'videos'), '--n-checks', '6', '--strict')
    assert res.returncode == 0 and 'gloss still readable: 0' in res.stdout, res.stdout

def test_missing_extra_is_one_line(captioned, tmp_path):
    sample = captioned[0]
    code = ("import sys; sys.modules['rapidocr'] = None; from msasl_prep.cli import msasl_extract_frames; "
            "msasl_extract_frames(sys.argv[1:])")
    res = subprocess.run([sys.executable, '-c', code, '-s', str(sample/'MSASL_train.json'), '-v', str(sample/'videos'),
                          '-o', str(tmp_path/'o'), '--hide-captions'], capture_output=True, text=True)
    one_line_error(res, "pip install 'msasl-prep[captions]'")
    assert not (tmp_path/'o').exists()
