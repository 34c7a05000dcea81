# syntax=docker/dockerfile:1
# Build: a static, CGO-free binary made by the same script CI runs.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN .ci/build-binary /out/portal "$VERSION"

# Run: distroless, non-root, no shell. The binary is the only thing in it.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/portal /portal
USER nonroot:nonroot
EXPOSE 8080
# No shell or curl in the image: the binary answers its own probe.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s CMD ["/portal", "healthcheck"]
ENTRYPOINT ["/portal"]
CMD ["serve"]
