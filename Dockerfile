# Build: a static binary (no cgo: the embedded SQLite is pure Go).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/dlpguard ./cmd/dlpguard

# Run: a minimal image, as a non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/dlpguard /usr/local/bin/dlpguard
# The spool, the hold store and the keys live here.
VOLUME ["/var/lib/dlpguard"]
# SMTP submission, implicit TLS, HTTP (console, API, health, metrics), ICAP.
# The defaults listen on 127.0.0.1 only: mount a configuration that listens
# on the container's address (smtp.listen, smtp.tls_listen, http.listen,
# icap.listen) and sets data_dir: /var/lib/dlpguard.
EXPOSE 2525 4650 8025 1344
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/dlpguard"]
CMD ["serve", "--config", "/etc/dlpguard/dlpguard.yaml"]
