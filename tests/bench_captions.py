"""Benchmark: hiding captions of the gloss (issue 11), measured in one run on this machine.

Not part of the test run. `python tests/bench_captions.py [-n VIDEOS] [--seed S] [-j WORKERS] [--fill blur] [--keep DIR]`

Makes two samples with `make_sample` from the same seed: one with the words of the signs burned in (`captions=True`)
and one without. Extracts each twice with the console command, without and with `--hide-captions`, and reports:

  leakage    share of clips whose written crops still let the OCR read the gloss (`checks.readable_gloss`: every
             eighth image and the middle of the sign), without hiding (the baseline) and with it (goal 0);
  precision  PSNR of the annotation (signer) box region of every crop image with hiding against the same image
             without, over all frames of all clips (goal: at least 35 dB everywhere), and the clips whose hidden
             boxes touch the signer box; in gloss mode the channel watermark is never hidden;
  cost       extraction wall time with hiding against without, on the captioned and the caption-free sample,
             as seconds added per clip and as a ratio (goal: at most 0.3 s a clip at 640x360 on 2 cores).
"""
import argparse, json, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np
from PIL import Image

def extract(sample, out, workers, *extra):
    t0 = time.perf_counter()
    res = subprocess.run(['msasl-extract-frames', '-s', *[str(sample/f'MSASL_{s}.json') for s in ('train', 'val', 'test')],
                          '-v', str(sample/'videos'), '-o', str(out), '-q', '-j', str(workers), *extra], capture_output=True, text=True)
    if res.returncode: sys.exit(f"extraction failed: {res.stderr}")
    return time.perf_counter() - t0

def ok_rows(out): return [r for r in map(json.loads, (out/'extract_report.jsonl').read_text().splitlines()) if r['status'] == 'ok']

def signer_psnr(row, a, b):
    "Lowest PSNR over the clip's frames of the signer box region, `b` (hidden) against `a` (plain)"
    x0,y0,x1,y1 = row['crop']; W,H = 256, 300
    ymin,xmin,ymax,xmax = row['box']; w,h = row['size_video'].split('x'); w,h = int(w),int(h)
    sx,sy = W / (x1 - x0),H / (y1 - y0)
    c0,r0 = max(0, int((xmin * w - x0) * sx)),max(0, int((ymin * h - y0) * sy))
    c1,r1 = min(W, int((xmax * w - x0) * sx)),min(H, int((ymax * h - y0) * sy))
    worst = float('inf')
    for p in sorted((a/'global_crops'/row['clip']).glob('img_*.jpg')):
        A = np.asarray(Image.open(p).convert('RGB'), dtype=np.float64)[r0:r1, c0:c1]
        B = np.asarray(Image.open(b/'global_crops'/row['clip']/p.name).convert('RGB'), dtype=np.float64)[r0:r1, c0:c1]
        mse = np.mean((A - B) ** 2)
        worst = min(worst, float('inf') if mse == 0 else 10 * np.log10(255 ** 2 / mse))
    return worst

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('-n', type=int, default=12); ap.add_argument('--seed', type=int, default=7)
    ap.add_argument('-j', type=int, default=2); ap.add_argument('--fill', default='blur'); ap.add_argument('--keep')
    a = ap.parse_args()
    from msasl_prep.sample import make_sample
    from msasl_prep.checks import readable_gloss
    from msasl_prep.captions import normalize
    root = Path(a.keep or tempfile.mkdtemp(prefix='bench_captions_'))
    make_sample(root/'cap', n_videos=a.n, seed=a.seed, progress=False, captions=True)
    make_sample(root/'plain', n_videos=a.n, seed=a.seed, progress=False)
    times = {}
    for name in ('cap', 'plain'):
        times[name, 'off'] = extract(root/name, root/f'{name}_off', a.j)
        times[name, 'on'] = extract(root/name, root/f'{name}_on', a.j, '--hide-captions', '--caption-fill', a.fill)
    on,off = {r['clip']: r for r in ok_rows(root/'cap_on')},{r['clip']: r for r in ok_rows(root/'cap_off')}
    leak_off = {c for c,r in on.items() if readable_gloss(r, root/'cap_off')}
    leak_on = {c for c,r in on.items() if readable_gloss(r, root/'cap_on')}
    psnrs = {c: signer_psnr(r, root/'cap_off', root/'cap_on') for c,r in on.items()}
    touching = [c for c,r in on.items() if any(h['overlaps_signer'] for h in r['captions']['hidden'])]
    wm_seen = sum(any(normalize(t) == 'asl tv' for f in r['captions']['found'] for t in f['texts']) for r in on.values())
    wm_hidden = sum(any(normalize(h['text']) == 'asl tv' for h in r['captions']['hidden']) for r in on.values())
    n = len(on); n_plain = len(ok_rows(root/'plain_on'))
    small = [r for r in on.values() if r['size_video'] == '640x360']
    print(f"{n} clips on the captioned sample ({len(small)} at 640x360), {n_plain} on the caption-free one; fill {a.fill}; {a.j} workers\n")
    print("| measure | without --hide-captions | with |\n|---|---|---|")
    print(f"| clips whose crops let the OCR read the gloss | {len(leak_off)} / {n} ({len(leak_off) / n:.0%}) | {len(leak_on)} / {n} ({len(leak_on) / n:.0%}) |")
    finite = [p for p in psnrs.values() if p != float('inf')]
    print(f"| signer box PSNR, lowest over all frames | - | {min(finite):.1f} dB ({sum(p >= 35 for p in psnrs.values())} of {n} clips at 35 dB or more; {n - len(finite)} unchanged) |")
    print(f"| clips whose hidden box touches the signer box | - | {len(touching)} |")
    print(f"| clips where the watermark was read / hidden | - | {wm_seen} / {wm_hidden} |\n")
    print("| sample | without s | with s | added s per clip | ratio |\n|---|---|---|---|---|")
    for name,clips in (('captioned', n), ('caption-free', n_plain)):
        k = 'cap' if name == 'captioned' else 'plain'
        print(f"| {name} | {times[k, 'off']:.1f} | {times[k, 'on']:.1f} | {(times[k, 'on'] - times[k, 'off']) / clips:.3f} | {times[k, 'on'] / times[k, 'off']:.1f}x |")
    if leak_on: print('\nstill readable:', sorted(leak_on))
    low = sorted((p, c) for c,p in psnrs.items() if p < 35)
    if low: print('below 35 dB:', [(c, round(p, 1)) for p,c in low])
    print(f"\nfiles in {root}")

if __name__ == '__main__': main()
