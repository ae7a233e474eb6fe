import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import TesseraCore

/// A Tessera server running in this process, for tools that drive it (the benchmark): it starts
/// on the given address, reports the port the kernel picked, and stops gracefully on request
/// rather than on a signal.
public struct RunningServer: Sendable {
    public let port: Int
    private let services: ServiceGroup
    private let task: Task<Void, any Error>

    public struct StartupError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Builds the application as `tessera serve` does and returns once it listens.
    public static func start(_ settings: ServerSettings, logger: Logger) async throws -> RunningServer {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let application = try await buildApplication(settings, logger: logger, onServerRunning: { channel in
            continuation.yield(channel.localAddress?.port ?? 0)
        })
        // No signal handlers: the owner, not SIGINT, decides when to stop.
        let services = ServiceGroup(configuration: .init(services: [application], gracefulShutdownSignals: [], logger: logger))
        let task = Task {
            // If the server fails before listening, ending the stream lets `start` see the error.
            defer { continuation.finish() }
            try await services.run()
        }
        for await port in ports where port > 0 {
            return RunningServer(port: port, services: services, task: task)
        }
        try await task.value
        throw StartupError(description: "the server stopped before it started listening")
    }

    /// A graceful shutdown, as on SIGTERM: the server stops accepting, finishes what is in flight
    /// and returns (cancelling instead makes Hummingbird log errors for open connections).
    public func stop() async {
        await services.triggerGracefulShutdown()
        _ = await task.result
    }
}
