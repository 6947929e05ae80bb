# sla-runner in a container: the package and its dependencies on a slim Python, run as a
# user without privileges.
#
#   docker build -t sla-runner:0.1.0 .
#   docker run --rm -v "$PWD:/work" -e CHECKOUT_TOKEN sla-runner:0.1.0 \
#       run specs/checkout.yaml --json reports/verdict.json
#
# The base is pinned by version (its digest can be pinned too: FROM python:…@sha256:…).
# Every dependency installs from a wheel: no compiler in the image. The user's id, 10001, is
# the one `sla-runner k8s` runs its pods as. No secret is built in: a spec's ${VAR}s come
# from the environment the container is started with (docker run -e, a Kubernetes Secret).
FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY sla_runner ./sla_runner
RUN pip install . \
    && rm -rf /src \
    && groupadd --system --gid 10001 sla \
    && useradd --system --uid 10001 --gid sla --home-dir /work --shell /usr/sbin/nologin sla \
    && mkdir -p /work \
    && chown sla:sla /work

WORKDIR /work
USER 10001:10001
ENTRYPOINT ["sla-runner"]
CMD ["--help"]
