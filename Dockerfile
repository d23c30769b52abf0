# syntax=docker/dockerfile:1
FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first so source edits reuse the cached module download.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /gatehouse ./cmd/gatehouse
# distroless has no shell to mkdir with, so the data directory is made here.
RUN mkdir /data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /gatehouse /gatehouse
COPY --from=build --chown=nonroot:nonroot /data /data
# A fixed path, so a volume mounted at /data keeps the SQLite file, the
# generated master key and the outbox.
ENV GATEHOUSE_DATA_DIR=/data
EXPOSE 8080
ENTRYPOINT ["/gatehouse"]
CMD ["serve"]
