import ServiceLifecycle
import TesseraCore

/// Runs the notification sender beside the HTTP server. At graceful shutdown the deliveries
/// under way finish (each within its 15 s timeout) and nothing new is claimed; what is still
/// due stays in the outbox for the next start or another replica.
public struct NotificationService: Service {
    let sender: NotificationSender

    public init(sender: NotificationSender) {
        self.sender = sender
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await sender.run()
        } onGracefulShutdown: {
            sender.stop()
        }
    }
}
