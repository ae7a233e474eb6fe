import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import TesseraCore

/// Answers the two requests that dominate a running server on the event loop that read them,
/// right after HTTP/1 decoding, without Hummingbird's task, router and middleware chain:
/// - `GET` of the JWKS and the discovery documents, answered with responses prepared once a
///   second (through the router each fetch cost about four times what nginx spends on the file);
/// - `POST /token`, handed to the token endpoint in one task, its answer written as it comes
///   (the router's request and response plumbing cost as much CPU as the endpoint's own work).
///
/// Only when nothing else of the connection is in flight: HTTP/1.1 answers in request order,
/// so a request pipelined behind one the application is still working on goes through the
/// router after it, and what arrives while a token is being issued here waits in `held`: the
/// connection goes on reading until something arrives, then reads nothing more until the
/// answer (stopping and resuming reads costs two `epoll_ctl` calls, about 3% of a token
/// request, so a client that waits for its answer does not pay them). HTTP/1.0, `Connection` other than `keep-alive`,
/// `If-None-Match`, `Expect` and token requests without a `Content-Length` within the body
/// limit go through the router too (it handles closing, upgrades, 304s, `100 Continue`,
/// chunked and oversized bodies). The answers are the router's own (`WellKnownDocuments`,
/// `TokenEndpoint`, `OAuthError`), each counted in the request metrics, and token requests
/// count against the server's limit of requests in flight like every other.
final class FastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// What the fast path answers with, shared by every connection.
    struct Answerers: Sendable {
        let responses: PreparedResponses
        let tokens: TokenFastPath
        let metrics: TesseraMetrics
    }

    private let answerers: Answerers
    /// Requests passed to the application whose response has not ended yet.
    private var inFlight = 0
    /// Where each document's answers are counted, looked up once per connection.
    private var recorders: [String: TesseraMetrics.RequestRecorder] = [:]
    /// The request being read for the fast path; nil: the request is the application's.
    private var answering: Answering?
    /// A token request of this connection is with the endpoint: nothing more is answered until
    /// its response is written, and nothing more read once something is `held`.
    private var issuing = false
    /// Parts read while `issuing`, replayed in order once the response is written.
    private var held: [HTTPServerRequestPart] = []
    /// A read the pipeline asked for while `issuing` with parts `held`, passed on after the answer.
    private var readWithheld = false
    /// Connection events that came while `issuing` (the client closing its side, a graceful
    /// shutdown, an idle timeout), told to the application after the answer: it knows of no
    /// request in flight, so it would close the connection before the answer is written.
    private var withheldEvents: [Any] = []

    private enum Answering {
        case document(WellKnownDocuments.Document, path: String, started: ContinuousClock.Instant)
        case token(TokenFastPath.Request)
    }

    init(answerers: Answerers) {
        self.answerers = answerers
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if issuing {
            held.append(part)
        } else {
            read(part, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if issuing {
            withheldEvents.append(event)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func read(context: ChannelHandlerContext) {
        if issuing && !held.isEmpty {
            readWithheld = true
        } else {
            context.read()
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { inFlight -= 1 }
        context.write(data, promise: promise)
    }

    private func read(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            // The channel's address is the one it cached; the context's asks the kernel each time.
            if inFlight == 0, let answering = Self.answering(head, tokens: answerers.tokens, remoteAddress: context.channel.remoteAddress) {
                self.answering = answering
                return
            }
            inFlight += 1
            context.fireChannelRead(wrapInboundOut(part))
        case .body(let bytes):
            switch answering {
            case .none: context.fireChannelRead(wrapInboundOut(part))
            // A body on a GET means nothing (RFC 9110 §9.3.1); it is read and dropped.
            case .document: break
            case .token(var request):
                // Released first, so the body buffer has one owner and grows in place.
                answering = nil
                // The decoder delivers at most the Content-Length, which is within the limit.
                request.body.writeImmutableBuffer(bytes)
                answering = .token(request)
            }
        case .end:
            switch answering {
            case .none:
                context.fireChannelRead(wrapInboundOut(part))
            case .document(let document, let path, let started):
                answering = nil
                guard let response = answerers.responses.response(document) else {
                    context.close(promise: nil)
                    return
                }
                send(response, context: context)
                recorder(path).record(ContinuousClock.now - started)
            case .token(let request):
                answering = nil
                issue(request, context: context)
            }
        }
    }

    /// What the fast path answers for `head`, nil when the application does.
    private static func answering(_ head: HTTPRequestHead, tokens: TokenFastPath, remoteAddress: SocketAddress?) -> Answering? {
        guard head.version == .http1_1, head.headers["connection"].allSatisfy(Self.isKeepAlive) else { return nil }
        let path = head.uri.prefix { $0 != "?" }
        switch head.method {
        case .GET:
            guard !head.headers.contains(name: "if-none-match"), let document = WellKnownDocuments.Document(path: path) else { return nil }
            return .document(document, path: String(path), started: ContinuousClock.now)
        case .POST:
            return tokens.request(head, path: path, remoteAddress: remoteAddress).map(Answering.token)
        default:
            return nil
        }
    }

    /// `Connection: keep-alive` says what HTTP/1.1 does anyway (RFC 9112 §9.3); any other
    /// option (`close`, `upgrade`) is the router's.
    private static func isKeepAlive(_ value: String) -> Bool {
        value.split(separator: ",").allSatisfy { TokenController.trimmingOWS($0).lowercased() == "keep-alive" }
    }

    private func issue(_ request: TokenFastPath.Request, context: ChannelHandlerContext) {
        issuing = true
        let connection = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        answerers.tokens.answer(request) { response in
            // The endpoint's task may run on another of the group's loops.
            if connection.eventLoop.inEventLoop {
                connection.value.handler.issued(response, context: connection.value.context)
            } else {
                connection.eventLoop.execute { connection.value.handler.issued(response, context: connection.value.context) }
            }
        }
    }

    /// Writes a token request's answer, then goes on with what the connection sent after it.
    private func issued(_ response: FastResponse, context: ChannelHandlerContext) {
        issuing = false
        send(response, context: context)
        let parts = held
        held = []
        for (index, part) in parts.enumerated() {
            guard !issuing else {
                held.append(contentsOf: parts[index...])
                break
            }
            read(part, context: context)
        }
        // The application's side takes what it was passed at the end of a read burst.
        if !parts.isEmpty { context.fireChannelReadComplete() }
        if !issuing {
            let events = withheldEvents
            withheldEvents = []
            for event in events { context.fireUserInboundEventTriggered(event) }
        }
        if !issuing, readWithheld {
            readWithheld = false
            context.read()
        }
    }

    /// Through the HTTP/1 encoder, as the application's responses go (see `FastResponse`).
    private func send(_ response: FastResponse, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.head(response.head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    private func recorder(_ path: String) -> TesseraMetrics.RequestRecorder {
        if let recorder = recorders[path] { return recorder }
        let recorder = answerers.metrics.recorder(route: path, method: "GET", status: 200)
        recorders[path] = recorder
        return recorder
    }
}

/// Hummingbird's HTTP/1 channel with `FastPath` placed between the HTTP/1 decoder and the
/// conversion to HTTP types, one per connection.
struct FastPathHTTP1Channel: ServerChildChannel {
    let inner: HTTP1Channel
    let answerers: FastPath.Answerers

    static func builder(_ answerers: FastPath.Answerers) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            FastPathHTTP1Channel(inner: HTTP1Channel(responder: responder), answerers: answerers)
        }
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1Channel.Value> {
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            let codec = try pipeline.handler(type: HTTP1ToHTTPServerCodec.self)
            try pipeline.addHandler(FastPath(answerers: answerers), position: .before(codec))
            return value
        }
    }

    func handle(value: HTTP1Channel.Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}
