"""Benchmark: frame extraction, this toolkit against the naive way and against the decode floor.

Not part of the test run. `python tests/bench_extract.py [--dense N] [--sparse N] [-j WORKERS] [--keep DIR]`
makes two corpora with `make_sample`, encoded with x264's `medium` preset like YouTube's H.264 (`--preset`), (dense: short one-clip videos, as most of MS-ASL; sparse: 3000-frame
videos whose clips cover under a fifth of the frames) and measures, in one run on this machine, each in its
own process:

  (a) extractor: `msasl_prep.frames.extract_frames` (packet index + keyframe-aligned decode, ffmpeg crops,
      scales and writes the JPEGs), `-j` videos in parallel;
  (b) naive:     what the original does: decode every frame of every video in order (imageio-ffmpeg reader),
      crop and resize the needed frames with Pillow, save JPEG (quality 95), one video after the other;
  (c) floor:     ffmpeg decoding only the keyframe-aligned ranges that hold the needed frames, writing nothing,
      with the same parallelism as (a).

For each: wall time and CPU time (user + system of the process and its children) of the work itself
(interpreter start and imports excluded; (b) and (c) are also given the clip plans and packet index for
free, while (a) makes its own), and peak RSS (the sum over the process tree, sampled every 10 ms).
Ratios are against (a) in the same run.
"""
import argparse, json, os, resource, subprocess, sys, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

