# The Sapwood server image: `sapwood install kubernetes --image ...` runs it as the
# Deployment `sapwood` (uid 10001, read-only root filesystem, SAPWOOD_HOME on an emptyDir).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && rm -rf /src

# Non-root; the uid matches runAsUser in the rendered Deployment.
RUN groupadd --system --gid 10001 sapwood \
    && useradd --system --uid 10001 --gid sapwood --home-dir /var/lib/sapwood \
       --create-home --shell /usr/sbin/nologin sapwood
USER 10001:10001
WORKDIR /var/lib/sapwood

# Bind every address only inside the container (outside, the default stays 127.0.0.1).
ENV SAPWOOD_HOST=0.0.0.0 \
    SAPWOOD_PORT=8420 \
    SAPWOOD_HOME=/var/lib/sapwood
EXPOSE 8420

ENTRYPOINT ["sapwood", "server"]
