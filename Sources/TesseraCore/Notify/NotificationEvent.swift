import Foundation
import TesseraJWT
import TesseraPolicy

/// Something a transition wants people to hear about, before routing: the event, the role it
/// concerns, and its details. `data` becomes the `data` member of the Standard Webhooks
/// payload as it is; the Slack formatter reads the keys it knows (`NotificationEvent.Key`) and
/// copes with any of them missing.
public struct NotificationEvent: Sendable, Hashable {
    public var kind: NotificationEventKind
    /// The role concerned, matched against routes' `roles`; nil matches only routes for every role.
    public var role: String?
    public var data: [String: JSONValue]
    /// A break-glass use (or anything about one): also goes to the security sinks.
    public var breakGlass: Bool

    public init(_ kind: NotificationEventKind, role: String?, data: [String: JSONValue], breakGlass: Bool = false) {
        self.kind = kind
        self.role = role
        self.data = data
        self.breakGlass = breakGlass
    }

    /// The `data` keys transitions write (and the Slack message reads).
    public enum Key {
        public static let requestID = "request_id"
        public static let role = "role"
        public static let requester = "requester"
        public static let justification = "justification"
        public static let ticket = "ticket"
        /// 1-based.
        public static let stage = "stage"
        public static let stages = "stages"
        /// An array of strings: the groups or subjects who may approve now.
        public static let approvers = "approvers"
        public static let expiresAt = "expires_at"
        public static let activationID = "activation_id"
        public static let endsAt = "ends_at"
        public static let breakGlass = "break_glass"
        public static let actor = "actor"
        public static let comment = "comment"
        public static let requestURI = "request_uri"
        /// The command that acts on it, such as `tessera approve <id>`.
        public static let command = "command"
    }
}
