import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A stand-in for PagerDuty's REST API: an HTTP/1.1 server inside the test process, on
/// 127.0.0.1 and a free port, answering each request with whatever the test's handler says and
/// recording every request (path, query, headers). Unlike the JWKS server (a Python
/// subprocess serving files) it can answer differently per request, which paging and 429
/// retries need. `stop()` closes it; a stub never stopped closes with the test process.
final class PagerDutyStubServer: Sendable {
    struct Request: Sendable {
        let path: String
        /// Decoded, in the order sent.
        let query: [Pair]
        /// Names lower-cased.
        let headers: [Pair]

        struct Pair: Sendable, Hashable {
            let name: String
            let value: String
        }

        func values(_ name: String) -> [String] { query.filter { $0.name == name }.map(\.value) }
        func value(_ name: String) -> String? { values(name).first }
        func header(_ name: String) -> String? { headers.first { $0.name == name.lowercased() }?.value }
    }

    enum Answer: Sendable {
        /// `chunked`: no Content-Length, so only reading the body can tell its size.
        case respond(status: Int, headers: [String: String] = [:], body: [UInt8], chunked: Bool = false)
        /// Never answers (a dead upstream).
        case hang
        /// Sends the head and the first bytes of a body it never finishes.
        case stallAfterHead
    }

    /// Gets each request and its index (0 for the first).
    typealias Handler = @Sendable (Request, Int) -> Answer

    private let server: any Channel
    private let state: State
    let port: Int

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// What the server channel and its children share.
    final class State: Sendable {
        let handler: Handler
        let requests = Mutex<[Request]>([])
        let children = Mutex<[any Channel]>([])
        init(handler: @escaping Handler) { self.handler = handler }
    }

    private init(server: any Channel, state: State, port: Int) {
        self.server = server
        self.state = state
        self.port = port
    }

    static func start(_ handler: @escaping Handler) async throws -> PagerDutyStubServer {
        let state = State(handler: handler)
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                state.children.withLock { $0.append(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(StubHandler(state: state))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        guard let port = server.localAddress?.port else {
            try? await server.close()
            throw StubError()
        }
        return PagerDutyStubServer(server: server, state: state, port: port)
    }

    struct StubError: Error {}

    var requests: [Request] { state.requests.withLock { $0 } }

    /// Closes the listening socket and every connection still open (a hanging request's).
    func stop() async {
        try? await server.close()
        for child in state.children.withLock({ $0 }) { try? await child.close() }
    }

    /// Reads one request, asks the handler, writes the answer.
    private final class StubHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let state: State
        var head: HTTPRequestHead?

        init(state: State) { self.state = state }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): self.head = head
            case .body: break
            case .end:
                guard let head else { return }
                let components = URLComponents(string: "http://stub" + head.uri)
                let request = Request(
                    path: components?.path ?? head.uri,
                    query: (components?.queryItems ?? []).map { Request.Pair(name: $0.name, value: $0.value ?? "") },
                    headers: head.headers.map { Request.Pair(name: $0.name.lowercased(), value: $0.value) })
                let index = state.requests.withLock { requests in
                    requests.append(request)
                    return requests.count - 1
                }
                answer(state.handler(request, index), context: context)
            }
        }

        private func answer(_ answer: Answer, context: ChannelHandlerContext) {
            switch answer {
            case .respond(let status, let extra, let body, let chunked):
                var headers = HTTPHeaders([("Content-Type", "application/json")])
                for (name, value) in extra { headers.replaceOrAdd(name: name, value: value) }
                if !chunked { headers.replaceOrAdd(name: "Content-Length", value: String(body.count)) }
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status),
                                                                     headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            case .hang:
                break
            case .stallAfterHead:
                let headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", "100000")])
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: #"{"oncalls":["#)))), promise: nil)
            }
        }
    }
}
