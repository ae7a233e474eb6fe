import Foundation
import TesseraJWT
import TesseraPolicy
import TesseraStore

/// Turns an event of the approval workflow into the outbox rows that announce it, one per
/// configured sink (policies/notifications.yaml). Transitions call it inside their decision, so
/// the rows commit with the transition.
public protocol NotificationPlanner: Sendable {
    func notifications(event: String, role: String, breakGlass: Bool, data: [String: JSONValue], at time: Date) -> [OutboxNotification]
}

/// The configured sinks and routes, read anew for every event (policy reloads apply at once).
public struct ConfiguredNotifications: NotificationPlanner {
    let settings: CurrentValue<NotificationSettings>

    public init(settings: CurrentValue<NotificationSettings>) {
        self.settings = settings
    }

    public func notifications(event: String, role: String, breakGlass: Bool, data: [String: JSONValue], at time: Date) -> [OutboxNotification] {
        guard let kind = NotificationEventKind(rawValue: event) else { return [] }
        return NotificationRouter(settings: settings.value).notifications(for: NotificationEvent(kind, role: role, data: data, breakGlass: breakGlass),
                                                                         at: time)
    }
}

/// No sinks configured: nothing to announce.
public struct NoNotifications: NotificationPlanner {
    public init() {}

    public func notifications(event: String, role: String, breakGlass: Bool, data: [String: JSONValue], at time: Date) -> [OutboxNotification] {
        []
    }
}
