# syntax=docker/dockerfile:1
# sidecar-exporter container image: built on Debian bookworm, run from an image that holds only
# the two binaries, the shared libraries they load, a CA bundle and the default configuration
# (no shell, no package manager). Build with any OCI builder, e.g.
#   docker build -t sidecar-exporter .
#   buildah bud --layers -t sidecar-exporter .
# tests/deploy/image_test.sh builds it daemonless with buildah from a base image it makes itself
# from Debian's archive.
#
# Two binaries of the same objects: /usr/local/bin/sidecar-exporter, the entrypoint, links a
# libcurl built here from Debian's source package with HTTP and Unix sockets only, simdjson (built
# here too), RE2, yaml-cpp, zlib, libcrypt and the C++ runtime statically, and no TLS library: an
# idle sidecar then maps CivetWeb and glibc only instead of Debian's libcurl and the ~40 libraries
# it pulls in (OpenSSL, GnuTLS, Kerberos, LDAP...), which made most of its resident memory. /usr/local/bin/sidecar-exporter-tls links
# Debian's libcurl and OpenSSL; the entrypoint runs it in its place (same arguments, one log line
# saying why) when the configuration needs TLS: a tls_server_config in the web config, an
# https:// URL or a `tls` block of a collector.

ARG DEBIAN_BUILD_IMAGE=debian:bookworm

# The build-deps stage (packages and the static libcurl) can be built and tagged on its own
# (--target build-deps) and stays in a builder's cache while the sources change. Each stage is one
# RUN: a builder without copy-on-write storage (buildah's vfs) copies the whole root file system
# for every step.
#
# libcurl and simdjson come from Debian's source packages of the same archive (Debian's patches
# applied), as static libraries. libcurl with HTTP and Unix sockets only: no TLS, no other
# protocol, no compression, IDN, PSL or HTTP/2 library; built small (-Os) and only the library (no
# curl tool, manual or tests). simdjson because Debian ships it only as a shared library, which
# would load libstdc++ as one too (see CMakeLists.txt). Both with a section per function, so that
# the link leaves out what the exporter does not use.
FROM ${DEBIAN_BUILD_IMAGE} AS build-deps
ARG DEBIAN_FRONTEND=noninteractive
ARG BUILD_JOBS=2
RUN sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/*.sources \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config ca-certificates \
      prometheus-cpp-dev libcivetweb-dev libcurl4-openssl-dev libre2-dev libyaml-cpp-dev \
      libsimdjson-dev zlib1g-dev libssl-dev libcrypt-dev ccache \
 && mkdir -p /usr/src/lean && cd /usr/src/lean \
 && apt-get source --only-source curl simdjson >/dev/null 2>&1 \
 && rm -rf /var/lib/apt/lists/* \
 && sections="-ffunction-sections -fdata-sections" \
 && cmake -S curl-*/ -B curl-build -DCMAKE_BUILD_TYPE=MinSizeRel -DCMAKE_C_FLAGS="$sections" \
      -DCMAKE_INSTALL_PREFIX=/opt/lean/curl -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
      -DBUILD_SHARED_LIBS=OFF -DBUILD_CURL_EXE=OFF -DBUILD_TESTING=OFF -DENABLE_MANUAL=OFF \
      -DPICKY_COMPILER=OFF -DHTTP_ONLY=ON -DENABLE_UNIX_SOCKETS=ON -DENABLE_IPV6=ON \
      -DENABLE_THREADED_RESOLVER=ON -DCURL_ENABLE_SSL=OFF -DCURL_USE_OPENSSL=OFF \
      -DCURL_ZLIB=OFF -DCURL_BROTLI=OFF -DCURL_ZSTD=OFF -DUSE_NGHTTP2=OFF -DUSE_LIBIDN2=OFF \
      -DCURL_USE_LIBPSL=OFF -DCURL_USE_LIBSSH2=OFF -DCURL_USE_GSSAPI=OFF -DCURL_DISABLE_LDAP=ON \
      -DCURL_DISABLE_COOKIES=ON -DCURL_DISABLE_ALTSVC=ON -DCURL_DISABLE_HSTS=ON \
      -DCURL_DISABLE_NETRC=ON -DCURL_DISABLE_MIME=ON -DCURL_DISABLE_DOH=ON \
      -DCURL_CA_BUNDLE=none -DCURL_CA_PATH=none >/dev/null \
 && cmake --build curl-build -j"${BUILD_JOBS}" --target libcurl >/dev/null \
 && cmake --install curl-build >/dev/null && rm -rf /opt/lean/curl/lib/cmake \
 && cd simdjson-*/ \
 && g++ -std=c++17 -O2 -DNDEBUG -DSIMDJSON_THREADS_ENABLED=1 -fPIE $sections -Iinclude -Isrc \
      -c src/simdjson.cpp -o simdjson.o \
 && ar rcs /opt/lean/libsimdjson.a simdjson.o \
 && cd / && rm -rf /usr/src/lean

