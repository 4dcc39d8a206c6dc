"""Benchmark: Kinetics from a mirror (issue 20) against the usual recipe, measured in one run on this machine.

Not part of the test run.
`python tests/bench_kinetics.py [--clips N] [--seconds S] [--size WxH] [--per-shard K] [--noise G] [-j 1 2] [--rates 0 10]
 [--video-seconds L] [--sections N] [--keep DIR]`

Makes a synthetic mirror (`kinetics_sample.make_kinetics_sample`, no faults) of N train clips of S seconds at WxH
(25 and 30 fps; every fourth portrait; grain G over the test pattern, so that a clip weighs about what a real one
does), K clips a shard, H.264 like the mirror's, served on 127.0.0.1, and prepares it
twice for each worker count J, from an empty folder:

  recipe  what people do today: fetch every shard (one GET each, as `wget -c` in a loop), `tar xzf` every shard, then one
          ffmpeg per clip to JPEGs at short side 256 (`-q:v 2`), J clips at once (as `xargs -P J`); the shards and the
          unpacked videos stay on disk until the end, as the recipe leaves them;
  this    `msasl-kinetics -j J`: one shard a task, read as a stream, each member cut and deleted, the shard deleted.

Each pair runs against the loopback mirror at full speed, and (`--rates`) against the same mirror giving each connection
R MB/s, as a remote mirror does: the recipe fetches one shard at a time, then works; this fetches J at once, each while
the other workers cut clips.

It reports the wall time, and the peak disk of the output folder (every file's size, sampled every 0.2 s; both sides
pay the same sampling), and checks that both made the same number of images.

Then clips from "YouTube" (`--video-seconds L --sections N`): one video of L seconds at WxH, 30 fps, a keyframe every 2 s
and B-frames, served on 127.0.0.1 by a server that counts the bytes it sends; N clips of 10 s spread over it, fetched
  old     as the old crawler did: the whole video (one GET), then `ffmpeg -ss START -t 10` to JPEGs at short side 256, per clip;
  this    `kinetics_youtube.fetch_sections`: yt-dlp's section download of each clip's seconds (and one more), cut to the frame.
It reports the bytes served and the wall time per clip.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, threading, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from msasl_prep.kinetics.frames import scale_filter
from msasl_prep.kinetics.sample import make_kinetics_sample, MirrorHandler, shard_lists, _encode
from msasl_prep.video import ffmpeg_exe
from msasl_prep.loopback import VideoRequestHandler, VideoServer

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

class Counting(VideoRequestHandler):
    """The loopback video server's handler, counting in `server.sent` the bytes it could hand to the socket: in 64 KB writes
    through a 64 KB send buffer, so that a client that stops reading (and hangs up) stops the count within about that much
    plus what its own receive buffer took"""
    def setup(self):
        import socket
        self.request.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 16)
        super().setup()
    def do_GET(self):
        w, server = self.wfile, self.server
        class Counted:
            def write(_, b):
                for i in range(0, len(b), 1 << 16):
                    w.write(b[i:i + (1 << 16)]); server.sent += len(b[i:i + (1 << 16)])
            def __getattr__(_, k): return getattr(w, k)
        self.wfile = Counted()
        try: super().do_GET()
        finally: self.wfile = w
    do_HEAD = do_GET

def throttled(handler, rate:float):
    "`handler`, its answers sent at `rate` bytes a second per connection (as a remote mirror gives each connection its share)"
    class Throttled(handler):
        def do_GET(self):
            w = self.wfile
            class Slow:
                def write(_, b):
                    t0, sent = time.perf_counter(), 0
                    for i in range(0, len(b), 1 << 16):
                        w.write(b[i:i + (1 << 16)]); sent += len(b[i:i + (1 << 16)])
                        if (ahead := sent / rate - (time.perf_counter() - t0)) > 0: time.sleep(ahead)
                def __getattr__(_, k): return getattr(w, k)
            self.wfile = Slow()
            try: super().do_GET()
            finally: self.wfile = w
        do_HEAD = do_GET
    return Throttled

def sections(work:Path, seconds:float, n:int, size:tuple, noise:int):
    "Clips of one long video: the whole video and `ffmpeg -ss` against section downloads; bytes served and wall time per clip"
    from msasl_prep.cluster import connect
    from msasl_prep.wants import DownloadOptions
    from msasl_prep.kinetics.annotation import KineticsClip
    from msasl_prep.kinetics.youtube import fetch_sections
    vid = 'bench000001'
    (work/'yt').mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    _encode(work/'yt'/'moov-last.mp4', 30, size, seconds, noise, gop=60, bframes=2)
    subprocess.run([ffmpeg_exe(), '-nostdin', '-v', 'error', '-i', str(work/'yt'/'moov-last.mp4'), '-c', 'copy', '-movflags', '+faststart',
                    str(work/'yt'/f"{vid}.mp4")], check=True)                  # the index first, as YouTube's files have it
    (work/'yt'/'moov-last.mp4').unlink()
    total = (work/'yt'/f"{vid}.mp4").stat().st_size
    starts = [int(seconds * (k + 0.5) / n) - 5 for k in range(n)]
    print(f"\na video of {seconds:g} s at {size[0]}x{size[1]} ({total / 2**20:.1f} MB, made in {time.perf_counter() - t:.0f} s); "
          f"{n} clips of 10 s at {', '.join(f'{s} s' for s in starts)}")
    srv = VideoServer(work/'yt', Counting); srv.sent = 0
    out = {}
    with srv:
        srv.sent, t = 0, time.perf_counter()
        for k, s0 in enumerate(starts):                      # the old crawler: the whole video, then a cut from it
            with urllib.request.urlopen(srv.url_template.format(id=vid)) as r, open(work/'whole.mp4', 'wb') as f: shutil.copyfileobj(r, f, 1 << 20)
            d = work/'old'/str(k); d.mkdir(parents=True)
            subprocess.run([ffmpeg_exe(), '-nostdin', '-v', 'error', '-ss', str(s0), '-t', '10', '-i', str(work/'whole.mp4'),
                            '-vf', scale_filter(256), '-q:v', '2', str(d/'img_%05d.jpg')], check=True)
            (work/'whole.mp4').unlink()
        out['old'] = (srv.sent, time.perf_counter() - t, images(work/'old'), len(srv.requests))
        srv.sent, t, asked = 0, time.perf_counter(), len(srv.requests)
        clips = [KineticsClip(vid, s0, s0 + 10, 'train', 'x') for s0 in starts]
        with connect(None, 1) as run:
            rows = fetch_sections(work/'this', clips, run, dl=DownloadOptions(url_template=srv.url_template), progress=False)
        assert all(r['status'] == 'ok' for r in rows.values()), rows
        out['this'] = (srv.sent, time.perf_counter() - t, images(work/'this'/'rawframes'), len(srv.requests) - asked)
    print('| clips from a long video | bytes sent a clip | of the video | requests a clip | s a clip (loopback) | images |')
    print('|---|---|---|---|---|---|')
    for name, (sent, wall, imgs, asked) in out.items():
        print(f"| {name} | {sent / n / 2**20:.2f} MB | {sent / n / total:.3f} | {asked / n:.1f} | {wall / n:.3f} | {imgs} |")

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--clips', type=int, default=48); ap.add_argument('--seconds', type=float, default=10)
    ap.add_argument('--size', default='640x360'); ap.add_argument('--per-shard', type=int, default=8)
    ap.add_argument('-j', type=int, nargs='+', default=[1, 2]); ap.add_argument('--keep')
    ap.add_argument('--noise', type=int, default=3, help='grain over the picture, so that clips weigh what real ones do (default: %(default)s)')
    ap.add_argument('--video-seconds', type=float, default=300); ap.add_argument('--sections', type=int, default=3)
    ap.add_argument('--rates', type=float, nargs='+', default=[0, 25, 10],
                    help='MB/s the mirror gives each connection, 0: loopback at full speed (default: %(default)s)')
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
    for rate in a.rates:
        srv = VideoServer(work/'mirror'/'mirror', throttled(MirrorHandler, rate * 2**20) if rate else MirrorHandler)
        srv.base = f"http://127.0.0.1:{srv.server_address[1]}"
        with srv:
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
                rows.append((rate, j, got))
    print('| mirror, a connection | workers | recipe s | this s | speed-up | recipe peak MB | this peak MB | disk ratio | images |')
    print('|---|---|---|---|---|---|---|---|---|')
    for rate, j, g in rows:
        (rw, rd, n), (tw, td, _) = g['recipe'], g['this']
        print(f"| {f'{rate:g} MB/s' if rate else 'loopback'} | {j} | {rw:.1f} | {tw:.1f} | {rw / tw:.2f}x | {rd / 2**20:.1f} | "
              f"{td / 2**20:.1f} | {td / rd:.2f} | {n} |")
    rows = [(j, g) for rate, j, g in rows if rate == a.rates[0]]
    n = rows[-1][1]['this'][2]
    print(f"\nper clip (this, {rows[-1][0]} workers): {rows[-1][1]['this'][0] / len(desc['clips']):.3f} s; "
          f"frames on disk {rows[-1][1]['this'][1] / len(desc['clips']) / 2**20:.2f} MB a clip of {a.seconds:g} s")
    if a.sections: sections(work/'sections', a.video_seconds, a.sections, size, a.noise)
    if not a.keep: shutil.rmtree(work, ignore_errors=True)
    else: print(f"files in {work}")

if __name__ == '__main__': main()
