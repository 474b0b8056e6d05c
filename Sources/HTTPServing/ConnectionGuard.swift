import Engine
import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Enforces ``ServerLimits`` on one HTTP/1 connection, between the HTTP codec and
/// Hummingbird's request handling: the time to a request head, the time to the end of a body,
/// closing after an answer given before the body was read, and the `Host` check.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let limits: ServerLimits
    /// A request's head has arrived and its body has not ended.
    private var readingBody = false
    /// Requests whose answer has not ended.
    private var unanswered = 0
    /// The connection is being closed: what the client still sends is dropped.
    private var closing = false
    private var timer: Scheduled<Void>?

    init(_ limits: ServerLimits) { self.limits = limits }

    /// A second `Host` header (the codec takes the first as the request's authority).
    private static let host = HTTPField.Name("Host")

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { awaitHead(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) { disarm() }

    func channelActive(context: ChannelHandlerContext) {
        awaitHead(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if closing { return }
        switch unwrapInboundIn(data) {
        case .head(let request):
            disarm()
            if let refusal = limits.hosts.refusal(request.authority, server: limits.server) {
                refuse(context, status: .misdirectedRequest, refusal)
                return
            }
            if let host = Self.host, !request.headerFields[values: host].isEmpty {
                refuse(context, status: .badRequest, "a request must carry one Host header, not several")
                return
            }
            readingBody = true
            unanswered += 1
            arm(limits.bodyTimeout, context)
        case .body:
            break
        case .end:
            readingBody = false
            disarm()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // The answer to the request whose body is still arriving: that body will not be read.
        let answeredEarly = readingBody && unanswered == 1
        switch unwrapOutboundIn(data) {
        case .head(var response) where answeredEarly:
            response.headerFields[.connection] = "close"
            context.write(wrapOutboundOut(.head(response)), promise: promise)
        case .end where answeredEarly:
            unanswered -= 1
            let written = context.eventLoop.makePromise(of: Void.self)
            if let promise { written.futureResult.cascade(to: promise) }
            context.writeAndFlush(data, promise: written)
            close(context, after: written.futureResult)
        case .end:
            unanswered -= 1
            context.write(data, promise: promise)
            if unanswered == 0 && !readingBody { awaitHead(context) }
        default:
            context.write(data, promise: promise)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if closing, let event = event as? ChannelEvent, event == .inputClosed {
            // The client has read the answer and closed its side.
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Answers `status` with `message` itself (the request never reaches the routes) and closes.
    private func refuse(_ context: ChannelHandlerContext, status: HTTPResponse.Status, _ message: String) {
        guard unanswered == 0 else {
            // Answers to earlier requests are still to come; this one cannot be answered first.
            closing = true
            context.close(promise: nil)
            return
        }
        let body = ByteBuffer(string: Value.map(Record([("status", .int(Int64(status.code))), ("error", .string(message))])).json + "\n")
        let head = HTTPResponse(status: status, headerFields: [
            .contentType: "application/json", .contentLength: "\(body.readableBytes)", .connection: "close",
        ])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        close(context, after: written.futureResult)
    }

    /// Closes the output once `written` is sent, drops what the client still sends, and closes
    /// the whole connection when the client closes its side or after `linger`.
    private func close(_ context: ChannelHandlerContext, after written: EventLoopFuture<Void>) {
        closing = true
        disarm()
        written.assumeIsolated().whenComplete { result in
            guard case .success = result else {
                context.close(promise: nil)
                return
            }
            let closed = context.eventLoop.makePromise(of: Void.self)
            closed.futureResult.assumeIsolated().whenFailure { _ in context.close(promise: nil) }
            context.close(mode: .output, promise: closed)
        }
        arm(limits.linger, context)
    }

    /// Waits for the next request head, at most the idle timeout.
    private func awaitHead(_ context: ChannelHandlerContext) {
        guard timer == nil, !closing, !readingBody, unanswered == 0 else { return }
        arm(limits.idleTimeout, context)
    }

    /// Closes the connection after `duration` unless disarmed first.
    private func arm(_ duration: Duration, _ context: ChannelHandlerContext) {
        disarm()
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(duration)) { [weak self] in
            self?.timer = nil
            context.close(promise: nil)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}
