"""Benchmark: downloads across Dask worker processes when the source limits each client address, as YouTube does.

Not part of the test run. `python tests/bench_scale.py [--videos 2000] [--rate 240] [--workers 1 2 4]`

A loopback server serves one tiny real video (16 frames of 64x64 H.264) under `--videos` ids and allows each client
address `--rate` new videos a minute; beyond that it answers HTTP 429. For each worker count N, a `LocalCluster` of N
worker processes downloads all the ids with `download_videos(..., cluster=...)`, the workers sending from the addresses
127.0.0.2 .. 127.0.0.(N+1) (`source_address`: one address, and so one budget, each), paced at 95% of the server's rate
(`max_per_hour`), each video fetched, decoded and validated as in a real run. Reported: videos a minute, the 429s
answered, and the rise against one worker. Then the scheduler's own cost: 2,000 no-op tasks through the same cluster,
against calling the function directly, in ms per task.
"""
import argparse, http.server, json, os, re, subprocess, sys, tempfile, threading, time
from collections import defaultdict, deque
from pathlib import Path

def tiny_video(path):
    from msasl_prep.video import run_ffmpeg
    run_ffmpeg(['-nostdin', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=64x64:rate=25', '-frames:v', '16', '-c:v', 'libx264',
                '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', str(path)], check=True)

class LimitedServer(http.server.ThreadingHTTPServer):
    "Serves one file as /<id>.mp4 and allows each client address `rate` new videos a minute (HTTP 429 beyond)"
    daemon_threads = True
    def __init__(self, data:bytes, rate:int):
        super().__init__(('127.0.0.1', 0), Handler)
        self.data,self.rate,self.lock = data,rate,threading.Lock()
        self.seen,self.window,self.refused = defaultdict(set),defaultdict(deque),0
    def allow(self, client:str, vid:str)->bool:
        with self.lock:
            if vid in self.seen[client]: return True          # the rest of a video already let through (ranges, retries)
            now,w = time.monotonic(),self.window[client]
            while w and w[0] < now - 60: w.popleft()
            if len(w) >= self.rate: self.refused += 1; return False
            w.append(now); self.seen[client].add(vid); return True
    def handle_error(self, request, client_address): pass

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def log_message(self, *a): pass
    def do_GET(self):
        vid = self.path.strip('/').removesuffix('.mp4')
        if not self.server.allow(self.client_address[0], vid):
            self.send_response(429); self.send_header('Content-Length', '0'); self.end_headers(); return
        data = self.server.data; start,end = 0,len(data) - 1
        m = re.fullmatch(r'bytes=(\d+)-(\d*)', self.headers.get('Range', ''))
        if m:
            start = int(m[1]); end = min(int(m[2] or end), end)
            self.send_response(206); self.send_header('Content-Range', f"bytes {start}-{end}/{len(data)}")
        else: self.send_response(200)
        self.send_header('Content-Type', 'video/mp4'); self.send_header('Accept-Ranges', 'bytes')
        self.send_header('Content-Length', str(end - start + 1)); self.end_headers()
        if self.command == 'GET': self.wfile.write(data[start:end + 1])
    do_HEAD = do_GET

def wanted(n:int):
    from msasl_prep.annotations import parse_record
    from msasl_prep.wants import wanted_videos
    alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    ids = [''.join(alphabet[(i // 64**k) % 64] for k in range(10, -1, -1)) for i in range(n)]
    ids = ['b' + v[1:] for v in ids]                            # none starts with '-'
    recs = [parse_record(dict(url=f"https://www.youtube.com/watch?v={v}", start=2, end=12, fps=25.0, width=64.0, height=64.0,
                              box=[0.1, 0.1, 0.9, 0.9], label=0), 1000, 'train') for v in ids]
    return wanted_videos(recs)

def download_run(workers:int, want:list, server, folder:Path, rate:int)->dict:
    from msasl_prep.cluster import connect
    from msasl_prep.wants import DownloadOptions
    from msasl_prep.download import download_videos
    opts = DownloadOptions(url_template=f"http://127.0.0.1:{server.server_address[1]}/{{id}}.mp4", retries=20, backoff=0.2, pause=2.0,
                           max_per_hour=rate * 60 * 0.95, source_address=tuple(f"127.0.0.{2 + i}" for i in range(workers)))
    refused0 = server.refused
    with connect(f"local:{workers}", progress=False) as runner:
        t0 = time.perf_counter()
        s = download_videos(want, folder, opts, progress=False, runner=runner)
        wall = time.perf_counter() - t0
    return dict(workers=workers, videos=len(want), ok=s['status'].get('ok', 0), wall=wall, per_min=len(want) / wall * 60,
                refused=server.refused - refused0)

def _noop(x): return x

def overhead(tasks:int=2000)->dict:
    from msasl_prep.cluster import connect
    with connect('local:2', progress=False) as runner:
        list(runner.map(_noop, {i: (i,) for i in range(50)}))           # warm up
        t0 = time.perf_counter(); got = list(runner.map(_noop, {i: (i,) for i in range(tasks)})); t = time.perf_counter() - t0
    t1 = time.perf_counter(); [_noop(i) for i in range(tasks)]; direct = time.perf_counter() - t1
    assert len(got) == tasks
    return dict(tasks=tasks, wall=t, ms_per_task=t / tasks * 1000, direct_ms=direct / tasks * 1000)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--videos', type=int, default=2000)
    ap.add_argument('--rate', type=int, default=240, help='new videos a minute the server allows each client address')
    ap.add_argument('--workers', type=int, nargs='+', default=[1, 2, 4])
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d); tiny_video(d/'tiny.mp4')
        server = LimitedServer((d/'tiny.mp4').read_bytes(), a.rate)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        want = wanted(a.videos)
        rows = [download_run(n, want, server, d/f"videos-{n}", a.rate) for n in a.workers]
        server.shutdown()
    print(f"cores: {os.cpu_count()}; {a.videos} videos; the server allows each client address {a.rate} new videos a minute\n")
    print('| worker processes (one address each) | videos ok | wall s | videos / min | 429 answers | rise vs 1 worker | ideal |')
    print('|---|---|---|---|---|---|---|')
    base = rows[0]['per_min'] / rows[0]['workers']
    for r in rows:
        print(f"| {r['workers']} | {r['ok']} | {r['wall']:.0f} | {r['per_min']:.0f} | {r['refused']} | {r['per_min'] / base:.2f} | {r['workers']} |")
    o = overhead()
    print(f"\nscheduler overhead: {o['tasks']} no-op tasks on a local:2 cluster in {o['wall']:.2f} s = {o['ms_per_task']:.2f} ms a task "
          f"(calling the function directly: {o['direct_ms'] * 1000:.1f} us)")
    print(json.dumps(dict(rows=rows, overhead=o)))

if __name__ == '__main__': main()
