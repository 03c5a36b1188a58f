# syntax=docker/dockerfile:1
# Arbiter's image: the five binaries (/usr/local/bin/arbiter-log,
# arbiter-writer, arbiter-reader, arbiter, arbiter-fleet) and exactly the
# shared libraries they load, on debian:12-slim, running as uid 10001.
#
# The build stage runs the project's own scripts, the ones CI runs:
# install_deps.sh, build.sh, runtime_tree.sh. CI has no container engine:
# scripts/check_runtime_tree.sh builds the same tree and runs the demo
# inside it (chroot), so a library the image would lack fails CI.
#
#   docker build -t arbiter:0.1.0 .
#   docker run --rm arbiter:0.1.0 arbiter-log --help
FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN scripts/install_deps.sh \
 && ARBITER_BUILD_DIR=/build scripts/build.sh -DARBITER_BUILD_TESTS=OFF -DARBITER_BUILD_BENCH=OFF \
 && scripts/runtime_tree.sh /build /runtime

FROM debian:12-slim
# The tree's libraries are Debian 12's own, at their own paths.
COPY --from=build /runtime/ /
RUN groupadd --gid 10001 arbiter \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin arbiter \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/arbiter
USER 10001:10001
WORKDIR /var/lib/arbiter
# gRPC, metrics, health-only (with TLS).
EXPOSE 50051 50052 50053 9461 9462 9463 8086
CMD ["arbiter", "--help"]
