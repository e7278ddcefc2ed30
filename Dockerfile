# `litft serve` in a container: an OpenAI-compatible endpoint for a litft run or checkpoint mounted at /model.
#
#   docker build -t litft-serve .                       # CPU (Debian 12, CPU torch from PyTorch's index)
#   docker run -d -p 8000:8000 -e LITFT_API_KEY=... -v "$PWD/out/lora:/model:ro" litft-serve
#
# CUDA: --build-arg BASE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04 --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu126
# and `docker run --gpus all ...`. No model is baked in. A LoRA or adapter run needs its base too: mount it and add
# `--base_dir /base` after the image name (arguments after the image replace the default CMD, so repeat
# `--checkpoint_dir /model`). Extra arguments go to `litft serve` (--rag, --max_batch_size, --model_name, ...).
# Local wheels in .whl/ of the build context are preferred, and certificates in .ca/*.crt are trusted (a proxy that
# inspects TLS): how scripts/check_container.py builds it where PyTorch's index is out of reach.
ARG BASE=debian:bookworm-slim
FROM ${BASE}

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PATH=/opt/litft/venv/bin:$PATH

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/litft/venv

COPY . /tmp/litft-src
RUN if ls /tmp/litft-src/.ca/*.crt > /dev/null 2>&1; then \
        cp /tmp/litft-src/.ca/*.crt /usr/local/share/ca-certificates/ && update-ca-certificates; \
    fi \
    && pip install --find-links /tmp/litft-src/.whl --index-url "${TORCH_INDEX}" "torch==${TORCH_VERSION}" \
    && pip install "/tmp/litft-src[dense,quantize]" \
    && rm -rf /tmp/litft-src \
    && useradd --create-home --uid 10001 --user-group litft

USER litft
WORKDIR /home/litft
EXPOSE 8000
# The key clients send as `Authorization: Bearer KEY`; serve refuses to start on 0.0.0.0 without it.
ENV LITFT_API_KEY=""
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 CMD python3 -c "import os, urllib.request; urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:8000/v1/models', headers={'Authorization': 'Bearer ' + os.environ['LITFT_API_KEY']}), timeout=4)"
ENTRYPOINT ["litft", "serve", "--host", "0.0.0.0", "--port", "8000", "--api_key_env", "LITFT_API_KEY"]
CMD ["--checkpoint_dir", "/model"]
