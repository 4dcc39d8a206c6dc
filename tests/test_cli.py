"The console commands of the foundation, run from a shell as a user runs them."
import json, shutil
from pathlib import Path
from conftest import run

def one_line_error(res, *needles):
    "A user error: exit 2, one line on stderr naming what is wrong, no traceback"
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert 'Traceback' not in res.stderr
    for n in needles: assert n in lines[0], lines[0]
    return lines[0]

def test_make_sample_writes_the_dataset(sample):
    names = sorted(p.name for p in sample.iterdir())
    assert names == ['MSASL_classes.json', 'MSASL_synonym.json', 'MSASL_test.json', 'MSASL_train.json',
                     'MSASL_val.json', 'sample.json', 'videos']
    desc = json.loads((sample/'sample.json').read_text())
    assert sorted(p.name for p in (sample/'videos').iterdir()) == sorted(v['video_id'] + '.mp4' for v in desc['videos'])
    assert not list(sample.rglob('*.tmp*'))

def test_make_sample_is_deterministic(sample, tmp_path):
    res = run('msasl-make-sample', str(tmp_path/'again'), '--n-videos', '12', '--seed', '7')
    assert res.returncode == 0, res.stderr
    assert 'wrote 33 records and 12 videos' in res.stdout
    for name in ('MSASL_train.json', 'MSASL_val.json', 'MSASL_test.json', 'MSASL_classes.json', 'sample.json'):
        assert (tmp_path/'again'/name).read_bytes() == (sample/name).read_bytes(), name

def test_stats_table_names_invalid_records(sample):
    res = run('msasl-stats', str(sample))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert 'invalid records: 3 (' in out
    assert "MSASL_train.json[5]: bad_video_id: '../../etc/x'" in out
    assert 'MSASL_val.json[1]: bad_span: end' in out
    assert 'MSASL_test.json[2]: box_outside: box [0.1, 0.2, 0.9, 1.15]' in out
    assert 'MS-ASL1000' in out and '/ 16054' in out     # paper numbers beside ours

def test_stats_json_holds_every_figure(sample):
    res = run('msasl-stats', str(sample), '--json')
    assert res.returncode == 0, res.stderr
    st = json.loads(res.stdout)
    files = {s: json.loads((sample/f'MSASL_{s}.json').read_text()) for s in ('train', 'val', 'test')}
    assert st['records_in_files'] == {**{s: len(v) for s,v in files.items()}, 'total': sum(map(len, files.values()))}
    assert st['records']['total'] == st['records_in_files']['total'] - 3
    assert st['invalid']['by_reason'] == {'bad_video_id': 1, 'bad_span': 1, 'box_outside': 1}
    assert [(r['file'], r['index']) for r in st['invalid']['records']] == [
        ('MSASL_train.json', 5), ('MSASL_val.json', 1), ('MSASL_test.json', 2)]
    assert st['videos']['total'] == 12
    assert set(st['per_k']) == {'100', '200', '500', '1000'}
    assert st['per_k']['1000'] == st['records']
    assert st['paper']['100'] == {'train': 3789, 'val': 1190, 'test': 757, 'total': 5736}
    assert st['clips_per_video']['max'] == 16 and st['overlaps'] >= 3
    assert set(st['fps']) >= {'29.97', '25', '15', '24'} and set(st['sizes']) == {'1280x720', '640x360'}
    for key in ('signers', 'labels_used', 'clip_frames', 'classes', 'synonym_groups'): assert key in st

def test_stats_missing_folder(tmp_path):
    one_line_error(run('msasl-stats', str(tmp_path/'nope')), 'msasl-stats: error:', 'nope: no such folder')

def test_stats_broken_json_names_file_and_position(sample, tmp_path):
    d = tmp_path/'broken'; shutil.copytree(sample, d, ignore=shutil.ignore_patterns('videos'))
    text = (d/'MSASL_val.json').read_text()
    (d/'MSASL_val.json').write_text(text[:200])           # cut off mid-record
    one_line_error(run('msasl-stats', str(d)), 'MSASL_val.json (line', 'malformed JSON')
    (d/'MSASL_val.json').write_text('{"not": "a list"}')
    one_line_error(run('msasl-stats', str(d)), 'MSASL_val.json', 'expected a JSON list')

def test_stats_missing_classes_file(sample, tmp_path):
    d = tmp_path/'noclasses'; shutil.copytree(sample, d, ignore=shutil.ignore_patterns('videos', 'MSASL_classes.json'))
    one_line_error(run('msasl-stats', str(d)), 'MSASL_classes.json: no such file')

def test_make_sample_user_error(tmp_path):
    one_line_error(run('msasl-make-sample', str(tmp_path/'s'), '--n-videos', '2'), 'at least 4 videos')
    (tmp_path/'file').write_text('x')
    one_line_error(run('msasl-make-sample', str(tmp_path/'file')), 'msasl-make-sample: error:')

def test_usage_error_exits_2():
    res = run('msasl-stats')
    assert res.returncode == 2 and 'Traceback' not in res.stderr
