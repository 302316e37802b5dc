#!/usr/bin/python3
"""Runs a PyTorch peer benchmark at a thread count that holds, and describes the run first.

    torch_run.py THREADS SCRIPT [ARGS...]   (SCRIPT gets THREADS ARGS... as its arguments)

torch.set_num_threads alone does not bound PyTorch on a machine whose OpenBLAS is the OpenMP
build (Debian's libopenblas0-openmp): that OpenBLAS takes its thread count from OpenMP, not from
OPENBLAS_NUM_THREADS. So OMP_NUM_THREADS and OPENBLAS_NUM_THREADS are set to THREADS here,
before torch loads its OpenMP runtime and OpenBLAS, and torch.set_num_threads(THREADS) after.
The first line printed (metric "run_info") records the thread settings as torch and OpenBLAS
report them, OpenBLAS's build and kernels, torch's build configuration and parallel info, the
OpenMP wait settings and the load average."""
import ctypes, json, os, runpy, sys

threads = int(sys.argv[1])
script = sys.argv[2]
os.environ["OMP_NUM_THREADS"] = str(threads)
os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
import torch  # noqa: E402  (after the environment above)

torch.set_num_threads(threads)


def openblas():
    try:
        lib = ctypes.CDLL("libopenblas.so.0")  # the one libtorch_cpu has loaded
        for f in ("openblas_get_config", "openblas_get_corename"):
            getattr(lib, f).restype = ctypes.c_char_p
        return lib.openblas_get_config().decode(), lib.openblas_get_corename().decode(), lib.openblas_get_num_threads()
    except Exception as e:  # pragma: no cover - no OpenBLAS under this name
        return f"unknown ({e})", "unknown", -1


config, core, obt = openblas()
print(json.dumps({
    "workload": os.path.splitext(os.path.basename(script))[0], "metric": "run_info",
    "threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
    "loadavg": open("/proc/loadavg").read().strip(),
    "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""), "gomp_spincount": os.environ.get("GOMP_SPINCOUNT", ""),
    "omp_num_threads": os.environ["OMP_NUM_THREADS"], "openblas_threads": obt,
    "openblas_config": config, "openblas_core": core, "torch": torch.__version__,
    "torch_config": torch.__config__.show(), "parallel_info": torch.__config__.parallel_info(),
}), flush=True)
sys.argv = [script, str(threads)] + sys.argv[3:]
runpy.run_path(script, run_name="__main__")
