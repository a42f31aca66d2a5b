# syntax=docker/dockerfile:1
# sidecar-exporter container image: built on Debian bookworm, run on bookworm-slim with only the
# shared libraries the binary links. Build with any OCI builder, e.g.
#   docker build -t sidecar-exporter .
#   buildah bud --layers -t sidecar-exporter .
# tests/deploy/image_test.sh builds it daemonless with buildah from base images it makes itself
# from Debian's archive.

ARG DEBIAN_BUILD_IMAGE=debian:bookworm
ARG DEBIAN_RUNTIME_IMAGE=debian:bookworm-slim

# Stages are split so that the package layers (build-deps, runtime-deps) can be built and
# tagged on their own (--target) and stay in a builder's cache while the sources change.
FROM ${DEBIAN_BUILD_IMAGE} AS build-deps
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config ca-certificates \
      prometheus-cpp-dev libcivetweb-dev libcurl4-openssl-dev libre2-dev libyaml-cpp-dev \
      libsimdjson-dev zlib1g-dev libssl-dev libcrypt-dev ccache \
 && rm -rf /var/lib/apt/lists/*

FROM build-deps AS build
ARG BUILD_JOBS=2
# The context has no .git, so the revision comes in as a build argument.
ARG REVISION=unknown
# The sources last and no WORKDIR: a new revision re-runs only the COPY and the RUN, and a builder
# without copy-on-write storage (buildah's vfs) copies the whole root file system for each step.
COPY . /src
# RelWithDebInfo (-O2), the project default: GCC 12 at -O3 raises false -Werror=restrict
# warnings in libstdc++. Debug info as line tables only (-g1), the flags of the test build: the
# binary is stripped anyway.
# A compiler cache is optional: a build given one at /ccache (`buildah bud --volume DIR:/ccache`,
# as tests/deploy/image_test.sh does with the test build's cache) reuses the objects compiled
# there from the same sources with the same flags. The build folder is build/ inside the sources,
# as in a checkout, so that paths relative to the sources are the same in both.
# ccache also hashes the locale variables, unset on both sides.
RUN cd /src \
 && if [ -d /ccache ]; then \
      unset LANG LC_ALL LC_CTYPE LC_MESSAGES; \
      export CMAKE_CXX_COMPILER_LAUNCHER=ccache CCACHE_DIR=/ccache CCACHE_BASEDIR=/src \
             CCACHE_NOHASHDIR=1 CCACHE_COMPILERCHECK=content; \
    fi \
 && cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIDECAR_BUILD_TESTS=OFF \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
      -DSIDECAR_REVISION="${REVISION}" \
 && cmake --build build -j"${BUILD_JOBS}" --target sidecar-exporter \
 && strip build/sidecar-exporter \
 && install -D -m 0755 build/sidecar-exporter /out/usr/local/bin/sidecar-exporter \
 && install -D -m 0644 k8s/base/config.yaml /out/etc/sidecar-exporter/config.yaml

FROM ${DEBIAN_RUNTIME_IMAGE} AS runtime-deps
ARG DEBIAN_FRONTEND=noninteractive
# Runtime packages matching the -dev packages of the build stage (Debian bookworm names).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libprometheus-cpp-core1.0 libcivetweb1 libcurl4 libre2-9 libyaml-cpp0.7 libsimdjson14 \
      zlib1g libssl3 libcrypt1 ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log

FROM runtime-deps
COPY --from=build /out/ /

ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="sidecar-exporter" \
      org.opencontainers.image.description="Prometheus exporter run as a Kubernetes sidecar next to a main app container (nginx stub_status and access logs)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="debian:bookworm-slim"

# Numeric UID/GID so that Kubernetes' runAsNonRoot can check it without an /etc/passwd entry.
USER 65532:65532
EXPOSE 10113
ENTRYPOINT ["/usr/local/bin/sidecar-exporter"]
CMD ["--config.file=/etc/sidecar-exporter/config.yaml"]
