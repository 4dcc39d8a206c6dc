"""Benchmark: planning the whole Kinetics-700-2020 annotation, against `csv.reader` reading the same CSVs.

Not part of the test run: `python tests/bench_plan.py [--scale 1.0] [--keep DIR]` prints a table.

It generates CSVs of the 2020 release's shape (545,000 train, 35,000 val and 70,000 test rows over 700 classes; the
test CSV without labels; `--scale` shrinks them) and a shard list of 1,000 shards on a mirror nobody answers (a
loopback port that refuses), then measures, each as its own process (wall time, and peak memory from the kernel's
`ru_maxrss` of that process):

  csv.reader  the floor: the three CSVs read into lists of rows with `csv.reader`, nothing else;
  first run   `msasl-kinetics DATA_DIR --annotation A --shard-lists L` from an empty DATA_DIR: every row read and
              validated, every clip named, the wanted list written, the 1,000 shards tried (each refused), the
              report of 650,000 clips and the three lists written;
  resume      the same DATA_DIR made to look as if 600,000 clips were done (923 shard rows `done`, each clip's folder
              in rawframes/) by a run killed before its report, 77 shards left: the rerun decides what is left, tries
              the 77, writes report and lists (each round starts from that state again);
  again       the same resume once more: the 77 refused again, as before, so the report and the lists stand as
              they are;
  decide      the part of `resume` before any shard is asked for: annotation read, shard rows read, what is left;
              in this process, so without Python's start;
  nothing new the same DATA_DIR with a shard list of the 923 shards done, run twice: the second finds the report
              and lists made from the same inputs, and writes neither;
  output      the floor of what a resume must write, in this process: a report line for each of the 650,000 clips and
              a list line for each of the 600,000 with frames, each made by one `%` format, the lists ordered and the
              train list shuffled, all written. A resume that makes a clip must rewrite the lists whole (the train list
              is shuffled over every clip), and the report with them;
  lists       the list lines of `output` alone, made, ordered, shuffled and written: what a resume would write with no
              report at all;
  listing     one listing of rawframes/ that tells its 600,000 folders from links and files, in this process: the
              least a run must read to know which clips have frames;
  shard rows  the killed run's 923 shard rows read with `json.loads`, in this process: the least a run must read to
              know the frames and rate of each clip made (its report line and list line say them).

A resume's floor is csv.reader + output + listing + shard rows (printed last); with no report written at all, it would
still be csv.reader + lists + listing + shard rows.

Each command is run three times in alternation with the floor, and the median is printed with its ratio to the
floor's median of the same round.
"""
import argparse, csv, json, os, random, shutil, socket, statistics, string, subprocess, sys, tempfile, time
from pathlib import Path

SIZES = {'train': 545_000, 'val': 35_000, 'test': 70_000}
ID = string.ascii_letters + string.digits + '-_'

def make_annotation(folder:Path, scale:float=1.0, classes:int=700, seed:int=0)->dict:
    "Kinetics-shaped CSVs in `folder` (labels over `classes` classes, the test CSV without them); rows per split"
    rng = random.Random(seed)
    names = [f"class {i:03d} {''.join(rng.choices(string.ascii_lowercase, k=8))}" for i in range(classes)]
    folder.mkdir(parents=True, exist_ok=True)
    rows = {}
    for split,n in SIZES.items():
        n = rows[split] = max(1, int(n * scale))
        with open(folder/f"{split}.csv", 'w') as f:
            f.write('label,youtube_id,time_start,time_end,split\n' if split != 'test'
                    else 'youtube_id,time_start,time_end,split\n')
            for i in range(n):
                vid,start = ''.join(rng.choices(ID, k=11)),rng.randrange(0, 600)
                f.write(f"{names[i % classes]},{vid},{start},{start + 10},{split}\n" if split != 'test'
                        else f"{vid},{start},{start + 10},{split}\n")
    return rows

def refused_base()->str:
    "A loopback URL nobody listens on: every connection is refused at once"
    s = socket.socket(); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.close()
    return f"http://127.0.0.1:{port}/k700_2020/train"

def shard_list(path:Path, shards:int)->list:
    urls = [f"{refused_base()}/part_{i:04d}.tar.gz" for i in range(shards)]
    path.write_text(''.join(u + '\n' for u in urls))
    return urls

def measured(cmd:list)->tuple:
    "`(seconds, peak MB, exit code)` of `cmd` run as its own process"
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
             "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, "
             "r.returncode)")
    out = subprocess.run([sys.executable, '-c', probe, *cmd], capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]),float(out[1]),int(out[2])

FLOOR = ("import csv, sys\nrows = {}\nfor s in ('train', 'val', 'test'):\n"
         "    with open(f'{sys.argv[1]}/{s}.csv', newline='') as f: rows[s] = list(csv.reader(f))\n")