FROM build-deps AS build
ARG BUILD_JOBS=2
# The context has no .git, so the revision comes in as a build argument.
ARG REVISION=unknown
# The sources last and no WORKDIR: a new revision re-runs only the COPY and the RUN.
COPY . /src
# RelWithDebInfo (-O2), the project default: GCC 12 at -O3 raises false -Werror=restrict
# warnings in libstdc++. Debug info as line tables only (-g1), the flags of the test build: the
# binaries are stripped anyway.
# A compiler cache is optional: a build given one at /ccache (`buildah bud --volume DIR:/ccache`,
# as tests/deploy/image_test.sh does with the test build's cache) reuses the objects compiled
# there from the same sources with the same flags (the image's two binaries differ only in what
# they link). The build folder is build/ inside the sources, as in a checkout, so that paths
# relative to the sources are the same in both. ccache also hashes the locale variables, unset on
# both sides.
# The runtime stage gets exactly the shared libraries the two binaries load (ldd), in Debian's
# library directory, and the CA bundle for sidecar-exporter-tls's https:// sources.
RUN cd /src \
 && if [ -d /ccache ]; then \
      unset LANG LC_ALL LC_CTYPE LC_MESSAGES; \
      export CMAKE_CXX_COMPILER_LAUNCHER=ccache CCACHE_DIR=/ccache CCACHE_BASEDIR=/src \
             CCACHE_NOHASHDIR=1 CCACHE_COMPILERCHECK=content; \
    fi \
 && cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIDECAR_BUILD_TESTS=OFF \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
      -DSIDECAR_REVISION="${REVISION}" -DSIDECAR_LEAN_CURL=/opt/lean/curl \
      -DSIDECAR_LEAN_SIMDJSON=/opt/lean/libsimdjson.a >/dev/null \
 && cmake --build build -j"${BUILD_JOBS}" --target sidecar-exporter sidecar-exporter-tls \
 && strip build/sidecar-exporter build/sidecar-exporter-tls \
 && install -D -m 0755 -t /out/usr/local/bin build/sidecar-exporter build/sidecar-exporter-tls \
 && install -D -m 0644 k8s/base/config.yaml /out/etc/sidecar-exporter/config.yaml \
 && install -D -m 0644 /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ca-certificates.crt \
 && install -d -m 1777 /out/tmp \
 && ldd build/sidecar-exporter build/sidecar-exporter-tls \
      | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u \
      | xargs install -D -m 0644 -t /out/usr/lib/x86_64-linux-gnu \
 && install -D -m 0755 /lib64/ld-linux-x86-64.so.2 /out/lib64/ld-linux-x86-64.so.2 \
 && rm -rf build

FROM scratch
COPY --from=build /out/ /

ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="sidecar-exporter" \
      org.opencontainers.image.description="Prometheus exporter run as a Kubernetes sidecar next to a main app container (nginx stub_status and access logs)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="scratch"

# Numeric UID/GID so that Kubernetes' runAsNonRoot can check it without an /etc/passwd entry.
USER 65532:65532
EXPOSE 10113
ENTRYPOINT ["/usr/local/bin/sidecar-exporter"]
CMD ["--config.file=/etc/sidecar-exporter/config.yaml"]
