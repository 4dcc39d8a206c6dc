"""Benchmark: the MS-ASL download and extraction drivers' cost per video as the work grows (loopback, threads and Dask).

Not part of the test run: `python tests/bench_msasl.py [--sizes 1000 5000 25000] [--modes threads dask]
[--per-video 2]` prints a table.

For each size N it writes an annotation of N records (the real release's shares: 63% train, 21% val, 16% test; 1000
classes), `--per-video` records a video, so N / 2 videos by default (25,000 records is the whole release, 25,513), and
serves every video id on 127.0.0.1 as the same tiny H.264 video (16 frames of 64x48 at 25 fps; each record a 5-frame
sign in it). From an empty DATA_DIR it runs `msasl-download-videos -j 2` and then `msasl-extract-frames -j 2` (threads),
and the same two with `--dask local:2` (two worker processes), each command its own process.

The ffmpeg work of one video is measured apart, in this process, by timing every ffmpeg the stage itself starts for 40
videos one after the other: the download's validation (one full decode pass) and the extraction's packet index and
decode-crop-scale-JPEG pass. Reported per size, stage and runner: the wall time, the wall time a video, the overhead a
video (wall time a video less the ffmpeg time a video shared by the 2 workers), the peak memory of the largest process
of the run (the driver, a Dask worker or an ffmpeg), and the ledger's size (`manifest.jsonl`, `extract_report.jsonl`).
The goal: overhead a video and memory do not grow with N (within 20% from the smallest size to the largest).
"""
import argparse, json, shutil, subprocess, sys, tempfile, time
from pathlib import Path
from bench_plan import measured
from msasl_prep.loopback import VideoRequestHandler, VideoServer
from msasl_prep.video import run_ffmpeg

SHARES = (('train', 0.63), ('val', 0.21), ('test', 0.16))
FRAMES, FPS, W, H = 16, 25.0, 64, 48

