import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import Synchronization
import TesseraCore

/// Answers `GET` of the JWKS and the discovery documents on the event loop that read the
/// request, right after HTTP/1 decoding: no task, no router, no middleware chain, and a
/// response written as bytes prepared once a second. Resource servers fetch the JWKS far more
/// often than anything else; through the router each fetch cost about four times what nginx
/// spends serving the same file.
///
/// Only when nothing else of the connection is in flight: HTTP/1.1 answers in request order,
/// so a GET pipelined behind a request the application is still working on goes through the
/// router after it. So do HTTP/1.0, `Connection` and `If-None-Match` requests (the router
/// handles closing, upgrades and 304s). The answers are `WellKnownDocuments`'s, the router's
/// own, and each is counted in the request metrics.
final class WellKnownFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let responses: PreparedResponses
    private let metrics: TesseraMetrics
    /// Where prepared bytes are written: past the HTTP encoder, straight to the socket.
    private var encoder: ChannelHandlerContext?
    /// Requests passed to the application whose response has not ended yet.
    private var inFlight = 0
    /// Where each document's answers are counted, looked up once per connection.
    private var recorders: [String: TesseraMetrics.RequestRecorder] = [:]
    /// The document being answered once the request's end arrives, and its path (the metrics'
    /// route); nil: the request is the application's.
    private var answering: (document: WellKnownDocuments.Document, path: String, started: ContinuousClock.Instant)?

    init(responses: PreparedResponses, metrics: TesseraMetrics, encoder: ChannelHandlerContext) {
        self.responses = responses
        self.metrics = metrics
        self.encoder = encoder
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        encoder = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if inFlight == 0, head.method == .GET, head.version == .http1_1, !head.headers.contains(name: "connection"),
               !head.headers.contains(name: "if-none-match") {
                let path = head.uri.prefix { $0 != "?" }
                if let document = WellKnownDocuments.Document(path: path) {
                    answering = (document, String(path), ContinuousClock.now)
                    return
                }
            }
            inFlight += 1
            context.fireChannelRead(data)
        case .body:
            // A body on a GET means nothing (RFC 9110 §9.3.1); it is read and dropped.
            if answering == nil { context.fireChannelRead(data) }
        case .end:
            guard let (document, path, started) = answering else {
                context.fireChannelRead(data)
                return
            }
            answering = nil
            guard let encoder, let bytes = responses.response(document) else {
                context.close(promise: nil)
                return
            }
            encoder.writeAndFlush(NIOAny(bytes), promise: nil)
            recorder(path).record(ContinuousClock.now - started)
        }
    }

    private func recorder(_ path: String) -> TesseraMetrics.RequestRecorder {
        if let recorder = recorders[path] { return recorder }
        let recorder = metrics.recorder(route: path, method: "GET", status: 200)
        recorders[path] = recorder
        return recorder
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { inFlight -= 1 }
        context.write(data, promise: promise)
    }
}

/// The well-known documents' `200 OK` responses as bytes (status line, headers, body), rebuilt
/// when a document changes (a key rotation) or the `Date` header's second does.
final class PreparedResponses: Sendable {
    private struct Prepared {
        let second: Int
        let body: [UInt8]
        let bytes: ByteBuffer
    }

    private let documents: WellKnownDocuments
    private let prepared = Mutex<[WellKnownDocuments.Document: Prepared]>([:])

    init(documents: WellKnownDocuments) {
        self.documents = documents
    }

    /// The `200 OK` response for `document`: the prepared bytes while the document and the
    /// second are the same, else prepared anew.
    func response(_ document: WellKnownDocuments.Document) -> ByteBuffer? {
        let body = documents.body(document)
        let second = Int(Date().timeIntervalSince1970)
        // Comparing the arrays is a pointer comparison while the document is the one prepared.
        if let cached = prepared.withLock({ $0[document] }), cached.second == second, cached.body == body { return cached.bytes }
        let answer = documents.answer(document, ifNoneMatch: nil)
        guard let answerBody = answer.body else { return nil }
        var head = "HTTP/1.1 \(answer.status.code) \(answer.status.reasonPhrase)\r\n"
        for field in answer.headers { head += "\(field.name.rawName): \(field.value)\r\n" }
        head += "Content-Length: \(answerBody.count)\r\nDate: \(HTTPDate.format(second))\r\nServer: tessera\r\n\r\n"
        var bytes = ByteBuffer(string: head)
        bytes.writeBytes(answerBody)
        prepared.withLock { $0[document] = Prepared(second: second, body: answerBody, bytes: bytes) }
        return bytes
    }
}

/// Hummingbird's HTTP/1 channel with `WellKnownFastPath` placed between the HTTP/1 decoder and
/// the conversion to HTTP types, one per connection.
struct FastPathHTTP1Channel: ServerChildChannel {
    let inner: HTTP1Channel
    let responses: PreparedResponses
    let metrics: TesseraMetrics

    static func builder(documents: WellKnownDocuments, metrics: TesseraMetrics) -> HTTPServerBuilder {
        let responses = PreparedResponses(documents: documents)
        return HTTPServerBuilder { responder in
            FastPathHTTP1Channel(inner: HTTP1Channel(responder: responder), responses: responses, metrics: metrics)
        }
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1Channel.Value> {
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            let codec = try pipeline.handler(type: HTTP1ToHTTPServerCodec.self)
            let encoder = try pipeline.context(handlerType: HTTPResponseEncoder.self)
            try pipeline.addHandler(WellKnownFastPath(responses: responses, metrics: metrics, encoder: encoder), position: .before(codec))
            return value
        }
    }

    func handle(value: HTTP1Channel.Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// The `Date` header's IMF-fixdate (RFC 9110 §5.6.7).
enum HTTPDate {
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func format(_ second: Int) -> String {
        var time = time_t(second)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
