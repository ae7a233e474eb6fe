import Foundation
import TesseraCrypto
import TesseraJWT
import TesseraPolicy
import TesseraStore

/// Turns an event into the outbox rows the transition writes with it: one per sink the
/// settings route it to, each with its own `webhook-id` and the exact body to deliver. Pure
/// apart from the random ids: the transition passes the time and the settings in force.
///
/// The body is fixed here, not at delivery, so every retry sends the same bytes under the same
/// id (receivers deduplicate on it) and a policy reload cannot change what an event said.
public struct NotificationRouter: Sendable {
    public let settings: NotificationSettings
    let random: any RandomSource

    public init(settings: NotificationSettings, random: any RandomSource = BufferedSecureRandom()) {
        self.settings = settings
        self.random = random
    }

    /// The rows for `event` happening at `now`: empty when no route (and, for break-glass, no
    /// security sink) takes it.
    public func notifications(for event: NotificationEvent, at now: Date) -> [OutboxNotification] {
        let sinks = settings.sinks(for: event.kind, role: event.role, breakGlass: event.breakGlass)
        guard !sinks.isEmpty else { return [] }
        // Written once per kind, however many sinks of that kind there are.
        let kinds = Set(sinks.map(\.kind))
        let webhookBody = kinds.contains(.webhook) ? WebhookPayload.body(for: event, at: now) : ""
        let slackBody = kinds.contains(.slack) ? SlackMessage(event: event).body() : ""
        return sinks.map { sink in
            let payload = sink.kind == .webhook ? webhookBody : slackBody
            return OutboxNotification(id: Self.messageID(random), event: event.kind.rawValue, sink: sink.name, payload: payload,
                                      createdAt: now, dueAt: now)
        }
    }

    /// `msg_` and 128 random bits, base64url: unique without coordination between replicas.
    static func messageID(_ random: any RandomSource) -> String {
        "msg_" + Base64URL.encode(random.bytes(count: 16))
    }
}

/// The Standard Webhooks payload convention: `{"type", "timestamp", "data"}`, written with
/// sorted keys and no spaces, so one event always gives the same bytes.
public enum WebhookPayload {
    public static func body(for event: NotificationEvent, at time: Date) -> String {
        var writer = JSONWriter()
        writer.value(.object([
            "type": .string(event.kind.rawValue),
            "timestamp": .string(time.formatted(Date.ISO8601FormatStyle())),
            "data": .object(event.data),
        ]))
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}
