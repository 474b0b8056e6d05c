import AsyncHTTPClient
import Foundation
import NIOCore

/// GETs with the same client, for the commands that read a running Hypha's observability
/// endpoint (`hypha top`, `hypha tap`): one HTTP client setup in the tool, not two.
extension ArrowHTTPClient {
    /// A GET's answer, its body read as it arrives.
    public struct Reading: Sendable {
        public var status: Int
        let body: HTTPClientResponse.Body

        /// The body as lines (without their line ends), as they arrive.
        public var lines: Lines { Lines(body: body) }

        /// The whole body as text, at most `limit` bytes of it.
        public func text(upTo limit: Int = 64 * 1024) async throws -> String {
            var collected = try await body.collect(upTo: limit)
            return collected.readString(length: collected.readableBytes) ?? ""
        }
    }

    /// GETs `url` with `Authorization: Bearer token` when a token is given, waiting at most
    /// `timeout` for the answer's head (its body may then take as long as it takes). Throws an
    /// `ArrowHTTPClientError` naming `url` and what to check when no answer came.
    public func get(_ url: String, token: String?, timeout: Duration) async throws -> Reading {
        var request = HTTPClientRequest(url: url)
        if let token, !token.isEmpty { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        do {
            let response = try await client.execute(request, timeout: TimeAmount(timeout))
            return Reading(status: Int(response.status.code), body: response.body)
        } catch let error as CancellationError {
            throw error
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw ArrowHTTPClientError(describing: error, url: url, ca: ca, verb: "get",
                                       whenRefused: "is a Hypha running there with its endpoint on (hypha run --http ADDRESS)?")
        }
    }

    /// The lines of a body, split at "\n" (a "\r" before it dropped), as they arrive; the last
    /// line needs no line end.
    public struct Lines: AsyncSequence, Sendable {
        public typealias Element = String
        let body: HTTPClientResponse.Body

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunks: body.makeAsyncIterator()) }

        public struct AsyncIterator: AsyncIteratorProtocol {
            var chunks: HTTPClientResponse.Body.AsyncIterator
            var pending: [UInt8] = []
            /// Where the next line starts in `pending`.
            var start = 0
            var ended = false

            public mutating func next() async throws -> String? {
                while true {
                    if let end = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                        var line = pending[start..<end]
                        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                        start = end + 1
                        return String(decoding: line, as: UTF8.self)
                    }
                    if ended {
                        guard start < pending.count else { return nil }
                        defer { start = pending.count }
                        return String(decoding: pending[start...], as: UTF8.self)
                    }
                    pending.removeFirst(start)
                    start = 0
                    if let chunk = try await chunks.next() {
                        pending.append(contentsOf: chunk.readableBytesView)
                    } else {
                        ended = true
                    }
                }
            }
        }
    }
}
