"""Benchmark: Kinetics from a mirror (issue 20) against the usual recipe, measured in one run on this machine.

Not part of the test run.
`python tests/bench_kinetics.py [--clips N] [--seconds S] [--size WxH] [--per-shard K] [--noise G] [-j 1 2] [--keep DIR]`

Makes a synthetic mirror (`kinetics_sample.make_kinetics_sample`, no faults) of N train clips of S seconds at WxH
(25 and 30 fps; every fourth portrait; grain G over the test pattern, so that a clip weighs about what a real one
does), K clips a shard, H.264 like the mirror's, served on 127.0.0.1, and prepares it
twice for each worker count J, from an empty folder:

  recipe  what people do today: fetch every shard (one GET each, as `wget -c` in a loop), `tar xzf` every shard, then one
          ffmpeg per clip to JPEGs at short side 256 (`-q:v 2`), J clips at once (as `xargs -P J`); the shards and the
          unpacked videos stay on disk until the end, as the recipe leaves them;
  this    `msasl-kinetics -j J`: one shard a task, read as a stream, each member cut and deleted, the shard deleted.

It reports the wall time, and the peak disk of the output folder (every file's size, sampled every 0.2 s; both sides
pay the same sampling), and checks that both made the same number of images.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, threading, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from msasl_prep.kinetics_frames import scale_filter
from msasl_prep.kinetics_sample import make_kinetics_sample, MirrorServer, shard_lists
from msasl_prep.video import ffmpeg_exe

class DiskPeak:
    "The largest total size of the files under `folder` while the `with` block runs"
    def __init__(self, folder:Path, every:float=0.2): self.folder,self.every,self.peak,self._stop = folder,every,0,threading.Event()
    def size(self)->int:
        total = 0
        for root, _, files in os.walk(self.folder):
            for f in files:
                try: total += os.lstat(os.path.join(root, f)).st_size
                except OSError: pass
        return total
    def _run(self):
        while not self._stop.wait(self.every): self.peak = max(self.peak, self.size())
    def __enter__(self):
        self._t = threading.Thread(target=self._run, daemon=True); self._t.start(); return self
    def __exit__(self, *exc):
        self._stop.set(); self._t.join(); self.peak = max(self.peak, self.size())

def recipe(urls:list, out:Path, workers:int, wanted:set):
    "download.sh, extract.sh, then one ffmpeg per clip"
    (out/'shards').mkdir(parents=True); (out/'videos').mkdir(); (out/'rawframes').mkdir()
    for u in urls:
        with urllib.request.urlopen(u) as r, open(out/'shards'/u.rsplit('/', 1)[1], 'wb') as f: shutil.copyfileobj(r, f, 1 << 20)
    for s in sorted((out/'shards').iterdir()):
        subprocess.run(['tar', 'xzf', str(s), '-C', str(out/'videos')], check=True)
    clips = [p for p in (out/'videos').rglob('*.mp4') if p.stem in wanted]
    def one(p:Path):
        d = out/'rawframes'/p.stem; d.mkdir()
        subprocess.run([ffmpeg_exe(), '-nostdin', '-v', 'error', '-i', str(p), '-vf', scale_filter(256), '-q:v', '2',
                        str(d/'img_%05d.jpg')], check=True)
    with ThreadPoolExecutor(workers) as pool: list(pool.map(one, clips))

def this(folder:Path, lists:list, out:Path, workers:int):
    res = subprocess.run(['msasl-kinetics', str(out), '--annotation', str(folder/'annotations'), '--shard-lists', *map(str, lists),
                          '-q', '-j', str(workers)], capture_output=True, text=True)
    if res.returncode: sys.exit(f"msasl-kinetics failed: {res.stderr}")

def images(folder:Path)->int: return sum(1 for _ in folder.rglob('img_*.jpg'))

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--clips', type=int, default=48); ap.add_argument('--seconds', type=float, default=10)
    ap.add_argument('--size', default='640x360'); ap.add_argument('--per-shard', type=int, default=8)
    ap.add_argument('-j', type=int, nargs='+', default=[1, 2]); ap.add_argument('--keep')
    ap.add_argument('--noise', type=int, default=3, help='grain over the picture, so that clips weigh what real ones do (default: %(default)s)')
    a = ap.parse_args()
    size = tuple(map(int, a.size.split('x')))
    work = Path(a.keep or tempfile.mkdtemp(prefix='bench-kinetics-'))
    t0 = time.perf_counter()
    desc = make_kinetics_sample(work/'mirror', per_split={'train': a.clips}, per_shard=a.per_shard, seconds=a.seconds, size=size,
                                faults=False, noise=a.noise)
    shard_bytes = sum(p.stat().st_size for p in (work/'mirror'/'mirror').rglob('*.tar.gz'))
    print(f"{len(desc['clips'])} clips of {a.seconds:g} s at {a.size} in {len(desc['shards'])} shards ({shard_bytes / 2**20:.1f} MB); "
          f"made in {time.perf_counter() - t0:.0f} s\n")
    rows = []
    with MirrorServer(work/'mirror') as srv:
        lists = shard_lists(work/'mirror', srv.base)
        urls = [l for p in lists for l in p.read_text().split()]
        for j in a.j:
            got = {}
            for name, fn in (('recipe', lambda out: recipe(urls, out, j, set(desc['clips']))),
                             ('this', lambda out: this(work/'mirror', lists, out, j))):
                out = work/f"{name}-{j}"
                shutil.rmtree(out, ignore_errors=True); out.mkdir()
                with DiskPeak(out) as disk:
                    t = time.perf_counter(); fn(out); wall = time.perf_counter() - t
                got[name] = (wall, disk.peak, images(out))
            assert got['recipe'][2] == got['this'][2], f"images differ: {got}"
            rows.append((j, got))
    print('| workers | recipe s | this s | speed-up | recipe peak MB | this peak MB | disk ratio | images |')
    print('|---|---|---|---|---|---|---|---|')
    for j, g in rows:
        (rw, rd, n), (tw, td, _) = g['recipe'], g['this']
        print(f"| {j} | {rw:.1f} | {tw:.1f} | {rw / tw:.2f}x | {rd / 2**20:.1f} | {td / 2**20:.1f} | {td / rd:.2f} | {n} |")
    n = rows[-1][1]['this'][2]
    print(f"\nper clip (this, {rows[-1][0]} workers): {rows[-1][1]['this'][0] / len(desc['clips']):.3f} s; "
          f"frames on disk {rows[-1][1]['this'][1] / len(desc['clips']) / 2**20:.2f} MB a clip of {a.seconds:g} s")
    if not a.keep: shutil.rmtree(work, ignore_errors=True)
    else: print(f"files in {work}")

if __name__ == '__main__': main()
