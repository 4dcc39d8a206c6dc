"""Benchmark: this downloader against one yt-dlp command-line process per video, on loopback.

Not part of the test run. `python tests/bench_download.py [N]` makes a dense sample of N short videos,
serves them from a real HTTP server on 127.0.0.1, and in one run on this machine downloads all of them
  (a) with `msasl_prep.download.download_videos` (yt-dlp Python API in one process, validation included),
      with 1 worker and with 3;
  (b) the way the original scripts work: one `yt-dlp` command-line process per video, one after another,
      no validation.
Per-video overhead is wall time / N (the files are small, so this is nearly all overhead). It also times
the validation of each file against one plain ffmpeg decode pass of it.
"""
import json, shutil, subprocess, sys, tempfile, time
from pathlib import Path
from msasl_prep.annotations import load_annotations
from msasl_prep.loopback import VideoServer
from msasl_prep.wants import DownloadOptions, wanted_videos, validate_video
from msasl_prep.download import download_videos
from msasl_prep.sample import make_sample
from msasl_prep.video import ffmpeg_exe

def main(n=40):
    root = Path(tempfile.mkdtemp(prefix='bench_download_'))
    make_sample(root/'s', n_videos=n, seed=5, layout='dense', progress=False)
    ann = load_annotations(root/'s'); wanted = wanted_videos(ann.records)
    rows = []
    with VideoServer(root/'s'/'videos') as srv:
        for workers in (1, 3):
            t = time.perf_counter()
            s = download_videos(wanted, root/f'ours{workers}', DownloadOptions(srv.url_template, workers=workers), progress=False)
            wall = time.perf_counter() - t
            assert s['status'] == {'ok': len(wanted)}, s
            rows.append((f'msasl-prep, Python API, {workers} worker(s), validated', wall))
        out = root/'cli'; out.mkdir()
        yt = shutil.which('yt-dlp') or [sys.executable, '-m', 'yt_dlp']
        t = time.perf_counter()
        for w in wanted:
            cmd = [*([yt] if isinstance(yt, str) else yt), '-q', '--no-warnings', '-f', 'mp4', '-o', str(out/f'{w.video_id}.%(ext)s'),
                   srv.url_template.format(id=w.video_id)]
            subprocess.run(cmd, check=True)
        rows.append(('yt-dlp command line, one process per video, not validated', time.perf_counter() - t))
    assert sorted(p.name for p in out.glob('*.mp4')) == sorted(p.name for p in (root/'ours1').glob('*.mp4'))
    base = rows[-1][1] / len(wanted)
    print(f"{len(wanted)} videos ({sum((root/'s'/'videos'/f'{w.video_id}.mp4').stat().st_size for w in wanted)/2**20:.1f} MB) on loopback\n")
    print("| method | wall s | per video s | per-video overhead vs CLI |\n|---|---|---|---|")
    for name, wall in rows: print(f"| {name} | {wall:.2f} | {wall/len(wanted):.3f} | {base/(wall/len(wanted)):.1f}x lower |")
    val, dec = 0.0, 0.0
    for w in wanted:
        p = root/'ours1'/f'{w.video_id}.mp4'
        t = time.perf_counter(); validate_video(p, w); val += time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run([ffmpeg_exe(), '-v', 'error', '-threads', '1', '-i', str(p), '-map', '0:v:0', '-f', 'null', '-'], check=True)
        dec += time.perf_counter() - t
    print(f"\nvalidation: {val/len(wanted)*1000:.1f} ms per video; one plain ffmpeg decode pass: {dec/len(wanted)*1000:.1f} ms "
          f"(ratio {val/dec:.2f})")
    shutil.rmtree(root)

if __name__ == '__main__': main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
