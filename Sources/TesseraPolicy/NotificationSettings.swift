import Foundation

/// The events Tessera notifies about. The raw value is the `type` of the Standard Webhooks
/// payload, the name routes list and the `event` of an outbox row.
public enum NotificationEventKind: String, Sendable, Hashable, CaseIterable {
    case requestCreated = "request.created"
    case requestApproved = "request.approved"
    case requestDenied = "request.denied"
    case requestCancelled = "request.cancelled"
    case requestExpired = "request.expired"
    case requestEscalated = "request.escalated"
    case requestReviewed = "request.reviewed"
    case breakGlassUsed = "break_glass.used"
    case activationStarted = "activation.started"
    case activationExpiring = "activation.expiring"
    case activationExtended = "activation.extended"
    case activationEnded = "activation.ended"
    case activationRevoked = "activation.revoked"
    case activationExpired = "activation.expired"
    case eligibilityAssigned = "eligibility.assigned"
    case eligibilityExpiring = "eligibility.expiring"
    case eligibilityRemoved = "eligibility.removed"
    case eligibilityExpired = "eligibility.expired"
}

/// A webhook signing secret (Standard Webhooks: random 24 to 64 bytes, written `whsec_<base64>`).
/// Its description never shows the bytes, so a bundle printed in a log or a test failure does
/// not leak it.
public struct WebhookSecret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public static let prefix = "whsec_"
    public static let byteRange = 24...64

    /// The HMAC key: the decoded bytes, not the text.
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Parses `whsec_<base64>`; nil when the prefix is missing, the base64 is invalid or the key
    /// is outside 24 to 64 bytes.
    public init?(text: String) {
        guard text.hasPrefix(Self.prefix), let data = Data(base64Encoded: String(text.dropFirst(Self.prefix.count))),
              Self.byteRange.contains(data.count)
        else { return nil }
        bytes = Array(data)
    }

    public var description: String { "whsec_<redacted>" }
    public var debugDescription: String { description }
}

/// Where a sink's notifications go, and how they are written.
public enum NotificationSinkKind: String, Sendable, Hashable, CaseIterable {
    /// A JSON body signed per Standard Webhooks.
    case webhook
    /// A Slack incoming webhook: a message with text and blocks, unsigned (the URL is the credential).
    case slack
}

/// One configured destination. The URL and secret are resolved when the bundle loads (from the
/// file, an environment variable or a file beside it), so a missing secret stops the bundle
/// from loading instead of silently dropping notifications later.
public struct NotificationSink: Sendable, Hashable {
    public var name: String
    public var kind: NotificationSinkKind
    /// An absolute http or https URL. A Slack URL is a credential: never log it.
    public var url: String
    /// Present for webhooks, absent for Slack.
    public var secret: WebhookSecret?
    public var location: SourceLocation

    public init(name: String, kind: NotificationSinkKind, url: String, secret: WebhookSecret? = nil, location: SourceLocation) {
        self.name = name
        self.kind = kind
        self.url = url
        self.secret = secret
        self.location = location
    }

    /// Sink names are lowercase letters, digits, '.', '_' and '-' (they appear in the outbox,
    /// audit records and log metadata), at most 64 of them.
    public static func isValidName(_ name: String) -> Bool {
        UpstreamDefinition.isValidID(name)
    }

    /// Absolute http or https with a host, no user information (it would end up in logs) and
    /// no fragment (never sent).
    public static func isAcceptableURL(_ text: String) -> Bool {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "https" || scheme == "http", let host = components.host, !host.isEmpty,
              components.user == nil, components.password == nil, components.fragment == nil
        else { return false }
        return true
    }
}

/// Which notifications a route sends where: events it names (or all), optionally only for
/// some roles.
public struct NotificationRoute: Sendable, Hashable {
    /// Nil: every event (`["*"]` in the file).
    public var events: Set<NotificationEventKind>?
    /// Nil: every role.
    public var roles: Set<String>?
    public var sinks: [String]
    public var location: SourceLocation

    public init(events: Set<NotificationEventKind>?, roles: Set<String>? = nil, sinks: [String], location: SourceLocation) {
        self.events = events
        self.roles = roles
        self.sinks = sinks
        self.location = location
    }

    /// Whether a notification of `event` about `role` takes this route. A route limited to
    /// roles never matches an event without one.
    public func matches(_ event: NotificationEventKind, role: String?) -> Bool {
        guard events.map({ $0.contains(event) }) ?? true else { return false }
        guard let roles else { return true }
        return role.map(roles.contains) ?? false
    }
}

/// `policies/notifications.yaml`: where notifications of requests, approvals, activations and
/// break-glass uses go. A missing file is no sinks and no routes: nothing is sent.
public struct NotificationSettings: Sendable, Hashable {
    public static let fileName = "notifications.yaml"
    public static let defaultExpiryWarningSeconds = 300
    public static let defaultAssignmentExpiryWarningSeconds = 3 * 86_400

