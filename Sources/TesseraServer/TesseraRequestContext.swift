import Hummingbird
import NIOCore

/// The request context of every Tessera route: Hummingbird's core storage plus the peer
/// address, which later conditional-access rules and the audit log need.
public struct TesseraRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }
}
