"""The Kinetics annotation at (a sixth of) its full size: 100,000 rows plan without error, every clip named.

The rows are generated here in the 2020 release's shape (`bench_plan.make_annotation`), with a few bad ones among them
and one CSV that quotes its labels (read with `csv` throughout); the shards are on a mirror nobody answers.
"""
import json
from collections import Counter
from pathlib import Path
from conftest import run
from bench_plan import make_annotation, shard_list

def test_a_100000_row_annotation_plans_without_error(tmp_path):
    ann = tmp_path/'annotations'
    rows = make_annotation(ann, scale=100_000 / 650_000)
    train = (ann/'train.csv').read_text().splitlines()
    first = train[1]
    train[5] = 'abseiling,too-short,0,10,train'                              # a bad id
    train[6] = first                                                         # the first clip again
    (ann/'train.csv').write_text('\n'.join(train) + '\n')
    val = (ann/'val.csv').read_text().splitlines()                            # every label quoted, as some tools write
    (ann/'val.csv').write_text('\n'.join([val[0]] + [f'"{l.split(",")[0]}",' + l.split(',', 1)[1] for l in val[1:]]) + '\n')
    urls = shard_list(tmp_path/'k700_2020_train_path.txt', 150)
    cmd = ['msasl-kinetics', str(tmp_path/'data'), '--annotation', str(ann), '--shard-lists', str(tmp_path/'k700_2020_train_path.txt'), '-q']
    res = run(*cmd)
    assert res.returncode == 0, res.stdout + res.stderr
    clips = sum(rows.values()) - 2
    assert f"0 of {clips} clips" in res.stdout, res.stdout
    k = tmp_path/'data'/'kinetics700'
    report = [json.loads(l) for l in (k/'kinetics_report.jsonl').read_text().splitlines()]
    by_status = Counter(r['status'] for r in report)
    assert by_status == {'skipped': clips, 'invalid': 2}, by_status
    assert {r['reason'] for r in report if r['status'] == 'skipped'} == {'shard_unread'}
    assert sorted((r['line'], r['reason']) for r in report if r['status'] == 'invalid') == [(6, 'bad_id'), (7, 'duplicate')]
    labels = Counter(r['label'] for r in report if r.get('split') == 'train')
    assert len(labels) == 700 and min(labels) == 0 and max(labels) == 699
    assert {r['label'] for r in report if r.get('split') == 'test'} == {-1}
    assert len({r['clip'] for r in report if 'clip' in r}) == clips           # each clip once, by its name
    assert len((k/'.wanted.txt').read_text().split()) == clips
    assert not list(k.glob('*700.txt')) and 'lists: none (no clip has frames)' in res.stdout   # no list, not empty ones
    shards = [json.loads(l) for l in (k/'shards.jsonl').read_text().splitlines()]
    assert len(shards) == 150 and {r['status'] for r in shards} == {'network'}
    again = run(*cmd)                                                        # the rerun tries the shards again
    assert again.returncode == 0 and f"0 of {clips} clips" in again.stdout, again.stdout + again.stderr
    assert [json.loads(l) for l in (k/'kinetics_report.jsonl').read_text().splitlines()] == report