    /// How long before an activation ends its `activation.expiring` notice is written.
    public var expiryWarningSeconds: Int
    /// How long before an eligibility assignment ends its `eligibility.expiring` notice is written.
    public var assignmentExpiryWarningSeconds = defaultAssignmentExpiryWarningSeconds
    /// In file order.
    public var sinks: [NotificationSink]
    public var routes: [NotificationRoute]
    /// Sinks that receive every break-glass notification, whatever the routes say.
    public var securitySinks: [String]
    /// Where it was read from; nil without a file.
    public var location: SourceLocation?

    public init(expiryWarningSeconds: Int = defaultExpiryWarningSeconds, sinks: [NotificationSink] = [],
                routes: [NotificationRoute] = [], securitySinks: [String] = [], location: SourceLocation? = nil) {
        self.expiryWarningSeconds = expiryWarningSeconds
        self.sinks = sinks
        self.routes = routes
        self.securitySinks = securitySinks
        self.location = location
    }

    public func sink(named name: String) -> NotificationSink? {
        sinks.first { $0.name == name }
    }

    /// The sinks a notification goes to, each once, in file order: every sink of every matching
    /// route, and the security sinks when it concerns break-glass.
    public func sinks(for event: NotificationEventKind, role: String?, breakGlass: Bool) -> [NotificationSink] {
        var names = Set(routes.filter { $0.matches(event, role: role) }.flatMap(\.sinks))
        if breakGlass || event == .breakGlassUsed { names.formUnion(securitySinks) }
        return sinks.filter { names.contains($0.name) }
    }
}

extension PolicyBundle {
    /// Parses the text of a `notifications.yaml`. `directory` resolves `secret_file` and
    /// `url_file`; `environment` answers `secret_env` and `url_env`. With `roles`, a route
    /// naming a role outside it is refused: a misspelt role would silently route nothing.
    public static func parseNotifications(_ text: String, file: String, directory: String, roles: Set<String>? = nil,
                                          environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(PolicyError) -> NotificationSettings
    {
        guard let root = try parseYAMLDocument(text, file: file), !root.isNull else {
            return NotificationSettings(location: SourceLocation(file: file))
        }
        return try NotificationSettings(field: root, secrets: SecretResolver(directory: directory, environment: environment), roles: roles)
    }
}

/// Reads the values a sink keeps outside the file: environment variables and files beside it.
struct SecretResolver {
    let directory: String
    let environment: [String: String]

    func environmentValue(_ field: YAMLField) throws(PolicyError) -> String {
        let name = try field.nonEmptyString()
        guard let value = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
            throw field.error("the environment variable \(name) is not set (or empty)")
        }
        return value
    }

    func fileValue(_ field: YAMLField) throws(PolicyError) -> String {
        let name = try field.nonEmptyString()
        let path = name.hasPrefix("/") ? name : (directory as NSString).appendingPathComponent(name)
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw field.error("cannot read \(path): \(error.localizedDescription)")
        }
        let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !value.isEmpty else { throw field.error("\(path) is empty") }
        return value
    }
}

extension NotificationSettings {
    static let fields: Set<String> = ["expiry_warning", "assignment_expiry_warning", "sinks", "routes", "security_sinks"]
    static let sinkFields: Set<String> = ["type", "url", "url_env", "url_file", "secret_env", "secret_file"]
    static let routeFields: Set<String> = ["events", "roles", "sinks"]

    init(field: YAMLField, secrets: SecretResolver, roles: Set<String>?) throws(PolicyError) {
        let members = try field.mapping(allowed: Self.fields)
        self.init(location: field.location)
        if let warningField = members["expiry_warning"] {
            expiryWarningSeconds = try warningField.durationSeconds()
            guard expiryWarningSeconds > 0 else { throw warningField.error("must be longer than 0s") }
        }
        if let warningField = members["assignment_expiry_warning"] {
            assignmentExpiryWarningSeconds = try warningField.durationSeconds()
            guard assignmentExpiryWarningSeconds > 0 else { throw warningField.error("must be longer than 0s") }
        }
        if let sinksField = members["sinks"], !sinksField.isNull {
            for (name, sinkField) in try sinksField.entries() {
                sinks.append(try Self.sink(named: name, field: sinkField, secrets: secrets))
            }
        }
        let known = Set(sinks.map(\.name))
        if let routesField = members["routes"], !routesField.isNull {
            for element in try routesField.sequence() {
                routes.append(try Self.route(element, sinks: known, roles: roles))
            }
        }
        if let securityField = members["security_sinks"], !securityField.isNull {
            securitySinks = try Self.sinkNames(securityField, known: known)
        }
    }

