# The inspection service (`defectlab serve`): the same pinned environment and install steps as `make venv`
# (tests/test_service.py checks that they stay the same), in a virtual environment at /opt/venv, run as a non-root user.
#   docker build -t defectlab .
#   docker run -p 8000:8000 -v "$PWD/runs:/app/runs" defectlab          runs mounted (trained here)
# To bake runs in instead: remove `runs/` from .dockerignore, then build (they are copied with the tree).
# BASE: any Debian 12 (bookworm) image with Python 3.11, e.g. one made with debootstrap where no registry is reachable:
#   podman build --build-arg BASE=localhost/defectlab-base:bookworm -t defectlab .   (scripts/benchmarks/service/benchmark_container.py)
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE}

# shared libraries that the OpenCV and TensorFlow wheels load, and (a bare Debian base: python3.11 without ensurepip)
# python3-venv; apt runs only for what is missing, so a base that has them all builds without the Debian mirror
RUN missing=""; \
    for package in libgl1 libglib2.0-0; do dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"; done; \
    python3 -c "import ensurepip" 2>/dev/null || missing="$missing python3-venv"; \
    if [ -n "$missing" ]; then \
        apt-get update && apt-get install -y --no-install-recommends $missing && rm -rf /var/lib/apt/lists/*; \
    fi
# `python` below is the venv's on either base (the Debian one has no `python` and no pip of its own)
RUN python3 -m venv /opt/venv
ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH

WORKDIR /app
COPY requirements.lock pyproject.toml ./
RUN python -m pip install --quiet --upgrade pip==25.3
RUN python -m pip install --quiet -r requirements.lock
COPY . .
RUN python -m pip install --quiet --no-deps --no-build-isolation -e .
RUN python -m shared.suite.framework_guard

RUN useradd --create-home --uid 10001 defectlab && mkdir -p /app/runs && chown -R defectlab /app
USER defectlab
ENV DEFECTLAB_HOME=/home/defectlab/.cache/defectlab PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=180s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
CMD ["defectlab", "serve", "--onnx", "--host", "0.0.0.0", "--port", "8000"]
