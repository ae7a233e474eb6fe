import Foundation
import TesseraJWT
import TesseraStore

/// Turns an event of the approval workflow into the outbox rows that announce it, one per
/// configured sink (policies/notifications.yaml). Transitions call it inside their decision, so
/// the rows commit with the transition.
public protocol NotificationPlanner: Sendable {
    func notifications(event: String, role: String, breakGlass: Bool, data: [String: JSONValue], at time: Date) -> [OutboxNotification]
}

/// No sinks configured: nothing to announce.
public struct NoNotifications: NotificationPlanner {
    public init() {}

    public func notifications(event: String, role: String, breakGlass: Bool, data: [String: JSONValue], at time: Date) -> [OutboxNotification] {
        []
    }
}