def _tree_rss(pid):
    "Resident memory of `pid` and all its descendants, in bytes"
    kids = {}
    for d in os.listdir('/proc'):
        if not d.isdigit(): continue
        try:
            stat = open(f'/proc/{d}/stat').read()
            ppid = int(stat.rsplit(')', 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(d))
        except (OSError, IndexError, ValueError): pass
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try: total += int(open(f'/proc/{p}/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
        except (OSError, ValueError): pass
        todo += kids.get(p, [])
    return total

def measure(args):
    "Run this script on `args` in a child process: (wall s, cpu s, peak tree RSS MB) of its timed section"
    p = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    peak, stop = [0], threading.Event()
    def sample():
        while not stop.is_set(): peak[0] = max(peak[0], _tree_rss(p.pid)); stop.wait(0.01)
    th = threading.Thread(target=sample); th.start()
    out, _ = p.communicate(); stop.set(); th.join()
    if p.returncode: raise SystemExit(f"{args} failed with {p.returncode}")
    timed = json.loads(out.strip().splitlines()[-1])
    return timed['wall'], timed['cpu'], peak[0] / 2**20

def _cpu():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

# ---- the three methods, run in the child process ----

def _plans(corpus):
    from msasl_prep.annotations import load_annotations
    from msasl_prep.clips import plan_video
    from msasl_prep.video import index_video
    out = {}
    for vid, recs in load_annotations(corpus).by_video().items():
        idx = index_video(Path(corpus)/'videos'/f'{vid}.mp4')
        out[vid] = (idx, plan_video(recs, idx.n_frames, idx.width, idx.height)[0])
    return out

def run_extractor(corpus, out, workers):
    from msasl_prep.annotations import load_annotations
    from msasl_prep.frames import extract_frames
    s = extract_frames(load_annotations(corpus).records, Path(corpus)/'videos', out, workers=workers, progress=False)
    assert s['status'] == {'ok': s['clips']}, s

def run_naive(corpus, out, plans):
    import imageio_ffmpeg
    from PIL import Image
    for vid, (idx, ps) in sorted(plans.items()):
        wanted = {}
        for p in ps:
            folder = Path(out)/p.folder; folder.mkdir(parents=True, exist_ok=True)
            for n in range(*p.window): wanted.setdefault(n, []).append((p, folder))
        reader = imageio_ffmpeg.read_frames(str(Path(corpus)/'videos'/f'{vid}.mp4'))
        meta = next(reader); w, h = meta['size']
        for n, raw in enumerate(reader):
            for p, folder in wanted.get(n, ()):
                img = Image.frombytes('RGB', (w, h), raw).crop(p.crop).resize((256, 300), Image.BILINEAR)
                img.save(folder/f'img_{n - p.window[0] + 1:05d}.jpg', quality=95)

def run_floor(corpus, plans, workers):
    from msasl_prep.frames import decode_ranges, keyframe_before
    from msasl_prep.video import ffmpeg_exe
    jobs = []
    for vid, (idx, ps) in plans.items():
        for group in decode_ranges(ps, idx):
            key = keyframe_before(idx, min(p.window[0] for p in group))
            stop = max(p.window[1] for p in group)
            n = stop - idx.pts.index(key)
            jobs.append([ffmpeg_exe(), '-nostdin', '-v', 'error', '-threads', '1', '-noaccurate_seek', '-copyts',
                         '-ss', f'{idx.seconds(key):.6f}', '-i', idx.path, '-map', '0:v:0', '-frames:v', str(n), '-f', 'null', '-'])
    with ThreadPoolExecutor(workers) as pool: list(pool.map(lambda c: subprocess.run(c, check=True), jobs))

def child(method, corpus, out, workers):
    "Run one method; print the wall and CPU time of the work itself (imports and, for (b) and (c), planning excluded)"
    import msasl_prep.frames, imageio_ffmpeg, PIL.Image
    plans = _plans(corpus) if method != 'extractor' else None   # (b) and (c) get the plan and packet index for free
    t0, c0 = time.perf_counter(), _cpu()
    if method == 'extractor': run_extractor(corpus, out, workers)
    elif method == 'naive': run_naive(corpus, out, plans)
    else: run_floor(corpus, plans, workers)
    print(json.dumps(dict(wall=time.perf_counter() - t0, cpu=_cpu() - c0)))

def corpus_facts(corpus):
    plans = {vid: ps for vid, (idx, ps) in _plans(corpus).items()}
    from msasl_prep.video import index_video
    frames = sum(index_video(Path(corpus)/'videos'/f'{v}.mp4').n_frames for v in plans)
    needed = sum(p.num_frames for ps in plans.values() for p in ps)
    return len(plans), sum(map(len, plans.values())), frames, needed

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--dense', type=int, default=60, help='short one-clip videos in the dense corpus')
    ap.add_argument('--sparse', type=int, default=8, help='3000-frame videos in the sparse corpus')
    ap.add_argument('-j', '--workers', type=int, default=os.cpu_count())
    ap.add_argument('--preset', default='medium', help="x264 preset of the corpora (default: medium, which decodes like YouTube's H.264; ultrafast decodes several times faster than real videos)")
    ap.add_argument('--keep', help='folder to keep corpora and outputs in (default: a temporary one)')
    ap.add_argument('--child', nargs=4, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child: return child(a.child[0], a.child[1], a.child[2], int(a.child[3]))
    from msasl_prep.sample import make_sample
    root = Path(a.keep or tempfile.mkdtemp(prefix='bench_extract_'))
    print(f"workers: {a.workers}; cores: {os.cpu_count()}; corpora encoded with x264 preset {a.preset}\n")
    print("| corpus | videos | clips | frames in videos | frames needed | method | wall s | CPU s | peak RSS MB | wall / extractor |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, n in (('dense', a.dense), ('sparse', a.sparse)):
        corpus = root/name
        make_sample(corpus, n_videos=n, seed=11, layout=name, preset=a.preset, progress=False)
        facts = corpus_facts(corpus)
        results = {}
        for method in ('extractor', 'naive', 'floor'):
            out = root/f'{name}-{method}'
            results[method] = measure(['--child', method, str(corpus), str(out), str(a.workers)])
        base = results['extractor'][0]
        for method, (wall, cpu, rss) in results.items():
            print(f"| {name} | {facts[0]} | {facts[1]} | {facts[2]} | {facts[3]} | {method} | {wall:.2f} | {cpu:.2f} | {rss:.0f} | {wall/base:.2f} |")
    print(f"\ndata in {root}")

if __name__ == '__main__': main()
