"""Benchmark: read + validate 25,000 MS-ASL records, against `json.loads` of the same file alone.

Not part of the test run: `python tests/bench_annotations.py [N]` prints a table. Records are the
synthetic sample's valid ones with fresh ids, N in all (the real release has 25,513), in two cases:
every url different (worst case: no id is looked up twice) and 3 clips per url (the real files
average several clips per video; `video_id` remembers urls it has seen).
"""
import json, statistics, sys, tempfile, time
from pathlib import Path
from msasl_prep.annotations import load_split, video_id
from msasl_prep.sample import plan_sample

def _records(n, clips_per_url):
    _, splits, _, _ = plan_sample(16, seed=0)
    base = [r for rs in splits.values() for r in rs if 'etc' not in r['url'] and r['end'] > r['start'] and max(r['box']) <= 1]
    return [{**base[i % len(base)], 'url': f"www.youtube.com/watch?v={i//clips_per_url:07d}abcd" + ('&t=54s' if i % 12 == 4 else '')}
            for i in range(n)]

def _time(f, repeat):
    ts = []
    for _ in range(repeat):
        video_id.cache_clear(); t = time.perf_counter(); r = f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts), r

def main(n=25_000, repeat=5):
    print(f"{n} records, median of {repeat} runs\n")
    print("| case | json.loads only (floor) | load_split (parse + validate) | per record | ratio to floor |\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        p = Path(d)/'MSASL_train.json'
        for label,k in (('every url different', 1), ('3 clips per url', 3)):
            p.write_text(json.dumps(_records(n, k)))
            floor,_ = _time(lambda: json.loads(p.read_text()), repeat)
            full,sf = _time(lambda: load_split(p, 1000), repeat)
            assert len(sf.records) == n, sf.problems[:3]
            print(f"| {label} | {floor:.3f} s | {full:.3f} s | {full/n*1e6:.1f} us | {full/floor:.2f} |")

if __name__ == '__main__': main(int(sys.argv[1]) if len(sys.argv) > 1 else 25_000)