def done_state(root:Path, ann_dir:Path, urls:list, done:int, clips:int):
    """`root` (DATA_DIR/kinetics700) as a run leaves it when the first `done` shards are read: their rows, and a
    folder for each of their clips (the first `clips` clips of the annotation, spread over them)"""
    from msasl_prep.kinetics.annotation import load_kinetics
    from msasl_prep.kinetics.frames import FrameOptions
    from msasl_prep.kinetics.prepare import MANIFEST, OPTIONS
    from dataclasses import asdict
    ann = load_kinetics(ann_dir)
    names = [n for s in ann.splits for n in ann.splits[s].names][:clips]
    (root/'rawframes').mkdir(parents=True, exist_ok=True); (root/'shards').mkdir(exist_ok=True)
    (root/OPTIONS).write_text(json.dumps(asdict(FrameOptions())))
    per = -(-len(names) // done)
    with open(root/MANIFEST, 'w') as f:
        for i,u in enumerate(urls[:done]):
            made = {n: [250, 25.0] for n in names[i * per:(i + 1) * per]}
            f.write(json.dumps(dict(shard=u.rsplit('/', 1)[1], url=u, status='done', detail='', made=made, failed={},
                                    kept=[], others=0, bytes=10**9, seconds=100.0,
                                    fetched='2026-12-03T12:00:00Z')) + '\n')
    for n in names: os.mkdir(root/'rawframes'/n)

def decide(data:Path, ann_dir:Path, urls:list)->float:
    "Seconds to know what is left to do: the annotation read, the shard rows read, the shards not done"
    from msasl_prep.kinetics.annotation import load_kinetics
    from msasl_prep.kinetics.prepare import MANIFEST, _shard_key
    from msasl_prep.kinetics.mirror import shard_name
    from msasl_prep.ledger import Ledger
    from msasl_prep.files import no_cycles
    t = time.perf_counter()
    ann = load_kinetics(ann_dir)
    wanted = [n for s in ann.splits for n in ann.splits[s].names]
    with no_cycles(): ledger = Ledger(data/'kinetics700'/MANIFEST, _shard_key, 'shard row')
    done = {k for k,r in ledger.rows.items() if r['status'] == 'done'}
    todo = [u for u in urls if shard_name(u) not in done]
    took = time.perf_counter() - t
    assert wanted and todo is not None
    return took

def output_floor(ann_dir:Path, done:int, out:Path)->dict:
    """Seconds to write the report and list lines of a resume (see `output` above) with nothing else, no lookups and no
    checks; and of its lists alone (`lists`)"""
    from msasl_prep.kinetics.annotation import load_kinetics
    ann = load_kinetics(ann_dir)
    clips = [(s, n, l) for s in ann.splits for n,l in zip(ann.splits[s].names, ann.labels(s))]
    ok_line = ('{"clip": "%s", "split": "%s", "label": %d, "shard": "part_0000.tar.gz", "status": "ok", "frames": %d, '
               '"fps": %r}\n')
    unsaid = '{"clip": "%s", "split": "%s", "label": %d, "shard": "", "status": "skipped", "reason": "shard_unread"}\n'
    def lists():
        by_split = {}
        for s,n,l in clips[:done]: by_split.setdefault(s, []).append('%s %d 0 %d 0 %d %g' % (n, l, 250, 250, 25.0))
        for s,lines in by_split.items():
            lines.sort()                          # a line starts with its folder and a space: they sort as folders do
            if s == 'train': random.Random(0).shuffle(lines)
            (out/f"{s}.txt").write_text(''.join([t + '\n' for t in lines]))
    t = time.perf_counter()
    with open(out/'report.jsonl', 'wb') as f:
        for lo in range(0, len(clips), 50_000):
            f.write(''.join([ok_line % (n, s, l, 250, 25.0) if i < done else unsaid % (n, s, l)
                             for i,(s,n,l) in enumerate(clips[lo:lo + 50_000], lo)]).encode())
    lists()
    t1 = time.perf_counter()
    lists()
    return dict(output=t1 - t, lists=time.perf_counter() - t1)

def listing(rawframes:Path)->float:
    "Seconds to list `rawframes` once, its folders told from links and files (see `listing` above)"
    t = time.perf_counter()
    with os.scandir(rawframes) as it: found = {e.name for e in it if e.is_dir(follow_symlinks=False)}
    took = time.perf_counter() - t
    assert found
    return took

def shard_rows(manifest:Path)->float:
    "Seconds to read the shard rows of `manifest` (see `shard rows` above), the cycle collector paused as a run does"
    from msasl_prep.files import no_cycles
    with no_cycles():
        t = time.perf_counter()
        rows = [json.loads(l) for l in manifest.read_text().splitlines()]
        took = time.perf_counter() - t
    assert rows
    return took

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--scale', type=float, default=1.0, help='the share of the full size (default 1: 650,000 rows)')
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--keep', type=Path, help='work here, and leave it (default: a temporary folder, removed)')
    a = p.parse_args()
    work = a.keep or Path(tempfile.mkdtemp(prefix='bench-plan-'))
    try:
        ann = work/'annotations'
        rows = make_annotation(ann, a.scale)
        urls = shard_list(work/'k700_2020_train_path.txt', 1000)
        (work/'done_path.txt').write_text(''.join(u + '\n' for u in urls[:923]))
        kin = lambda d, lst='k700_2020_train_path.txt': ['msasl-kinetics', str(d), '--annotation', str(ann),
                                                         '--shard-lists', str(work/lst), '-q']
        done_clips = int(600_000 * a.scale)
        print(f"{sum(rows.values()):,} rows ({', '.join(f'{s} {n:,}' for s,n in rows.items())}), 1,000 shards; "
              f"resume: {done_clips:,} clips done in 923 shards", flush=True)
        resume = work/'resume'
        done_state(resume/'kinetics700', ann, urls, 923, done_clips)
        pristine = (resume/'kinetics700'/'shards.jsonl').read_bytes()
        (work/'pristine.jsonl').write_bytes(pristine)
        results = {k: [] for k in ('csv.reader', 'first run', 'resume', 'again', 'decide', 'nothing new', 'output',
                                     'lists', 'listing', 'shard rows')}
        sizes = {}
        for r in range(a.rounds):
            base = measured([sys.executable, '-c', FLOOR, str(ann)])
            results['csv.reader'].append((*base[:2], 1.0, 1.0))
            first = work/f"first{r}"
            k = resume/'kinetics700'                               # as the killed run left it: no report, no lists
            (k/'shards.jsonl').write_bytes(pristine)
            for f in [k/'kinetics_report.jsonl', k/'.report-inputs.json', *k.glob('*700.txt')]:
                f.unlink(missing_ok=True)
            for name,cmd in (('first run', kin(first)), ('resume', kin(resume)), ('again', kin(resume)),
                             ('nothing new', kin(resume, 'done_path.txt'))):
                if name == 'nothing new': subprocess.run(cmd, capture_output=True)       # the run that makes the report
                t,mb,code = measured(cmd)
                assert code == 0, (name, code)
                results[name].append((t, mb, t / base[0], mb / base[1]))
            t = decide(resume, ann, urls)
            results['decide'].append((t, float('nan'), t / base[0], float('nan')))
            (work/'floor').mkdir(exist_ok=True)
            for name,t in (*output_floor(ann, done_clips, work/'floor').items(),
                           ('listing', listing(resume/'kinetics700'/'rawframes')),
                           ('shard rows', shard_rows(work/'pristine.jsonl'))):
                results[name].append((t, float('nan'), t / base[0], float('nan')))
            k = first/'kinetics700'
            # no list: the first run makes no clip, and a list is written only when a clip has frames
            sizes = {n: (k/n).stat().st_size for n in ('kinetics_report.jsonl', '.wanted.txt', 'shards.jsonl')}
            shutil.rmtree(first)
            print(f"round {r + 1}: " + ', '.join(f"{n} {v[-1][0]:.2f} s" for n,v in results.items()), flush=True)
        print(f"\n| | wall (s) | x csv.reader | peak memory (MB) | x csv.reader |\n|---|---|---|---|---|")
        for n,v in results.items():
            med = lambda i: statistics.median(x[i] for x in v)
            here = n in ('decide', 'output', 'lists', 'listing', 'shard rows')
            mem = '(in the bench process) |' if here else f"{med(1):.0f} | {med(3):.2f}"
            print(f"| {n} | {med(0):.2f} | {med(2):.2f} | {mem} |")
        wall = {n: statistics.median(x[0] for x in v) for n,v in results.items()}
        read = wall['csv.reader'] + wall['listing'] + wall['shard rows']
        for what,bound in (('csv.reader + output + listing + shard rows', read + wall['output']),
                           ('with no report, csv.reader + lists + listing + shard rows', read + wall['lists'])):
            print(f"\nresume's floor, {what}: {bound:.2f} s, {bound / wall['csv.reader']:.2f}x csv.reader; "
                  f"the resume takes {wall['resume'] / bound:.2f} times it")
        print('files of the first run: ' + ', '.join(f"{n} {s / 2**20:.1f} MB" for n,s in sizes.items()))
    finally:
        if not a.keep: shutil.rmtree(work, ignore_errors=True)

if __name__ == '__main__': main()
