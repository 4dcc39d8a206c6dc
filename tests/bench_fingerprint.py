"""Benchmark: fingerprint the images of 25,000 clips, against reading the same images once.

Not part of the test run: `python tests/bench_fingerprint.py [CLIPS] [FRAMES] [KB]` prints a table. It writes a
DATA_DIR of CLIPS synthetic clips (default 25,000 clips of 8 frames of 16 KB, the size of a 256x300 crop at JPEG
quality 2: 3.2 GB in 200,000 files) with their train/val/test lists, then times, in alternation, three times each:
(a) reading every image once in one thread, in clip and frame order (what `cat` or `tar` does), (b) reading them once
on as many threads as the fingerprint uses, hashing nothing, and (c) `msasl_prep.fingerprint.fingerprint_dataset` in this process
and (d) as it runs by default, one process per core (list lines parsed, every clip's images SHA-256-hashed in frame
order). The files are in the page cache for all three
(each is run once before timing): what is measured is the work beside the disk, which is where the three differ.
"""
import os, statistics, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from msasl_prep.fingerprint import fingerprint_dataset, msasl_dataset

def make(data:Path, clips:int, frames:int, kb:int):
    "CLIPS clips of FRAMES random images each under data/msasl/global_crops, and lists naming them"
    rng = os.urandom(kb * 1024 + 4096)
    crops = data/'msasl'/'global_crops'; lines = {s: [] for s in ('train', 'val', 'test')}
    for i in range(clips):
        vid, clip = f"v{i // 10:010d}", f"clip_{i % 10:04d}"
        (crops/vid/clip).mkdir(parents=True, exist_ok=True)
        for f in range(1, frames + 1):
            at = (i * 7 + f * 131) % 4096
            (crops/vid/clip/f"img_{f:05d}.jpg").write_bytes(b'\xff\xd8' + rng[at:at + kb * 1024 - 4] + b'\xff\xd9')
        lines[('train', 'train', 'train', 'val', 'test')[i % 5]].append(f"{vid}/{clip} {i % 1000} 0 {frames - 1} 0 {frames} 30")
    for s, ls in lines.items(): (data/'msasl'/f"{s}.txt").write_text(''.join(l + '\n' for l in ls))

def read_clip(folder:Path)->int:
    n = 0
    for name in sorted(os.listdir(folder)):
        with open(folder/name, 'rb', buffering=0) as f: n += len(f.readall())
    return n

def read_all(crops:Path, names:list, workers:int)->int:
    if workers == 1: return sum(read_clip(crops/c) for c in names)
    with ThreadPoolExecutor(workers) as pool: return sum(pool.map(lambda c: read_clip(crops/c), names))

def main(clips=25_000, frames=8, kb=16, repeat=3):
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix='bench-fp-') as d:
        data = Path(d); t = time.perf_counter(); make(data, clips, frames, kb)
        print(f"{clips:,} clips x {frames} frames x {kb} KB = {clips * frames * kb / 2**20:.1f} GB in {clips * frames:,} files "
              f"(made in {time.perf_counter() - t:.0f} s); {os.cpu_count()} cores; median of {repeat}\n")
        crops = data/'msasl'/'global_crops'
        names = sorted(f"{v}/{c}" for v in os.listdir(crops) for c in os.listdir(crops/v))
        runs = {'read once, 1 thread': lambda: read_all(crops, names, 1),
                f"read once, {workers} threads": lambda: read_all(crops, names, workers),
                'fingerprint_dataset, here (workers=1)': lambda: fingerprint_dataset(msasl_dataset(data), 1, progress=False),
                'fingerprint_dataset': lambda: fingerprint_dataset(msasl_dataset(data), progress=False)}
        times = {k: [] for k in runs}
        for f in runs.values(): f()                                  # into the page cache, and everything imported
        for _ in range(repeat):
            for k, f in runs.items():
                t = time.perf_counter(); r = f(); times[k].append(time.perf_counter() - t)
                if k.startswith('fingerprint_dataset'): assert len(r['clips']) == clips and not r['problems'], r['problems'][:3]
        base = statistics.median(times['read once, 1 thread'])
        gb = clips * frames * kb / 2**20
        print("| pass | wall s | GB/s | clips/s | ratio to reading once (1 thread) |\n|---|---|---|---|---|")
        for k, ts in times.items():
            m = statistics.median(ts)
            print(f"| {k} | {m:.2f} | {gb / m:.2f} | {clips / m:,.0f} | {m / base:.2f} |")

if __name__ == '__main__': main(*(int(a) for a in sys.argv[1:4]))
