"""Benchmark: the engine's cost per clip as the work grows (Kinetics from a loopback mirror, threads and Dask).

Not part of the test run: `python tests/bench_engine.py [--sizes 1000 5000 20000] [--modes threads dask] [--per-shard 100]`
prints a table.

For each size N it writes N train rows (10 classes) and N/100 shards of 100 clips, every member the same tiny H.264
clip (8 frames of 64x48 at 25 fps), serves them on 127.0.0.1 (`kinetics.sample.MirrorServer`), and prepares them from
an empty DATA_DIR with `msasl-kinetics -j 2` (threads) and with `--dask local:2` (two worker processes), each its own
process. The ffmpeg work of one clip is measured apart: the same clip cut to JPEGs at short side 256 by one ffmpeg, 40
times in a row. Reported per size and mode: the wall time, the wall time a clip, the overhead a clip (wall time a clip
less the ffmpeg time a clip shared by the 2 workers), the peak memory of the largest process of the run (the driver,
or a Dask worker), and the ledgers' sizes. The goal: overhead a clip and memory do not grow with N (within 20% from the
smallest size to the largest).
"""
import argparse, io, json, shutil, subprocess, sys, tarfile, tempfile, time
from pathlib import Path
from bench_plan import measured
from msasl_prep.kinetics.frames import scale_filter
from msasl_prep.kinetics.sample import MirrorServer
from msasl_prep.video import ffmpeg_exe, run_ffmpeg

def tiny_clip(path:Path)->bytes:
    run_ffmpeg(['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=25', '-frames:v', '8',
                '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', str(path)], check=True)
    return path.read_bytes()

def ffmpeg_seconds(clip:Path, out:Path, times:int=40)->float:
    "Seconds one ffmpeg takes to cut `clip` to JPEGs at short side 256, run after run"
    t = time.perf_counter()
    for i in range(times):
        d = out/f"c{i}"; d.mkdir(parents=True)
        subprocess.run([ffmpeg_exe(), '-nostdin', '-v', 'error', '-i', str(clip), '-vf', scale_filter(256), '-q:v', '2',
                        str(d/'img_%05d.jpg')], check=True)
    return (time.perf_counter() - t) / times

def mirror(folder:Path, n:int, per_shard:int, data:bytes)->Path:
    "`folder/annotations/train.csv` of n clips and `folder/mirror/train/*.tar.gz`, per_shard clips a shard"
    (folder/'annotations').mkdir(parents=True); (folder/'mirror'/'train').mkdir(parents=True)
    names = [(f"class{i % 10}", f"{i:011d}"[-11:].replace('0', 'a', 1), 0, 10) for i in range(n)]
    with open(folder/'annotations'/'train.csv', 'w') as f:
        f.write('label,youtube_id,time_start,time_end,split\n')
        for label,vid,s,e in names: f.write(f"{label},{vid},{s},{e},train\n")
    shards = []
    for k in range(0, n, per_shard):
        shard = f"part_{k // per_shard:05d}.tar.gz"
        with tarfile.open(folder/'mirror'/'train'/shard, 'w:gz', compresslevel=1) as tar:
            for label,vid,s,e in names[k:k + per_shard]:
                info = tarfile.TarInfo(f"train/{label}/{vid}_{s:06d}_{e:06d}.mp4"); info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        shards.append(shard)
    return folder

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--sizes', type=int, nargs='+', default=[1000, 5000, 20000])
    p.add_argument('--modes', nargs='+', choices=('threads', 'dask'), default=['threads', 'dask'])
    p.add_argument('--per-shard', type=int, default=100)
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix='bench-engine-'))
    try:
        data = tiny_clip(work/'clip.mp4')
        f = ffmpeg_seconds(work/'clip.mp4', work/'ff')
        print(f"one clip: {len(data)} bytes, 8 frames; ffmpeg alone: {f * 1000:.1f} ms a clip", flush=True)
        rows = []
        for n in a.sizes:
            m = mirror(work/f"m{n}", n, a.per_shard, data)
            with MirrorServer(m) as srv:
                (m/'list.txt').write_text(''.join(f"{srv.base}/train/{s.name}\n" for s in sorted((m/'mirror'/'train').iterdir())))
                for mode in a.modes:
                    out = work/f"d{n}{mode}"
                    extra = ['--dask', 'local:2'] if mode == 'dask' else []
                    t,mb,code = measured(['msasl-kinetics', str(out), '--annotation', str(m/'annotations'), '--shard-lists',
                                          str(m/'list.txt'), '-j', '2', '-q', '--splits', 'train', *extra])
                    k = out/'kinetics700'
                    made = len((k/'train10.txt').read_text().splitlines()) if (k/'train10.txt').exists() else 0
                    assert code == 0 and made == n, (n, mode, code, made)
                    sizes = {x: (k/x).stat().st_size for x in ('shards.jsonl', 'kinetics_report.jsonl')}
                    rows.append((n, mode, t, t / n, t / n - f / 2, mb, sizes))
                    print(f"{n} clips, {mode}: {t:.1f} s, {t / n * 1000:.1f} ms a clip, peak {mb:.0f} MB", flush=True)
                    shutil.rmtree(out)
            shutil.rmtree(m)
        print(f"\nffmpeg alone: {f * 1000:.1f} ms a clip, so {f / 2 * 1000:.1f} ms a clip on 2 workers\n")
        print('| clips | runner | wall (s) | ms a clip | overhead ms a clip | peak MB | shards.jsonl KB | report KB |')
        print('|---|---|---|---|---|---|---|---|')
        for n,mode,t,per,over,mb,sz in rows:
            print(f"| {n:,} | {mode} | {t:.1f} | {per * 1000:.1f} | {over * 1000:.1f} | {mb:.0f} | "
                  f"{sz['shards.jsonl'] / 1024:.0f} | {sz['kinetics_report.jsonl'] / 1024:.0f} |")
    finally: shutil.rmtree(work, ignore_errors=True)

if __name__ == '__main__': main()
