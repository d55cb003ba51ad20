# The inspection service (`defectlab serve`): the same pinned environment and install steps as `make venv`
# (tests/test_service.py checks that they stay the same), run as a non-root user.
#   docker build -t defectlab .
#   docker run -p 8000:8000 -v "$PWD/runs:/app/runs" defectlab          runs mounted (trained here)
# To bake runs in instead: remove `runs/` from .dockerignore, then build (they are copied with the tree).
FROM python:3.11-slim-bookworm

# shared libraries that the OpenCV and TensorFlow wheels load
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

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