def tiny_video(path:Path)->bytes:
    run_ffmpeg(['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', f'testsrc2=size={W}x{H}:rate={FPS:g}',
                '-frames:v', str(FRAMES), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', str(path)],
               check=True)
    return path.read_bytes()

def video_id(i:int)->str: return f"v{i:010d}"

def record(i:int, per_video:int)->dict:
    "The i-th record: a 5-frame sign of class i % 1000 in video i // per_video"
    k = i % per_video
    start = 1 + 5 * k % (FRAMES - 6); end = start + 4
    gloss = f"sign{i % 1000:03d}"
    return dict(org_text=gloss, clean_text=gloss, start_time=round(start / FPS, 3), signer_id=i % 250, signer=i % 100,
                start=start, end=end, file=f"video {i // per_video}", label=i % 1000, height=float(H), fps=FPS,
                end_time=round(end / FPS, 3), url=f"https://www.youtube.com/watch?v={video_id(i // per_video)}",
                text=gloss, box=[0.1, 0.2, 0.9, 0.8], width=float(W))

def annotation(folder:Path, n:int, per_video:int)->list:
    "The five annotation files of n records in `folder`; the split files' paths"
    folder.mkdir(parents=True)
    (folder/'MSASL_classes.json').write_text(json.dumps([f"sign{i:03d}" for i in range(1000)]))
    (folder/'MSASL_synonym.json').write_text('[]')
    paths, at = [], 0
    for j,(split,share) in enumerate(SHARES):
        # a video's records stay in one split
        upto = n if j == len(SHARES) - 1 else at + round(n * share / per_video) * per_video
        p = folder/f"MSASL_{split}.json"
        p.write_text(json.dumps([record(i, per_video) for i in range(at, upto)]))
        paths.append(p); at = upto
    return paths

class OneVideo(VideoRequestHandler):
    "Serves the same video under every id"
    def respond(self, video_id:str): self.send_file(Path(), self.server.data)

def timed_ffmpeg(fn)->float:
    "Seconds `fn()` spends waiting for the ffmpeg processes it starts"
    import msasl_prep.video as video
    spent, run = [0.0], video.subprocess.run
    def timing(*a, **k):
        t = time.perf_counter()
        try: return run(*a, **k)
        finally: spent[0] += time.perf_counter() - t
    video.subprocess.run = timing
    try: fn()
    finally: video.subprocess.run = run
    return spent[0]

def ffmpeg_seconds(clip:Path, work:Path, per_video:int, times:int=40)->dict:
    "The ffmpeg seconds a video of each stage, the stage's own calls timed over `times` videos"
    from msasl_prep.annotations import load_annotations
    from msasl_prep.frames import ExtractOptions, extract_video
    from msasl_prep.wants import validate_video, wanted_videos
    ann_dir = work/'one'
    annotation(ann_dir, times * per_video, per_video)
    ann = load_annotations(ann_dir)
    wanted = wanted_videos(ann.records)[:times]
    videos = work/'one-videos'; videos.mkdir()
    for w in wanted: shutil.copy(clip, videos/f"{w.video_id}.mp4")
    down = timed_ffmpeg(lambda: [validate_video(videos/f"{w.video_id}.mp4", w) for w in wanted])
    by = {}
    for r in ann.records: by.setdefault(r.video_id, []).append(r)
    crops = work/'one-crops'
    cut = timed_ffmpeg(lambda: [extract_video(v, by[v], videos, crops, ExtractOptions()) for v in list(by)[:times]])
    return dict(download=down / times, extract=cut / times)

def run_stage(stage:str, mode:str, paths:list, data:Path, url:str)->tuple:
    extra = ['--dask', 'local:2'] if mode == 'dask' else []
    srcs = ['-s', *map(str, paths)]
    if stage == 'download':
        cmd = ['msasl-download-videos', *srcs, '-v', str(data/'videos'), '-j', '2', '--url-template', url, '-q', *extra]
        ledger = data/'videos'/'manifest.jsonl'
    else:
        cmd = ['msasl-extract-frames', *srcs, '-v', str(data/'videos'), '-o', str(data/'msasl'), '-j', '2', '-q', *extra]
        ledger = data/'msasl'/'extract_report.jsonl'
    t,mb,code = measured(cmd)
    assert code == 0, (stage, mode, code, ' '.join(cmd))
    return t, mb, ledger.stat().st_size

def check(stage:str, data:Path, videos:int, n:int):
    "Every video fetched, every record's clip made"
    if stage == 'download':
        assert sum(1 for p in (data/'videos').glob('*.mp4')) == videos
    else:
        made = sum(len((data/'msasl'/f"{s}.txt").read_text().splitlines()) for s,_ in SHARES)
        assert made == n, (made, n)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--sizes', type=int, nargs='+', default=[1000, 5000, 25000])
    p.add_argument('--modes', nargs='+', choices=('threads', 'dask'), default=['threads', 'dask'])
    p.add_argument('--per-video', type=int, default=2, choices=(1, 2))
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix='bench-msasl-'))
    try:
        data = tiny_video(work/'clip.mp4')
        f = ffmpeg_seconds(work/'clip.mp4', work, a.per_video)
        print(f"one video: {len(data)} bytes, {FRAMES} frames, {a.per_video} records; ffmpeg alone a video: "
              f"download {f['download'] * 1000:.1f} ms, extraction {f['extract'] * 1000:.1f} ms", flush=True)
        rows = []
        for n in a.sizes:
            paths = annotation(work/f"a{n}", n, a.per_video)
            videos = -(-n // a.per_video)
            with VideoServer(work, OneVideo) as srv:
                srv.data = data
                for mode in a.modes:
                    out = work/f"d{n}{mode}"
                    for stage in ('download', 'extract'):
                        t,mb,size = run_stage(stage, mode, paths, out, srv.url_template)
                        check(stage, out, videos, n)
                        rows.append((n, videos, stage, mode, t, t / videos, t / videos - f[stage] / 2, mb, size))
                        print(f"{n} records, {stage}, {mode}: {t:.1f} s, {t / videos * 1000:.1f} ms a video, "
                              f"peak {mb:.0f} MB", flush=True)
                        srv.requests.clear()
                    shutil.rmtree(out)
            shutil.rmtree(work/f"a{n}")
        print(f"\nffmpeg alone a video: download {f['download'] * 1000:.1f} ms, extraction {f['extract'] * 1000:.1f} ms "
              f"(half of it a video on 2 workers)\n")
        print('| records | videos | stage | runner | wall (s) | ms a video | overhead ms a video | peak MB | ledger KB |')
        print('|---|---|---|---|---|---|---|---|---|')
        for n,v,stage,mode,t,per,over,mb,size in rows:
            print(f"| {n:,} | {v:,} | {stage} | {mode} | {t:.1f} | {per * 1000:.1f} | {over * 1000:.1f} | {mb:.0f} | "
                  f"{size / 1024:.0f} |")
    finally: shutil.rmtree(work, ignore_errors=True)

if __name__ == '__main__': main()