    private static func sink(named name: String, field: YAMLField, secrets: SecretResolver) throws(PolicyError) -> NotificationSink {
        guard NotificationSink.isValidName(name) else {
            throw field.error("sink names use lowercase letters, digits, '.', '_' and '-' only (at most 64)")
        }
        let members = try field.mapping(allowed: sinkFields)
        guard let typeField = members["type"] else {
            throw field.error("sink \"\(name)\" needs a type: webhook or slack")
        }
        let typeName = try typeField.nonEmptyString()
        guard let kind = NotificationSinkKind(rawValue: typeName) else {
            throw typeField.error("unknown sink type \"\(typeName)\"; expected webhook or slack")
        }

        let urlSources = ["url", "url_env", "url_file"].filter { members[$0] != nil }
        guard urlSources.count == 1 else {
            throw field.error("sink \"\(name)\" needs exactly one of url, url_env or url_file"
                + (urlSources.isEmpty ? "" : "; it has \(urlSources.joined(separator: ", "))"))
        }
        let urlField = members[urlSources[0]]!
        let url: String
        switch urlSources[0] {
        case "url": url = try urlField.nonEmptyString()
        case "url_env": url = try secrets.environmentValue(urlField)
        default: url = try secrets.fileValue(urlField)
        }
        // The value is not repeated in the message: from url_env or url_file it is a credential.
        guard NotificationSink.isAcceptableURL(url) else {
            throw urlField.error("the sink URL must be an absolute http or https URL, without user information or fragment")
        }

        let secretSources = ["secret_env", "secret_file"].filter { members[$0] != nil }
        var secret: WebhookSecret?
        switch kind {
        case .slack:
            guard secretSources.isEmpty else {
                throw members[secretSources[0]]!.error("a slack sink is not signed (its URL is the credential); remove \(secretSources[0])")
            }
        case .webhook:
            guard secretSources.count == 1 else {
                throw field.error("webhook sink \"\(name)\" needs exactly one of secret_env or secret_file (a whsec_ signing secret)"
                    + (secretSources.isEmpty ? "" : "; it has both"))
            }
            let secretField = members[secretSources[0]]!
            let text = secretSources[0] == "secret_env" ? try secrets.environmentValue(secretField) : try secrets.fileValue(secretField)
            guard let parsed = WebhookSecret(text: text) else {
                throw secretField.error("the secret must be whsec_ followed by the base64 of \(WebhookSecret.byteRange.lowerBound) to "
                    + "\(WebhookSecret.byteRange.upperBound) random bytes (for example: echo whsec_$(openssl rand -base64 32))")
            }
            secret = parsed
        }
        return NotificationSink(name: name, kind: kind, url: url, secret: secret, location: field.location)
    }

    private static func route(_ field: YAMLField, sinks known: Set<String>, roles knownRoles: Set<String>?) throws(PolicyError)
        -> NotificationRoute
    {
        let members = try field.mapping(allowed: routeFields)
        guard let eventsField = members["events"] else {
            throw field.error("a route needs events: a list of event names, or [\"*\"] for all")
        }
        let names = try eventsField.stringList()
        guard !names.isEmpty else { throw eventsField.error("needs at least one event, or \"*\" for all") }
        var events: Set<NotificationEventKind>? = []
        for name in names {
            if name == "*" {
                events = nil
            } else if let event = NotificationEventKind(rawValue: name) {
                events?.insert(event)
            } else {
                let all = NotificationEventKind.allCases.map(\.rawValue).joined(separator: ", ")
                throw eventsField.error("unknown event \"\(name)\"; expected \"*\" or some of: \(all)")
            }
        }
        var roles: Set<String>?
        if let rolesField = members["roles"], !rolesField.isNull {
            let list = try rolesField.stringList()
            guard !list.isEmpty else { throw rolesField.error("needs at least one role; leave roles out for every role") }
            if let knownRoles, let unknown = list.first(where: { !knownRoles.contains($0) }) {
                throw rolesField.error("unknown role \"\(unknown)\"; no file of roles/ declares it")
            }
            roles = Set(list)
        }
        guard let sinksField = members["sinks"] else { throw field.error("a route needs sinks: the names of sinks it sends to") }
        let sinks = try sinkNames(sinksField, known: known)
        guard !sinks.isEmpty else { throw sinksField.error("needs at least one sink") }
        return NotificationRoute(events: events, roles: roles, sinks: sinks, location: field.location)
    }

    private static func sinkNames(_ field: YAMLField, known: Set<String>) throws(PolicyError) -> [String] {
        let names = try field.stringList()
        if let unknown = names.first(where: { !known.contains($0) }) {
            let declared = known.isEmpty ? "none is declared" : "declared: " + known.sorted().joined(separator: ", ")
            throw field.error("unknown sink \"\(unknown)\"; \(declared)")
        }
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }
}
