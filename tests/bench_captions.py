"""Benchmark: hiding captions of the gloss (issues 11 and 19), measured in one run on this machine.

Not part of the test run.
`python tests/bench_captions.py [-n VIDEOS] [--seed S] [-j WORKERS] [--fill blur] [--keep DIR | --samples DIR] [--recall]`

Makes two samples with `make_sample` from the same seed: one with the words of the signs burned in and the hard cases
(`captions=True`: captions the crop's edge cuts, a bar just above the head, a watermark inside the crops) and one without.
Extracts each twice with the console command, without and with `--hide-captions`, and reports:

  leakage    clips whose written crops still let the OCR read the gloss (`checks.readable_gloss`: every eighth image and
             the middle of the sign), without hiding (the baseline) and with it (goal 0);
  precision  PSNR of the annotation (signer) box region of every crop image with hiding against the same image without,
             over all frames of all clips (goal: unchanged outside the hidden boxes, at least 35 dB everywhere), the clips
             whose hidden boxes touch the signer box, and the watermark: read, and in gloss mode never hidden;
  frames     frames read per clip (the sign's middle alone where there is no text);
  cost       extraction wall time with hiding against without, on the captioned and the caption-free sample, as seconds
             added per clip and as a ratio (goal: at most 0.12 s a clip at 640x360 on 2 cores).

`--samples DIR` measures on the samples an earlier run kept (`--keep DIR`) without making them: to compare two versions
of the code on the same videos (e.g. `PYTHONPATH=<older checkout>`).

`--recall` measures instead how often the detector finds the burned-in captions (the sample's truth, `sample.json`) in the
frames of the sign that extraction reads, for PP-OCR's default thresholds at the clip's output size and at 1.5 times it,
and for `captions.find_text` as extraction calls it (sharpened, low thresholds, 0.85 of the output size).
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time
from collections import Counter
from pathlib import Path
import numpy as np
from PIL import Image

SPLITS = ('train', 'val', 'test')

def extract(sample, out, workers, *extra):
    t0 = time.perf_counter()
    res = subprocess.run(['msasl-extract-frames', '-s', *[str(sample/f'MSASL_{s}.json') for s in SPLITS],
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

def _overlap(a, b): return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))

def recall(sample):
    "Captions found in the sign frames extraction reads, by detector setting, against the sample's truth"
    os.environ.setdefault('ORT_DISABLE_TELEMETRY', '1')     # as msasl_prep.captions does
    from rapidocr import RapidOCR
    from msasl_prep.annotations import load_annotations
    from msasl_prep.video import index_video, frames_at
    from msasl_prep.clips import plan_video
    from msasl_prep.captions import find_text, sign_frames, CaptionOptions
    o = CaptionOptions()
    plain = RapidOCR(params={'Global.log_level': 'error', 'Global.use_cls': False, 'Det.limit_type': 'max', 'Det.limit_side_len': 1280,
                             'Det.unclip_ratio': 1.0, 'EngineConfig.onnxruntime.intra_op_num_threads': 1})
    def default(img, region, k):
        x0,y0,x1,y1 = region
        view = Image.fromarray(np.ascontiguousarray(img[y0:y1, x0:x1])).resize((round((x1 - x0) * k), round((y1 - y0) * k)), Image.BILINEAR)
        det = plain(np.ascontiguousarray(np.asarray(view)[..., ::-1]), use_det=True, use_cls=False, use_rec=False)
        return [] if det.boxes is None else [(x0 + q[:, 0].min() / k, y0 + q[:, 1].min() / k, x0 + q[:, 0].max() / k,
                                                y0 + q[:, 1].max() / k) for q in np.asarray(det.boxes)]
    ways = {'PP-OCR default, output size': lambda img, reg, k: default(img, reg, k),
            'PP-OCR default, 1.5x output size': lambda img, reg, k: default(img, reg, 1.5 * k),
            'find_text (sharpened, low thresholds, 0.85x)': lambda img, reg, k: find_text(img, reg, o.scale * k)}
    truth = json.loads((sample/'sample.json').read_text())['captions']
    ann = load_annotations(sample)
    found,total,missed = Counter(),0,{w: [] for w in ways}
    for vid,recs in ann.by_video().items():
        idx = index_video(sample/'videos'/f'{vid}.mp4')
        for p in plan_video(recs, idx.n_frames, idx.width, idx.height)[0]:
            frames = sign_frames(p, 3); imgs = frames_at(idx, frames)
            c = (max(0, p.crop[0]), max(0, p.crop[1]), min(idx.width, p.crop[2]), min(idx.height, p.crop[3]))
            mx,my = int(o.reach * (c[2] - c[0])),int(o.reach * (c[3] - c[1]))
            region = (max(0, c[0] - mx), max(0, c[1] - my), min(idx.width, c[2] + mx), min(idx.height, c[3] + my))
            k = 256 / (p.crop[2] - p.crop[0])
            for f in frames:
                for cap in truth.get(vid, {}).get('captions', []):
                    b = cap['box']
                    if not (cap['frames'][0] <= f <= cap['frames'][1] and _overlap(b, c)): continue
                    total += 1
                    for w,find in ways.items():
                        if sum(_overlap(b, d) for d in find(imgs[f], region, k)) >= 0.5 * _overlap(b, c): found[w] += 1
                        else: missed[w].append(f"{p.folder}@{f} {cap['word']}")
    print(f"captions shown over the crop in the sign frames read (3 a clip): {total}\n")
    print("| detector | found | missed |\n|---|---|---|")
    for w in ways: print(f"| {w} | {found[w]} / {total} | {', '.join(missed[w][:4])}{' ...' if len(missed[w]) > 4 else ''} |")

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('-n', type=int, default=12); ap.add_argument('--seed', type=int, default=7)
    ap.add_argument('-j', type=int, default=2); ap.add_argument('--fill', default='blur'); ap.add_argument('--keep')
    ap.add_argument('--samples', help='measure on the samples in DIR/cap and DIR/plain, kept by an earlier run')
    ap.add_argument('--recall', action='store_true', help="detector recall against the sample's truth instead of the timing")
    a = ap.parse_args()
    from msasl_prep.sample import make_sample
    from msasl_prep.checks import readable_gloss
    from msasl_prep.captions import normalize
    root = Path(a.samples or a.keep or tempfile.mkdtemp(prefix='bench_captions_'))
    if not a.samples: make_sample(root/'cap', n_videos=a.n, seed=a.seed, progress=False, captions=True)
    if a.recall: return recall(root/'cap')
    if not a.samples: make_sample(root/'plain', n_videos=a.n, seed=a.seed, progress=False)
    times = {}
    for name in ('cap', 'plain'):
        for old in ('off', 'on'): shutil.rmtree(root/f'{name}_{old}', ignore_errors=True)
        times[name, 'off'] = extract(root/name, root/f'{name}_off', a.j)
        times[name, 'on'] = extract(root/name, root/f'{name}_on', a.j, '--hide-captions', '--caption-fill', a.fill)
    on,off = {r['clip']: r for r in ok_rows(root/'cap_on')},{r['clip']: r for r in ok_rows(root/'cap_off')}
    plain_on = ok_rows(root/'plain_on')
    leak_off = {c for c,r in on.items() if readable_gloss(r, root/'cap_off')}
    leak_on = {c for c,r in on.items() if readable_gloss(r, root/'cap_on')}
    psnrs = {c: signer_psnr(r, root/'cap_off', root/'cap_on') for c,r in on.items()}
    touching = [c for c,r in on.items() if any(h['overlaps_signer'] for h in r['captions']['hidden'])]
    wm_seen = sum(any(normalize(t) == 'asl tv' for f in r['captions']['found'] for t in f['texts']) for r in on.values())
    wm_hidden = sum(any(normalize(h['text']) == 'asl tv' for h in r['captions']['hidden']) for r in on.values())
    n = len(on); n_plain = len(plain_on)
    small = [r for r in on.values() if r['size_video'] == '640x360']
    read = {k: [len(r['captions']['frames']) for r in rows] for k,rows in (('cap', on.values()), ('plain', plain_on))}
    print(f"{n} clips on the captioned sample ({len(small)} at 640x360), {n_plain} on the caption-free one; fill {a.fill}; {a.j} workers\n")
    print("| measure | without --hide-captions | with |\n|---|---|---|")
    print(f"| clips whose crops let the OCR read the gloss | {len(leak_off)} / {n} ({len(leak_off) / n:.0%}) | {len(leak_on)} / {n} ({len(leak_on) / n:.0%}) |")
    finite = [p for p in psnrs.values() if p != float('inf')]
    print(f"| signer box PSNR, lowest over all frames | - | {min(finite, default=float('inf')):.1f} dB ({sum(p >= 35 for p in psnrs.values())} of {n} clips at 35 dB or more; {n - len(finite)} unchanged) |")
    print(f"| clips whose hidden box touches the signer box | - | {len(touching)} |")
    print(f"| clips where the watermark was read / hidden | - | {wm_seen} / {wm_hidden} |\n")
    print("| sample | without s | with s | added s per clip | ratio | frames read per clip | clips read at one frame |\n|---|---|---|---|---|---|---|")
    for name,clips,k in (('captioned', n, 'cap'), ('caption-free', n_plain, 'plain')):
        print(f"| {name} | {times[k, 'off']:.1f} | {times[k, 'on']:.1f} | {(times[k, 'on'] - times[k, 'off']) / clips:.3f} | "
              f"{times[k, 'on'] / times[k, 'off']:.1f}x | {np.mean(read[k]):.2f} | {sum(x == 1 for x in read[k])} / {clips} |")
    if leak_on: print('\nstill readable:', sorted(leak_on))
    low = sorted((p, c) for c,p in psnrs.items() if p < 35)
    if low: print('below 35 dB:', [(c, round(float(p), 1)) for p,c in low])
    print(f"\nfiles in {root}")

if __name__ == '__main__': main()
