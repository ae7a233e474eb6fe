import Foundation
import TesseraCrypto
import TesseraJWT
import TesseraPolicy
import TesseraStore

/// Turns an event of the approval workflow into the outbox rows that announce it, one per
/// configured sink (policies/notifications.yaml). Transitions call it inside their decision, so
/// the rows commit with the transition.
public protocol NotificationPlanner: Sendable {
    func notifications(event: String, role: String, breakGlass: Bool, data: [String: JSONValue], at time: Date) -> [OutboxNotification]
    /// How long before its end an activation's `activation.expiring` notice goes out.
    var expiryWarningSeconds: Int { get }
    /// How long before its end an eligibility assignment's `eligibility.expiring` notice goes out.
    var assignmentExpiryWarningSeconds: Int { get }
}

/// The configured sinks and routes, read anew for every event (policy reloads apply at once).
public struct ConfiguredNotifications: NotificationPlanner {
    let settings: CurrentValue<NotificationSettings>
    /// Message ids come from one buffer, not one per event.
    let random: any RandomSource

    public init(settings: CurrentValue<NotificationSettings>, random: any RandomSource = BufferedSecureRandom()) {
        self.settings = settings
        self.random = random
    }

    public var expiryWarningSeconds: Int { settings.value.expiryWarningSeconds }
    public var assignmentExpiryWarningSeconds: Int { settings.value.assignmentExpiryWarningSeconds }

    public func notifications(event: String, role: String, breakGlass: Bool, data: [String: JSONValue], at time: Date) -> [OutboxNotification] {
        guard let kind = NotificationEventKind(rawValue: event) else { return [] }
        return NotificationRouter(settings: settings.value, random: random).notifications(for: NotificationEvent(kind, role: role, data: data, breakGlass: breakGlass),
                                                                         at: time)
    }
}

/// No sinks configured: nothing to announce.
public struct NoNotifications: NotificationPlanner {
    public init() {}

    public var expiryWarningSeconds: Int { NotificationSettings.defaultExpiryWarningSeconds }
    public var assignmentExpiryWarningSeconds: Int { NotificationSettings.defaultAssignmentExpiryWarningSeconds }

    public func notifications(event: String, role: String, breakGlass: Bool, data: [String: JSONValue], at time: Date) -> [OutboxNotification] {
        []
    }
}
