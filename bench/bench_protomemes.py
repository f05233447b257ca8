"""Protomeme clustering at the paper's size, and how close the scalable method is to exact Ward.

(1) Cluster n = 344,695 synthetic features (d = 1,280, float32, L2-normalised: six broad groups of 40 sub-modes each,
    group shares from the paper's Table 1, spread 2) into k = 6 with the micro-cluster method; wall time, peak memory.
(2) At 20,000 points of the same kind: exact Ward vs the micro-cluster method (adjusted Rand index, ARI), the time of
    each, and a noise floor: exact Ward on a random 90% of the points against exact Ward on all of them (Ward's own
    sensitivity to a small change in the data; an ARI of the micro method near it means the summary costs no more
    than resampling does). Done at spread 2 (the data of part 1) and spread 3 (groups overlap: Ward itself unstable).
    "Spread" s sets both `group_spread` and `mode_spread` of `memeclust.protomemes.sphere_mixture`.

Each part runs in a fresh process, so each peak memory (ru_maxrss, which includes the features themselves) is its own.

usage: python bench/bench_protomemes.py [--n 344695] [--d 1280] [--exact-n 20000] [--n-micro 2000] [--skip-exact]
"""
import argparse, multiprocessing as mp, os, platform, resource, time
from concurrent.futures import ProcessPoolExecutor

MODES = 40


def data(n, d, spread, seed):
    from memeclust.protomemes import sphere_mixture
    return sphere_mixture(n, d, modes=MODES, group_spread=spread, mode_spread=spread, seed=seed)


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


def big_run(n, d, spread, k, n_micro, niter, mppc, seed):
    from sklearn.metrics import adjusted_rand_score
    from memeclust.protomemes import fit_protomemes
    t0 = time.perf_counter(); X, group, _ = data(n, d, spread, seed); gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pm = fit_protomemes(X, k=k, method="micro", n_micro=n_micro, niter=niter, max_points_per_centroid=mppc, seed=seed)
    fit_s = time.perf_counter() - t0
    return dict(gen_s=gen_s, fit_s=fit_s, peak_gb=_peak_gb(), features_gb=X.nbytes / 1024**3, units=pm.n_units,
                shares=(pm.sizes / n).round(4).tolist(), ari_groups=adjusted_rand_score(group, pm.labels))


def compare_run(n, d, spread, k, n_micros, niter, mppc, seed):
    import numpy as np
    from sklearn.metrics import adjusted_rand_score as ari
    from memeclust.protomemes import fit_protomemes
    X, group, _ = data(n, d, spread, seed + 1)
    t0 = time.perf_counter(); exact = fit_protomemes(X, k=k, method="exact"); exact_s = time.perf_counter() - t0
    out = dict(exact_s=exact_s, exact_ari_groups=ari(group, exact.labels), micro={})
    for m in n_micros:
        t0 = time.perf_counter()
        pm = fit_protomemes(X, k=k, method="micro", n_micro=m, niter=niter, max_points_per_centroid=mppc, seed=seed)
        out["micro"][m] = dict(s=time.perf_counter() - t0, ari_exact=ari(exact.labels, pm.labels), ari_groups=ari(group, pm.labels))
    idx = np.sort(np.random.default_rng(seed).choice(n, int(0.9 * n), replace=False))
    out["floor"] = ari(exact.labels[idx], fit_protomemes(X[idx], k=k, method="exact").labels)
    out["peak_gb"] = _peak_gb()
    return out


def in_child(fn, *args):
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as ex: return ex.submit(fn, *args).result()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=344_695, help="memes in the large run (paper: 344,695)")
    p.add_argument("--d", type=int, default=1280, help="feature dimensions")
    p.add_argument("--k", type=int, default=6)
    p.add_argument("--n-micro", type=int, default=2000, help="micro-clusters (M)")
    p.add_argument("--niter", type=int, default=20, help="k-means iterations")
    p.add_argument("--mppc", type=int, default=64, help="k-means training points per micro-cluster")
    p.add_argument("--exact-n", type=int, default=20_000, help="points in the exact-vs-micro comparison")
    p.add_argument("--spread", type=float, default=2.0, help="group and mode spread of the large run's data")
    p.add_argument("--compare-spreads", default="2,3", help="data spreads of the exact-vs-micro comparisons")
    p.add_argument("--compare-micro", default="500,1000,2000,4000", help="micro-cluster counts tried against exact Ward")
    p.add_argument("--skip-exact", action="store_true", help="only the large run")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    n_micros = [int(x) for x in a.compare_micro.split(",")]
    spreads = [] if a.skip_exact else [float(x) for x in a.compare_spreads.split(",")]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; {MODES} modes per group", flush=True)
    big = in_child(big_run, a.n, a.d, a.spread, a.k, a.n_micro, a.niter, a.mppc, a.seed)
    print(f"large run done: {big}", flush=True)
    cmps = {}
    for sp in spreads:
        cmps[sp] = in_child(compare_run, a.exact_n, a.d, sp, a.k, n_micros, a.niter, a.mppc, a.seed)
        print(f"comparison at spread {sp} done: {cmps[sp]}", flush=True)

    rows = [(f"(1) fit {a.n:,} x {a.d} (spread {a.spread:g}) into k={a.k}, M={a.n_micro}: wall time", f"{big['fit_s']:.1f} s", "< 600 s"),
            ("(1) peak memory of that process (incl. the features)", f"{big['peak_gb']:.2f} GiB", "< 8 GiB"),
            ("(1) features alone", f"{big['features_gb']:.2f} GiB", ""),
            ("(1) generating the features (not part of the fit)", f"{big['gen_s']:.1f} s", ""),
            ("(1) cluster shares, smallest first", " ".join(f"{s:.3f}" for s in big["shares"]), ""),
            ("(1) ARI vs the generating groups", f"{big['ari_groups']:.3f}", "")]
    for sp, c in cmps.items():
        tag = f"(2) {a.exact_n:,} x {a.d}, spread {sp:g}:"
        rows += [(f"{tag} exact Ward wall time", f"{c['exact_s']:.1f} s", ""),
                 (f"{tag} exact Ward ARI vs the generating groups", f"{c['exact_ari_groups']:.3f}", ""),
                 (f"{tag} noise floor, ARI exact on 90% vs exact on all", f"{c['floor']:.3f}", "")]
        for m, r in c["micro"].items():
            rows += [(f"{tag} micro M={m}: ARI vs exact Ward (time)", f"{r['ari_exact']:.3f} ({r['s']:.1f} s)",
                      ">= 0.9" if m == a.n_micro and sp == a.spread else "")]
        rows += [(f"{tag} peak memory of that process", f"{c['peak_gb']:.2f} GiB", "")]
    w = max(len(r[0]) for r in rows); v = max(len(r[1]) for r in rows)
    print("\n" + f"{'measure':<{w}}  {'value':<{v}}  aim")
    for r in rows: print(f"{r[0]:<{w}}  {r[1]:<{v}}  {r[2]}")


if __name__ == "__main__":
    main()
